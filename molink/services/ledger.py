"""The confidence-building ledger: propose and agree terms, submit lists, confirm
handovers, reconcile, and sign a completion record witnessed by the mediators.

All of it is signed objects on the agreement's channel (see core.ledger), folded the
same way on every node. Names in lists are optional and are sealed (JWE) to the
receiving party; the log holds only hashes and counts.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, or_, select

from molink.core.canonical import canonical_json
from molink.core.jose import JweRecipientKey, jwe_seal
from molink.core.ledger import (
    LEDGER_TYPES,
    check_handover,
    check_list,
    check_terms,
    completion_record,
    reconcile,
)
from molink.core.precedence import Precedence
from molink.errors import Forbidden, InvalidInput, NotFound, StateConflict
from molink.services.channels import get_channel
from molink.services.context import NodeContext
from molink.services.messaging import MessagingService
from molink.services.queries import iso
from molink.storage.schema import messages

__all__ = ["LedgerService"]


def _sha(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


class LedgerService:
    def __init__(self, ctx: NodeContext, messaging: MessagingService) -> None:
        self._ctx = ctx
        self._messaging = messaging

    def _others(self, conn: Connection, channel: str) -> list[str]:
        row = get_channel(conn, channel)
        if row is None:
            raise InvalidInput(f"channel: unknown channel {channel!r}")
        return sorted(set(row.members) - {self._ctx.party})

    def _send(
        self,
        type_: str,
        channel: str,
        fields: dict[str, Any],
        *,
        ref: str | None,
        operator: str,
        summary: str,
    ) -> str:
        with self._ctx.db.read() as conn:
            others = self._others(conn, channel)
        return self._messaging.send_object(
            type_,
            to=others,
            precedence=Precedence.IMMEDIATE,
            channel=channel,
            fields=fields,
            ref=ref,
            summary=summary,
            operator=operator,
        ).id

    def propose(self, *, channel: str, terms: dict[str, Any], operator: str) -> dict[str, Any]:
        checked = check_terms(terms)
        fields = {**checked, "channel": channel, "terms_sha256": _sha(checked)}
        agreement_id = self._send(
            "ledger.agree",
            channel,
            fields,
            ref=None,
            operator=operator,
            summary=f"agreement proposed: {checked['title']}",
        )
        return self.view(agreement_id)

    def agree(self, agreement_id: str, *, operator: str) -> dict[str, Any]:
        state = self._state(agreement_id)
        if self._ctx.party not in state["terms"]["parties"] + state["terms"]["mediators"]:
            raise Forbidden(f"{self._ctx.party} is not a party to this agreement")
        self._send(
            "ledger.agree",
            state["channel"],
            {"terms_sha256": state["terms_sha256"]},
            ref=agreement_id,
            operator=operator,
            summary="agrees to the terms",
        )
        return self.view(agreement_id)

    def submit_list(
        self, agreement_id: str, records: list[dict[str, Any]], *, operator: str
    ) -> dict[str, Any]:
        """Submit the list of people this party hands over; names are sealed, never logged."""
        state = self._state(agreement_id)
        sealed = [self._seal_name(r) for r in records]
        check_list({"records": sealed}, state["terms"]["parties"])
        self._send(
            "ledger.list",
            state["channel"],
            {"records": sealed},
            ref=agreement_id,
            operator=operator,
            summary=f"list of {len(sealed)} records",
        )
        return self.view(agreement_id)

    def _seal_name(self, record: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in record.items() if k != "name"}
        name = record.get("name")
        if isinstance(name, str) and name.strip():
            to = self._ctx.directory().current(str(record.get("to")))
            out["name_jwe"] = jwe_seal(
                name.encode("utf-8"),
                [JweRecipientKey(to.enc_kid, to.enc_public)],
                aad=str(record.get("pid", "")).encode(),
                random=self._ctx.random,
            )
        return out

    def handover(
        self,
        agreement_id: str,
        *,
        handed_over: dict[str, int],
        received: dict[str, int],
        operator: str,
    ) -> dict[str, Any]:
        state = self._state(agreement_id)
        fields = check_handover({"handed_over": handed_over, "received": received})
        self._send(
            "ledger.handover",
            state["channel"],
            fields,
            ref=agreement_id,
            operator=operator,
            summary="handover confirmed",
        )
        return self.view(agreement_id)

    def sign(self, agreement_id: str, *, operator: str) -> dict[str, Any]:
        """Sign the completion record (a party) or witness it (a mediator)."""
        state = self._state(agreement_id)
        if not state["reconciliation"].complete:
            raise StateConflict(
                "the exchange does not reconcile yet: "
                f"{len(state['reconciliation'].discrepancies)} discrepancies, "
                "or lists/handovers missing"
            )
        terms = state["terms"]
        role = (
            "party"
            if self._ctx.party in terms["parties"]
            else ("witness" if self._ctx.party in terms["mediators"] else None)
        )
        if role is None:
            raise Forbidden(f"{self._ctx.party} neither signs nor witnesses this agreement")
        self._send(
            "ledger.sign",
            state["channel"],
            {"record_sha256": state["record_sha256"], "role": role},
            ref=agreement_id,
            operator=operator,
            summary=f"completion record {role} signature",
        )
        return self.view(agreement_id)

    # ----------------------------------------------------------------- state
    def _rows(self, agreement_id: str) -> list[Any]:
        with self._ctx.db.read() as conn:
            return list(
                conn.execute(
                    select(messages)
                    .where(
                        messages.c.type.in_(LEDGER_TYPES),
                        or_(messages.c.id == agreement_id, messages.c.ref == agreement_id),
                    )
                    .order_by(messages.c.created, messages.c.sender, messages.c.seq)
                )
            )

    def _state(self, agreement_id: str) -> dict[str, Any]:
        rows = self._rows(agreement_id)
        first = next((r for r in rows if r.id == agreement_id), None)
        if first is None or first.type != "ledger.agree":
            raise NotFound(f"no agreement {agreement_id}")
        content = first.content or {}
        terms = check_terms(content)
        sha = content.get("terms_sha256")
        agreed = {first.sender} | {
            r.sender
            for r in rows
            if r.type == "ledger.agree" and (r.content or {}).get("terms_sha256") == sha
        }
        lists: dict[str, list[dict[str, Any]]] = {}
        list_hashes: dict[str, str] = {}
        handovers: dict[str, dict[str, dict[str, int]]] = {}
        handover_ids: dict[str, str] = {}
        for r in rows:
            c = r.content or {}
            if r.type == "ledger.list" and r.sender in terms["parties"]:
                lists[r.sender] = check_list(c, terms["parties"])
                list_hashes[r.sender] = r.jws_sha256
            elif r.type == "ledger.handover" and r.sender in terms["parties"]:
                handovers[r.sender] = check_handover(c)
                handover_ids[r.sender] = r.id
        recon = reconcile(terms, lists, handovers)
        record, record_sha = completion_record(
            agreement_id, terms, list_hashes, handover_ids, recon
        )
        signatures = {
            r.sender: {
                "role": (r.content or {}).get("role"),
                "message_id": r.id,
                "jws_sha256": r.jws_sha256,
                "created": iso(r.created),
            }
            for r in rows
            if r.type == "ledger.sign" and (r.content or {}).get("record_sha256") == record_sha
        }
        return {
            "id": agreement_id,
            "channel": first.channel,
            "terms": terms,
            "terms_sha256": sha,
            "agreed_by": sorted(agreed),
            "lists": lists,
            "handovers": handovers,
            "reconciliation": recon,
            "record": record,
            "record_sha256": record_sha,
            "signatures": signatures,
            "message_ids": [r.id for r in rows],
        }

    def view(self, agreement_id: str) -> dict[str, Any]:
        s = self._state(agreement_id)
        terms = s["terms"]
        parties_signed = all(p in s["signatures"] for p in terms["parties"])
        witnessed = any(
            s["signatures"].get(m, {}).get("role") == "witness" for m in terms["mediators"]
        )
        in_force = all(p in s["agreed_by"] for p in terms["parties"])
        return {
            "id": s["id"],
            "channel": s["channel"],
            "title": terms["title"],
            "kind": terms["kind"],
            "parties": terms["parties"],
            "mediators": terms["mediators"],
            "terms": terms["terms"],
            "agreed_by": s["agreed_by"],
            "in_force": in_force,
            "lists": {
                p: {"records": len(v), "pids": [r["pid"] for r in v]} for p, v in s["lists"].items()
            },
            "handovers": s["handovers"],
            "reconciliation": s["reconciliation"].to_json(),
            "completion": {
                "record": s["record"],
                "record_sha256": s["record_sha256"],
                "signatures": s["signatures"],
                "complete": in_force and parties_signed and witnessed,
            },
        }

    def listing(self) -> list[dict[str, Any]]:
        with self._ctx.db.read() as conn:
            ids = [
                r.id
                for r in conn.execute(
                    select(messages.c.id)
                    .where(messages.c.type == "ledger.agree", messages.c.ref.is_(None))
                    .order_by(messages.c.created.desc())
                )
            ]
        return [self.view(i) for i in ids]

    def export(self, agreement_id: str) -> dict[str, Any]:
        """The whole agreement: the view plus every signed object as compact JWS."""
        view = self.view(agreement_id)
        rows = self._rows(agreement_id)
        return {
            "format": "molink-ledger-export/1",
            "agreement": view,
            "signed_objects": [
                {"id": r.id, "type": r.type, "from": r.sender, "jws": r.jws} for r in rows
            ],
        }
