"""Relaying envelopes for parties whose direct route is down (the mediator's role).

The mediator forwards sealed envelopes it can neither read nor alter: it checks only
the authenticated routing header (the requester must be the envelope's sender and the
target one of its recipients), forwards the batch to the target over its own
federation link, and returns the target's signed receipts untouched. Each forwarded
envelope's SHA-256 is logged, so the mediator can later attest what it carried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from molink.core.canonical import canonical_json
from molink.core.envelope import read_routing
from molink.errors import Forbidden, InvalidInput, MalformedData, PeerUnreachable
from molink.services.context import NodeContext
from molink.services.outbox import ENVELOPES_PATH
from molink.transport.base import PeerTransport

__all__ = ["RelayService"]


class RelayService:
    def __init__(self, ctx: NodeContext, transport: PeerTransport) -> None:
        self._ctx = ctx
        self._transport = transport

    def _check(self, requester: str, target: str, envelopes: Sequence[Any]) -> list[str]:
        hashes = []
        for envelope in envelopes:
            if not isinstance(envelope, dict):
                raise MalformedData("envelopes must be JSON objects")
            routing = read_routing(envelope)
            if routing.sender != requester:
                raise Forbidden(
                    f"{requester} may only relay its own envelopes "
                    f"(this one is from {routing.sender})"
                )
            if target not in routing.to:
                raise InvalidInput(f"envelope {routing.id} is not addressed to {target}")
            hashes.append(hashlib.sha256(canonical_json(envelope)).hexdigest())
        return hashes

    async def forward(self, requester: str, body: Any) -> tuple[int, bytes]:
        """Forward a relay request; returns the target's (status, body) to pass back."""
        if not isinstance(body, dict) or not isinstance(body.get("envelopes"), list):
            raise MalformedData('body must be {"to": "<party>", "envelopes": [...]}')
        target = body.get("to")
        if not isinstance(target, str) or target == self._ctx.party:
            raise InvalidInput("'to' must name another party")
        envelopes = body["envelopes"]
        hashes = self._check(requester, target, envelopes)
        with self._ctx.db.read() as conn:
            peer = self._ctx.peers.get(conn, target)
        answer = await self._transport.request(
            peer, "POST", ENVELOPES_PATH, canonical_json({"envelopes": envelopes})
        )
        now_us = self._ctx.now_us()
        with self._ctx.db.write() as conn:
            self._ctx.log.append(
                conn,
                [
                    {
                        "type": "relay.forwarded",
                        "from": requester,
                        "to": target,
                        "envelope_sha256": h,
                        "status": answer.status,
                        "time": now_us // 1000,
                    }
                    for h in hashes
                ],
                now_us,
            )
        if answer.status >= 500:
            raise PeerUnreachable(f"{target} answered {answer.status} to the relay")
        return answer.status, answer.body
