"""The node's transparency log: integration, checkpoints, tiles and proofs.

Entries are sequenced by the event transactions (``storage.log``). The integrator
here adds the new leaves to the stored Merkle tree (RFC 6962) and signs a C2SP
checkpoint, in one transaction, at most every ``interval`` while there are new
entries. Tiles (C2SP tlog-tiles, height 8) are read straight from the stored
complete subtrees.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import Connection

from molink.core.checkpoint import Checkpoint, sign_checkpoint
from molink.core.cosignature import CosignatureVerifier
from molink.core.merkle import (
    consistency_proof,
    inclusion_proof,
    nodes_to_store_on_append_batch,
    root,
)
from molink.core.note import parse_signature_lines
from molink.core.tiles import Tile, encode_entry_bundle, parse_tile_path, tile_hashes
from molink.errors import NotFound
from molink.services.context import NodeContext
from molink.services.logaudit import IntegrityReport, audit_log
from molink.services.logkeys import log_signer
from molink.storage.logtree import DbHashReader, LogTreeRepo

__all__ = ["TILE_CACHE_BYTES", "IntegrityReport", "LogService"]

MAX_INTEGRATE = 50_000


# Full tiles are immutable (the log only grows): witnesses and auditors catching up
# fetch the same ones again and again. Keep the most recent few MiB in memory.
TILE_CACHE_BYTES = 4 * 1024 * 1024


class LogService:
    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx
        self._tiles: OrderedDict[str, bytes] = OrderedDict()
        self._tiles_bytes = 0
        self._tiles_lock = threading.Lock()
        self._signer = log_signer(ctx.log_keys, ctx.log_origin)
        self._tree = LogTreeRepo()

    @property
    def vkey(self) -> str:
        return self._signer.vkey

    def integrate(self) -> Checkpoint | None:
        """Integrate new entries and sign a checkpoint; None if nothing was new."""
        ctx = self._ctx
        with ctx.db.read() as conn:  # most ticks find nothing: no need for the sequencer
            if self._up_to_date(conn):
                return None
        with ctx.db.write() as conn:
            ctx.db.lock_sequencer(conn)
            if self._up_to_date(conn):
                return None
            done = self._tree.integrated_size(conn)
            size = ctx.log.size(conn)
            end = min(size, done + MAX_INTEGRATE)
            leaves = self._tree.leaf_hashes(conn, done, end)
            reader = DbHashReader(conn)
            self._tree.put_nodes(conn, nodes_to_store_on_append_batch(done, leaves, reader))
            tree_root = root(end, reader)
            checkpoint = Checkpoint(ctx.log_origin, end, tree_root, ())
            note = sign_checkpoint(checkpoint, self._signer)
            self._tree.add_checkpoint(conn, end, tree_root, note, ctx.now_us())
        ctx.events.publish("log.checkpoint", size=end)
        return checkpoint

    def _up_to_date(self, conn: Connection) -> bool:
        """Every entry is in the tree and the latest checkpoint covers them all."""
        size = self._ctx.log.size(conn)
        latest = self._tree.latest_checkpoint(conn)
        return (
            self._tree.integrated_size(conn) == size
            and latest is not None
            and (latest.size == size)
        )

    def checkpoint_note(self) -> str:
        """The latest signed checkpoint with every cosignature received for it attached."""
        with self._ctx.db.read() as conn:
            latest = self._tree.latest_checkpoint(conn)
            if latest is None:
                raise NotFound("the log has no checkpoint yet")
            cosigs = self._tree.cosignatures_at(conn, latest.size)
        note = str(latest.note)
        lines = "".join(c.line for c in cosigs)
        return note + lines if lines else note

    def cached_tile(self, path: str) -> bytes | None:
        """A full tile served before (full tiles never change), without the database."""
        with self._tiles_lock:
            content = self._tiles.get(path)
            if content is not None:
                self._tiles.move_to_end(path)
            return content

    def tile(self, path: str) -> tuple[bytes, bool]:
        """Serve ``tile/...``: (content, immutable). Partial tiles are not immutable."""
        cached = self.cached_tile(path)
        if cached is not None:
            return cached, True
        content, immutable = self._read_tile(path)
        if immutable:
            self._remember_tile(path, content)
        return content, immutable

    def _remember_tile(self, path: str, content: bytes) -> None:
        with self._tiles_lock:
            if path not in self._tiles:
                self._tiles[path] = content
                self._tiles_bytes += len(content)
            while self._tiles_bytes > TILE_CACHE_BYTES and self._tiles:
                _, old = self._tiles.popitem(last=False)
                self._tiles_bytes -= len(old)

    def _read_tile(self, path: str) -> tuple[bytes, bool]:
        tile = parse_tile_path(path)
        with self._ctx.db.read() as conn:
            latest = self._tree.latest_checkpoint(conn)
            size = 0 if latest is None else int(latest.size)
            self._check_available(tile, size)
            if tile.entries:
                rows = self._ctx.log.entries(conn, tile.index * 256, tile.index * 256 + tile.width)
                return encode_entry_bundle([bytes(r.data) for r in rows]), not tile.is_partial
            content = tile_hashes(tile.level, tile.index, tile.width, DbHashReader(conn))
        return content, not tile.is_partial

    @staticmethod
    def _check_available(tile: Tile, size: int) -> None:
        """A tile exists if the checkpointed tree covers it at exactly that width."""
        level_bits = 8 * tile.level
        nodes_at_level = size >> level_bits
        full = nodes_at_level // 256
        partial = nodes_at_level % 256
        if tile.index < full and not tile.is_partial:
            return
        if tile.index == full and tile.is_partial and tile.width <= partial:
            return
        raise NotFound(f"{tile.path} is not in the tree of size {size}")

    def inclusion(self, index: int, size: int) -> list[bytes]:
        with self._ctx.db.read() as conn:
            return inclusion_proof(index, size, DbHashReader(conn))

    def consistency(self, old: int, new: int) -> list[bytes]:
        with self._ctx.db.read() as conn:
            return consistency_proof(old, new, DbHashReader(conn))

    def verify_integrity(self) -> IntegrityReport:
        """Re-derive the tree from the stored entries and compare (``molink log verify``).

        Names edited, deleted and reordered rows, edited tree nodes, and checkpoints whose
        signature, witness cosignatures or root no longer hold (see ``logaudit``).
        """
        with self._ctx.db.read() as conn:
            witnesses = [
                CosignatureVerifier.from_vkey(p.witness_vkey)
                for p in self._ctx.peers.all(conn)
                if p.witness_vkey
            ]
            return audit_log(conn, log_verifier=self._signer.verifier(), witnesses=witnesses)

    def status(self) -> dict[str, Any]:
        with self._ctx.db.read() as conn:
            latest = self._tree.latest_checkpoint(conn)
            cosigned = self._tree.last_cosigned_by(conn)
            size = self._ctx.log.size(conn)
        cosigs = (
            []
            if latest is None
            else [
                s.name
                for s in parse_signature_lines(self.checkpoint_note().split("\n\n", 1)[1])
                if s.name != self._ctx.log_origin
            ]
        )
        return {
            "origin": self._ctx.log_origin,
            "size": size,
            "checkpoint_size": None if latest is None else latest.size,
            "vkey": self.vkey,
            "witnesses": cosigned,
            "latest_cosigned_by": cosigs,
        }
