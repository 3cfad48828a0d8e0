"""Operator API: activity notifications, protected sites and conflicts (DESIGN.md
"Deconfliction"; ``POST /api/v1/notifications`` is a contract)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from molink.api.deps import RuntimeDep, require
from molink.core import notices
from molink.errors import InvalidInput, NotFound
from molink.services.decon_state import DeconState
from molink.services.decon_templates import templates
from molink.services.decon_views import conflict_json, notification_json, site_json
from molink.storage.operators import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["deconfliction"])
Reader = Annotated[Principal, require("notification.read")]
Filer = Annotated[Principal, require("notification.file")]
JsonBody = Annotated[dict[str, Any], Body()]


class Resolve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other: str | None = Field(default=None, max_length=64)
    option: Literal["suggested", "time", "altitude"] = "suggested"


@router.post("/notifications", status_code=201)
def file_notification(feature: JsonBody, runtime: RuntimeDep, who: Filer) -> dict[str, Any]:
    """File a notification: a GeoJSON Feature with properties ``kind``, ``start``, ``end``,
    ``lower_m``, ``upper_m``, ``radius_m`` (Point) or ``width_m`` (LineString), ``title``,
    ``to`` and the kind's particulars. Answers ``{"id", "conflicts": [...]}``; a late
    notification is accepted and flagged (``late``)."""
    svc = runtime.deconfliction
    return svc.checked_json(svc.file(feature, operator=who.pseudonym))


@router.get("/notifications")
def list_notifications(
    runtime: RuntimeDep,
    _: Reader,
    party: Annotated[str | None, Query(max_length=16)] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    cancelled: bool = False,
) -> dict[str, Any]:
    """Notifications this node holds (its own and received), as GeoJSON Features."""

    def build(state: DeconState) -> dict[str, Any]:
        items = [
            notification_json(n, state)
            for n in state
            if (party is None or n.sender == party)
            and (kind is None or (n.feature.get("properties") or {}).get("kind") == kind)
            and (cancelled or not n.cancelled)
        ]
        return {"items": items}

    return runtime.deconfliction.read(build)


@router.get("/notifications/schema")
def notification_schema(_: Reader) -> dict[str, Any]:
    """JSON Schema (2020-12) of every catalogue kind's particulars."""
    return notices.notice_json_schema()


@router.get("/notifications/templates")
def notification_templates(runtime: RuntimeDep, _: Reader) -> dict[str, Any]:
    """One example Feature per kind, with its minimum notice and its rendering in en/ru/uk."""
    return {"items": templates(runtime.ctx.clock.now(), party=runtime.ctx.party)}


@router.get("/notifications/{notification_id}")
def get_notification(notification_id: str, runtime: RuntimeDep, _: Reader) -> dict[str, Any]:
    """One notification with its conflicts and its rendering in English, Russian, Ukrainian."""

    def build(state: DeconState) -> dict[str, Any]:
        note = state.notes.get(notification_id)
        if note is None:
            raise NotFound(f"no notification {notification_id}")
        return notification_json(note, state, full=True)

    return runtime.deconfliction.read(build)


@router.get("/notifications/{notification_id}/text", response_class=PlainTextResponse)
def render_notification(
    notification_id: str,
    runtime: RuntimeDep,
    _: Reader,
    lang: Annotated[str, Query(max_length=2)] = "en",
) -> str:
    """The numbered message in ``lang`` (en, ru, uk)."""
    if lang not in notices.LANGS:
        raise InvalidInput("lang: one of en, ru, uk")
    view = get_notification(notification_id, runtime, _)
    rendered = view.get("rendered")
    if not rendered:
        raise NotFound(f"notification {notification_id} does not validate on this node")
    return str(rendered[lang])


@router.put("/notifications/{notification_id}")
def amend_notification(
    notification_id: str, feature: JsonBody, runtime: RuntimeDep, who: Filer
) -> dict[str, Any]:
    """A new revision of one of our notifications; it is checked again on every node."""
    svc = runtime.deconfliction
    return svc.checked_json(svc.amend(notification_id, feature, operator=who.pseudonym))


@router.post("/notifications/{notification_id}/cancel")
def cancel_notification(notification_id: str, runtime: RuntimeDep, who: Filer) -> dict[str, Any]:
    svc = runtime.deconfliction
    return svc.checked_json(svc.cancel(notification_id, operator=who.pseudonym))


@router.post("/notifications/{notification_id}/resolve")
def resolve_conflict(
    notification_id: str, req: Resolve, runtime: RuntimeDep, who: Filer
) -> dict[str, Any]:
    """Apply a conflict's suggested resolution (or its time or altitude option) to our
    notification, as a new revision; the answer lists what conflicts remain."""
    svc = runtime.deconfliction
    checked = svc.resolve(
        notification_id, other=req.other, option=req.option, operator=who.pseudonym
    )
    return svc.checked_json(checked)


@router.get("/conflicts")
def list_conflicts(
    runtime: RuntimeDep,
    _: Reader,
    geometry: bool = True,
) -> dict[str, Any]:
    """The current conflict set, sorted: identical on every node holding the same objects."""

    def build(state: DeconState) -> dict[str, Any]:
        items = []
        for c in state.all_conflicts():
            item = conflict_json(c, state)
            if geometry:
                item["overlap"] = state.overlap(c)
            items.append(item)
        return {"items": items}

    return runtime.deconfliction.read(build)


@router.post("/sites", status_code=201)
def declare_site(body: JsonBody, runtime: RuntimeDep, who: Filer) -> dict[str, Any]:
    """Declare a protected site: ``name``, ``kind``, ``geometry`` (Point + ``radius_m``, or a
    Polygon), ``source``; optional ``ceiling_m``, ``start``/``end``, ``to``, ``channel``."""
    svc = runtime.deconfliction
    return svc.checked_json(svc.declare_site(body, operator=who.pseudonym))


@router.get("/sites")
def list_sites(runtime: RuntimeDep, _: Reader) -> dict[str, Any]:
    """Protected sites with provenance and verification status ("confirmed by N parties")."""

    def build(state: DeconState) -> dict[str, Any]:
        return {"items": [site_json(r, state) for r in state.sites.values()]}

    return runtime.deconfliction.read(build)


@router.get("/sites/{site_id}")
def get_site(site_id: str, runtime: RuntimeDep, _: Reader) -> dict[str, Any]:
    def build(state: DeconState) -> dict[str, Any]:
        record = state.sites.get(site_id)
        if record is None:
            raise NotFound(f"no protected site {site_id}")
        out = site_json(record, state)
        out["conflicts"] = [conflict_json(c, state) for c in state.conflicts_of(site_id)]
        return out

    return runtime.deconfliction.read(build)


@router.post("/sites/{site_id}/confirm")
def confirm_site(site_id: str, runtime: RuntimeDep, who: Filer) -> dict[str, Any]:
    """Vouch for another party's site; every node then shows it confirmed by one more."""
    runtime.deconfliction.confirm_site(site_id, operator=who.pseudonym)
    return get_site(site_id, runtime, who)
