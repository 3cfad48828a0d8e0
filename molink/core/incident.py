"""Incidents: each party's own account, side by side, on one timeline nobody can rewrite.

Every change is a signed object by one party (DESIGN.md: everything is a message):

* ``incident.file``     opens an incident on a channel (with the filer's first account);
* ``incident.account``  a party's account; a later one by the same party supersedes its
  earlier one for display, but every version is kept and logged;
* ``incident.comment``  a comment;
* ``incident.status``   ``under_discussion`` (any party) or ``closed`` (the channel's rule:
  every voting member must ask to close);
* ``incident.rfe`` / ``incident.rfe_reply``  a request for explanation (Vienna Document
  style: reply within 48 h by default) and its reply, linked by ``rfe``.

Every object but ``incident.file`` carries ``ref``: the incident id (the id of its
``incident.file`` object).

This module validates those payloads and folds them into the incident's state. The rule
that a party cannot alter the other party's account holds by construction: an account
is keyed by its signer, and only the signer's own key can produce one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from molink.core.dtg import parse_utc
from molink.errors import Forbidden, InvalidInput, StateConflict

__all__ = [
    "DEFAULT_RFE_DEADLINE",
    "INCIDENT_TYPES",
    "Account",
    "IncidentEvent",
    "IncidentState",
    "apply_incident_event",
    "check_account",
    "fold",
]

INCIDENT_TYPES = (
    "incident.file",
    "incident.account",
    "incident.comment",
    "incident.status",
    "incident.rfe",
    "incident.rfe_reply",
)
DEFAULT_RFE_DEADLINE = timedelta(hours=48)
STATUSES = ("open", "under_discussion", "closed")
_MAX_TEXT = 16_000


def _text(value: Any, name: str, *, limit: int = _MAX_TEXT, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise InvalidInput(f"{name}: text of 1 to {limit} characters required")
    return value


def check_account(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validate an account: time or window, location, assets, narrative, attachments."""
    start = parse_utc(_text(fields.get("time_start"), "time_start", limit=40))
    end_text = fields.get("time_end")
    end = parse_utc(_text(end_text, "time_end", limit=40)) if end_text else start
    if end < start:
        raise InvalidInput("time_end: the window ends before it starts")
    location = fields.get("location")
    if not isinstance(location, dict) or location.get("type") not in ("Point", "Polygon"):
        raise InvalidInput("location: a GeoJSON Point or Polygon is required")
    coords = location.get("coordinates")
    if not isinstance(coords, list) or not coords:
        raise InvalidInput("location.coordinates: missing")
    assets = fields.get("assets", [])
    if (
        not isinstance(assets, list)
        or len(assets) > 50
        or not all(isinstance(a, str) and 0 < len(a) <= 200 for a in assets)
    ):
        raise InvalidInput("assets: up to 50 strings of 1-200 characters")
    attachments = fields.get("attachments", [])
    if not isinstance(attachments, list) or len(attachments) > 20:
        raise InvalidInput("attachments: up to 20")
    for i, att in enumerate(attachments):
        if (
            not isinstance(att, dict)
            or not isinstance(att.get("sha256"), str)
            or len(att["sha256"]) != 64
        ):
            raise InvalidInput(f"attachments[{i}]: needs sha256, name, media_type, size")
    return {
        "time_start": fields["time_start"],
        "time_end": end_text or fields["time_start"],
        "location": location,
        "assets": list(assets),
        "narrative": _text(fields.get("narrative"), "narrative"),
        "attachments": list(attachments),
    }


@dataclass(frozen=True, slots=True)
class Account:
    party: str
    version: int
    fields: Mapping[str, Any]
    message_id: str
    created: str


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """One signed incident object, as stored (already signature-verified)."""

    type: str
    party: str
    message_id: str
    created: str
    fields: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class IncidentState:
    id: str
    channel: str
    title: str
    precedence: str
    filed_by: str
    filed_at: str
    voters: frozenset[str]
    status: str = "open"
    accounts: Mapping[str, tuple[Account, ...]] = field(default_factory=dict)
    comments: tuple[IncidentEvent, ...] = ()
    close_votes: frozenset[str] = frozenset()
    rfes: Mapping[str, IncidentEvent] = field(default_factory=dict)
    replies: Mapping[str, IncidentEvent] = field(default_factory=dict)
    history: tuple[IncidentEvent, ...] = ()

    def latest_accounts(self) -> dict[str, Account]:
        return {party: versions[-1] for party, versions in self.accounts.items() if versions}


def apply_incident_event(state: IncidentState, event: IncidentEvent) -> IncidentState:
    if event.party not in state.voters and event.type != "incident.comment":
        raise Forbidden(f"{event.party} is not a party to incident {state.id}")
    if state.status == "closed":
        raise StateConflict(f"incident {state.id} is closed")
    history = (*state.history, event)
    if event.type == "incident.account":
        versions = state.accounts.get(event.party, ())
        account = Account(
            event.party,
            len(versions) + 1,
            check_account(event.fields),
            event.message_id,
            event.created,
        )
        accounts = {**state.accounts, event.party: (*versions, account)}
        status = "under_discussion" if len(accounts) > 1 else state.status
        return replace(state, accounts=accounts, status=status, history=history)
    if event.type == "incident.comment":
        _text(event.fields.get("text"), "text")
        return replace(state, comments=(*state.comments, event), history=history)
    if event.type == "incident.status":
        return _status(state, event, history)
    if event.type == "incident.rfe":
        _text(event.fields.get("question"), "question")
        return replace(state, rfes={**state.rfes, event.message_id: event}, history=history)
    if event.type == "incident.rfe_reply":
        ref = str(event.fields.get("rfe"))
        if ref not in state.rfes:
            raise InvalidInput(f"ref: no request for explanation {ref} on this incident")
        if state.rfes[ref].party == event.party:
            raise Forbidden("a party does not answer its own request for explanation")
        _text(event.fields.get("text"), "text")
        return replace(state, replies={**state.replies, ref: event}, history=history)
    raise InvalidInput(f"unknown incident object type {event.type!r}")


def _status(
    state: IncidentState, event: IncidentEvent, history: tuple[IncidentEvent, ...]
) -> IncidentState:
    wanted = event.fields.get("status")
    if wanted == "under_discussion":
        return replace(state, status="under_discussion", history=history)
    if wanted == "closed":
        votes = state.close_votes | {event.party}
        if votes >= state.voters:
            return replace(state, status="closed", close_votes=votes, history=history)
        return replace(state, close_votes=votes, history=history)
    raise InvalidInput("status: under_discussion or closed")


def fold(
    filed: IncidentEvent, voters: Iterable[str], events: Iterable[IncidentEvent]
) -> tuple[IncidentState, list[tuple[IncidentEvent, str]]]:
    """The incident's state from its signed objects in stored order.

    Returns the state and the events the rule refused (kept as evidence, with reasons).
    """
    fields = filed.fields
    state = IncidentState(
        id=filed.message_id,
        channel=str(fields.get("channel", "")),
        title=_text(fields.get("title"), "title", limit=300),
        precedence=str(fields.get("precedence", "ROUTINE")),
        filed_by=filed.party,
        filed_at=filed.created,
        voters=frozenset(voters),
        history=(filed,),
    )
    if isinstance(fields.get("account"), dict):
        first = IncidentEvent(
            "incident.account", filed.party, filed.message_id, filed.created, fields["account"]
        )
        state = replace(apply_incident_event(state, first), history=(filed,))
    refused: list[tuple[IncidentEvent, str]] = []
    for event in events:
        try:
            state = apply_incident_event(state, event)
        except (InvalidInput, Forbidden, StateConflict) as exc:
            refused.append((event, exc.message))
    return state, refused
