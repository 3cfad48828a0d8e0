"""The node's append-only log: entries are sequenced in the event's own transaction.

Sequencing (assigning gapless indexes) happens inside the caller's write
transaction, under the sequencer lock, so an event and its log entry commit or
roll back together. Integration (Merkle nodes, checkpoints) runs afterwards in
the log service.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, select

from molink.core.canonical import canonical_json
from molink.storage.db import Database
from molink.storage.schema import log_entries

__all__ = ["MAX_ENTRY_BYTES", "LogRepo"]

MAX_ENTRY_BYTES = 64 * 1024 - 1  # tlog-tiles entry bundles use uint16 lengths
_SIZE = select(func.max(log_entries.c.idx))  # built once: every append asks
_INSERT = insert(log_entries)


class LogRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    def append(
        self, conn: Connection, entries: Iterable[Mapping[str, Any]], now_us: int
    ) -> list[int]:
        """Append canonical-JSON entries; returns their indexes (gapless, in order)."""
        datas = [canonical_json(dict(e)) for e in entries]
        if not datas:
            return []
        for data in datas:
            if len(data) > MAX_ENTRY_BYTES:
                raise ValueError("log entry over 64 KiB")  # programming error, not input
        self._db.lock_sequencer(conn)
        start = self.size(conn)
        rows = [
            {
                "idx": start + i,
                "data": d,
                "leaf_hash": hashlib.sha256(b"\x00" + d).digest(),
                "created": now_us,
            }
            for i, d in enumerate(datas)
        ]
        conn.execute(_INSERT, rows)
        return [start + i for i in range(len(datas))]

    @staticmethod
    def size(conn: Connection) -> int:
        value = conn.execute(_SIZE).scalar()
        return 0 if value is None else int(value) + 1

    @staticmethod
    def entries(conn: Connection, start: int, end: int) -> Sequence[Any]:
        return conn.execute(
            select(log_entries)
            .where(log_entries.c.idx >= start, log_entries.c.idx < end)
            .order_by(log_entries.c.idx)
        ).all()
