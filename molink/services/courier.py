"""The offline courier: pending envelopes and receipts carried on a file.

``export_for(peer)`` writes every envelope still pending for that peer, plus the
receipts this node issued for what that peer sent it (so receipts travel back the same
way). ``import_file`` ingests a file with exactly the same verification and receipts as
the network path; duplicates do no harm.

File format ``molink-courier/1`` (JSON): ``{"format", "from", "to", "created",
"envelopes": [<JWE>...], "receipts": [<compact JWS>...]}``. The file itself needs no
signature: every envelope and receipt in it is signed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from molink.core.canonical import canonical_json, parse_json
from molink.core.receipt import verify_receipt
from molink.errors import MalformedData, MolinkError
from molink.services.context import NodeContext
from molink.services.inbound import InboundService
from molink.services.outbox import record_receipt
from molink.services.queries import iso
from molink.storage.db import micros
from molink.storage.schema import messages

__all__ = ["FORMAT", "CourierService"]

FORMAT = "molink-courier/1"
MAX_ITEMS = 10_000


class CourierService:
    def __init__(self, ctx: NodeContext, inbound: InboundService) -> None:
        self._ctx = ctx
        self._inbound = inbound

    def export_for(self, peer: str, *, receipts_since: timedelta = timedelta(days=30)) -> bytes:
        ctx = self._ctx
        with ctx.db.read() as conn:
            ctx.peers.get(conn, peer)
            pending = ctx.messages.due(conn, peer, 2**62, MAX_ITEMS)
            since = micros(ctx.clock.now() - receipts_since)
            receipts = [
                r.receipt
                for r in conn.execute(
                    select(messages.c.receipt)
                    .where(
                        messages.c.direction == "in",
                        messages.c.sender == peer,
                        messages.c.stored >= since,
                        messages.c.receipt.is_not(None),
                    )
                    .order_by(messages.c.stored)
                    .limit(MAX_ITEMS)
                )
            ]
        return canonical_json(
            {
                "format": FORMAT,
                "from": ctx.party,
                "to": peer,
                "created": iso(ctx.now_us()),
                "envelopes": [d.envelope for d in pending],
                "receipts": receipts,
            }
        )

    def import_file(self, data: bytes) -> dict[str, Any]:
        body = parse_json(data)
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise MalformedData(f"not a {FORMAT} file")
        if body.get("to") != self._ctx.party:
            raise MalformedData(f"courier file is for {body.get('to')}, not {self._ctx.party}")
        envelopes, receipts = body.get("envelopes"), body.get("receipts")
        if not isinstance(envelopes, list) or not isinstance(receipts, list):
            raise MalformedData("courier file needs 'envelopes' and 'receipts' arrays")
        if len(envelopes) > MAX_ITEMS or len(receipts) > MAX_ITEMS:
            raise MalformedData(f"at most {MAX_ITEMS} items per courier file")
        results = self._inbound.receive([e for e in envelopes if isinstance(e, dict)])
        applied, refused = self._apply_receipts(receipts)
        return {
            "stored": sum(r.status == "stored" for r in results),
            "duplicates": sum(r.status == "duplicate" for r in results),
            "rejected": [r.to_json() for r in results if r.status == "rejected"],
            "receipts_applied": applied,
            "receipts_refused": refused,
        }

    def _apply_receipts(self, receipts: list[Any]) -> tuple[int, list[str]]:
        ctx = self._ctx
        applied, refused = 0, []
        directory = ctx.directory()
        with ctx.db.write() as conn:
            for text in receipts:
                try:
                    if not isinstance(text, str):
                        raise MalformedData("a receipt is a compact JWS string")
                    receipt = verify_receipt(text, directory)
                    row = ctx.messages.find(conn, receipt.message_id)
                    if row is None or row.direction != "out":
                        continue  # a receipt for someone else's message
                    if row.jws_sha256 != receipt.jws_sha256:
                        raise MalformedData("receipt covers content we did not send")
                except MolinkError as exc:
                    refused.append(exc.message)
                    continue
                if record_receipt(ctx, conn, receipt, row.jws_sha256, "courier", ctx.now_us()):
                    applied += 1
        return applied, refused
