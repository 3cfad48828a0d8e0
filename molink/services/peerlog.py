"""Reading a peer's log as any outsider would: checkpoint, tiles and entry bundles.

Used by evidence export to prove that an entry named in a peer's receipt is in that
peer's log. Requests are signed peer requests over the ``PeerTransport`` to the peer's
``/log`` endpoints (C2SP tlog-tiles). Inclusion proofs are assembled from the fetched
tiles (:class:`molink.core.tiles.TileHashReader`) and checked here against the peer's
signed checkpoint before anything is put in a bundle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from molink.core.b64 import b64encode
from molink.core.checkpoint import Checkpoint, open_checkpoint
from molink.core.merkle import inclusion_proof_plan, leaf_hash, verify_inclusion
from molink.core.note import Ed25519Verifier
from molink.core.tiles import (
    TILE_WIDTH,
    Tile,
    TileHashReader,
    decode_entry_bundle,
    tiles_for_nodes,
)
from molink.errors import MolinkError, PeerUnreachable
from molink.storage.peers import Peer
from molink.transport.base import PeerTransport

__all__ = ["LOG_PREFIX", "PeerLogMaterial", "fetch_peer_entries"]

LOG_PREFIX = "/log"
MAX_FETCHED_TILES = 4096


@dataclass(frozen=True, slots=True)
class PeerLogMaterial:
    """A peer's checkpoint and proven entries, or the reason they are absent."""

    origin: str
    party: str
    vkey: str = ""
    note: str = ""
    size: int = 0
    entries: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None

    @classmethod
    def missing(cls, origin: str, party: str, reason: str) -> PeerLogMaterial:
        return cls(origin=origin, party=party, reason=reason)


class _Fetcher:
    def __init__(self, transport: PeerTransport, peer: Peer) -> None:
        self._transport = transport
        self._peer = peer
        self.count = 0

    async def get(self, path: str) -> bytes:
        self.count += 1
        if self.count > MAX_FETCHED_TILES:
            raise MolinkError("too many tiles to fetch")
        answer = await self._transport.request(self._peer, "GET", f"{LOG_PREFIX}/{path}")
        if answer.status != 200:
            raise answer.problem()
        return answer.body


async def fetch_peer_entries(
    transport: PeerTransport, peer: Peer, indexes: Sequence[int]
) -> PeerLogMaterial:
    """The peer's latest checkpoint and entries ``indexes`` with inclusion proofs.

    Never raises for the peer's failings: an unreachable peer, a bad signature or
    tiles that do not prove an entry give a material with ``reason`` set.
    """
    origin = peer.log_origin or ""
    fetch = _Fetcher(transport, peer)
    try:
        verifier = Ed25519Verifier.from_vkey(peer.log_vkey or "")
        note = (await fetch.get("checkpoint")).decode("utf-8")
        checkpoint = open_checkpoint(note, [verifier], origin=origin).checkpoint
        wanted = [i for i in indexes if i < checkpoint.size]
        if not wanted:
            reason = f"{peer.party}'s checkpoint (size {checkpoint.size}) does not cover them yet"
            return PeerLogMaterial.missing(origin, peer.party, reason)
        entries = await _prove(fetch, checkpoint, wanted)
    except PeerUnreachable as exc:
        return PeerLogMaterial.missing(origin, peer.party, exc.message)
    except (MolinkError, UnicodeDecodeError) as exc:
        detail = exc.message if isinstance(exc, MolinkError) else "checkpoint is not UTF-8"
        return PeerLogMaterial.missing(origin, peer.party, f"{peer.party} log: {detail}")
    return PeerLogMaterial(
        origin=origin,
        party=peer.party,
        vkey=verifier.vkey,
        note=note,
        size=checkpoint.size,
        entries=entries,
    )


async def _prove(
    fetch: _Fetcher, checkpoint: Checkpoint, indexes: Sequence[int]
) -> list[dict[str, Any]]:
    size = checkpoint.size
    plans = {i: inclusion_proof_plan(i, size) for i in indexes}
    nodes = [n for plan in plans.values() for n in plan.node_ids]
    tiles = {tile: await fetch.get(tile.path) for tile in tiles_for_nodes(nodes, size)}
    reader = TileHashReader(size, tiles)
    bundles: dict[int, list[bytes]] = {}
    out = []
    for index in indexes:
        n = index // TILE_WIDTH
        if n not in bundles:
            width = min(TILE_WIDTH, size - n * TILE_WIDTH)
            data = await fetch.get(Tile(0, n, width, entries=True).path)
            bundles[n] = decode_entry_bundle(data, width=width)
        entry = bundles[n][index % TILE_WIDTH]
        plan = plans[index]
        proof = plan.assemble(reader.get_hashes(plan.node_ids)) if plan.node_ids else []
        verify_inclusion(leaf_hash(entry), index, size, proof, checkpoint.root_hash)
        out.append(
            {
                "index": index,
                "data": b64encode(entry),
                "inclusion_proof": [b64encode(h) for h in proof],
            }
        )
    return out
