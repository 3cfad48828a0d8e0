"""Witnessing (C2SP tlog-witness): this node cosigns its peers' logs, and asks them to
cosign its own.

Witness side: ``add_checkpoint`` verifies a peer's checkpoint against the last one this
node cosigned for that origin (state loaded, decided and stored in ONE transaction) and
returns a cosignature/v1 line. A fork is equivocation: it is refused, and a FLASH alert
carrying both signed checkpoints and the failed proof is raised to our own operators.

Log side: ``request_cosignatures`` sends our latest checkpoint, with a consistency proof
from what each peer last cosigned, and stores the cosignatures it gets back.
"""

from __future__ import annotations

from typing import Any

from molink.core.checkpoint import Checkpoint, open_checkpoint
from molink.core.cosignature import CosignatureVerifier
from molink.core.note import Ed25519Verifier, NoteVerifier
from molink.core.witness import (
    WitnessState,
    accept_cosignatures,
    decide,
    format_add_checkpoint,
    parse_add_checkpoint,
    parse_size_conflict,
)
from molink.errors import Equivocation, MolinkError, PeerUnreachable
from molink.services.alerts import AlertService
from molink.services.context import NodeContext
from molink.services.logkeys import log_signer, witness_cosigner, witness_name
from molink.services.logsvc import LogService
from molink.storage.logtree import LogTreeRepo
from molink.storage.peers import Peer
from molink.transport.base import PeerTransport

__all__ = ["ADD_CHECKPOINT_PATH", "WitnessService"]

ADD_CHECKPOINT_PATH = "/federation/v1/witness/add-checkpoint"


class WitnessService:
    def __init__(self, ctx: NodeContext, log: LogService, alerts: AlertService) -> None:
        self._ctx = ctx
        self._log = log
        self._alerts = alerts
        self._cosigner = witness_cosigner(ctx.log_keys, ctx.log_origin)
        self._tree = LogTreeRepo()

    @property
    def vkey(self) -> str:
        return self._cosigner.vkey

    # ------------------------------------------------------------------ witness side
    def _log_verifiers(self, origin: str) -> tuple[str | None, list[NoteVerifier]]:
        with self._ctx.db.read() as conn:
            peers = self._ctx.peers.all(conn)
        for peer in peers:
            if peer.log_origin == origin and peer.log_vkey:
                return peer.party, [Ed25519Verifier.from_vkey(peer.log_vkey)]
        return None, []

    def add_checkpoint(self, body: bytes) -> bytes:
        """Handle a peer's ``add-checkpoint``; returns the cosignature line(s)."""
        request = parse_add_checkpoint(body)
        party, verifiers = self._log_verifiers(request.origin)
        ctx = self._ctx
        try:
            with ctx.db.write() as conn:
                row = self._tree.witnessed(conn, request.origin)
                state = (
                    None
                    if row is None
                    else WitnessState(row.origin, int(row.size), bytes(row.root), str(row.note))
                )
                decision = decide(
                    request,
                    log_verifiers=verifiers,
                    cosigners=[self._cosigner],
                    state=state,
                    now=int(ctx.clock.now().timestamp()),
                )
                new = decision.state
                self._tree.set_witnessed(
                    conn, new.origin, new.size, new.root_hash, new.checkpoint, ctx.now_us()
                )
        except Equivocation as exc:
            self._alerts.raise_now(
                kind="equivocation",
                severity="FLASH",
                title=f"{party or request.origin} log equivocated: {exc.message}",
                parties=[p for p in (party, ctx.party) if p],
                refs=[request.origin],
                data=exc.evidence,
                dedup_key=f"equivocation:{request.origin}:{exc.evidence.get('new_size')}",
            )
            raise
        return decision.response_body()

    def witnessed_view(self) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from molink.services.queries import iso
        from molink.storage.schema import witnessed

        with self._ctx.db.read() as conn:
            rows = conn.execute(select(witnessed).order_by(witnessed.c.origin)).all()
        return [{"origin": r.origin, "size": r.size, "updated": iso(r.updated)} for r in rows]

    # ------------------------------------------------------------------ log side
    async def request_cosignatures(self, transport: PeerTransport) -> int:
        """Ask every peer witness to cosign our latest checkpoint. Returns new cosignatures."""
        ctx = self._ctx
        with ctx.db.read() as conn:
            latest = self._tree.latest_checkpoint(conn)
            peers = [p for p in ctx.peers.all(conn) if p.witness_vkey and p.log_origin]
            done = self._tree.last_cosigned_by(conn)
        if latest is None:
            return 0
        signed = open_checkpoint(
            str(latest.note), [log_signer(ctx.log_keys, ctx.log_origin).verifier()]
        )
        added = 0
        for peer in peers:
            name = witness_name(peer.log_origin or "")
            if done.get(name, -1) >= latest.size:
                continue
            try:
                added += await self._ask(
                    transport, peer, signed.checkpoint, str(latest.note), done.get(name, 0)
                )
            except (PeerUnreachable, MolinkError):
                continue  # retried on the next round; status shows the witness lagging
        return added

    async def _ask(
        self, transport: PeerTransport, peer: Peer, checkpoint: Checkpoint, note: str, old: int
    ) -> int:
        verifier = CosignatureVerifier.from_vkey(peer.witness_vkey or "")
        for _ in range(2):
            proof = self._log.consistency(old, checkpoint.size) if 0 < old < checkpoint.size else []
            body = format_add_checkpoint(old, proof, note)
            answer = await transport.request(peer, "POST", ADD_CHECKPOINT_PATH, body)
            if answer.status == 409 and answer.headers.get("content-type", "").startswith(
                "text/x.tlog.size"
            ):
                old = parse_size_conflict(answer.body)
                if old > checkpoint.size:
                    return 0
                continue
            if answer.status != 200:
                raise answer.problem()
            lines = accept_cosignatures(checkpoint, answer.body, [verifier])
            with self._ctx.db.write() as conn:
                for sig in lines:
                    self._tree.add_cosignature(
                        conn, checkpoint.size, sig.name, sig.line(), self._ctx.now_us()
                    )
            return len(lines)
        return 0
