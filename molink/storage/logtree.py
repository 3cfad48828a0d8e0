"""Storage of the log's Merkle tree, checkpoints, cosignatures and witness state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Row, Select, and_, bindparam, delete, func, insert, or_, select

from molink.core.merkle import NodeId
from molink.errors import NotFound
from molink.storage.schema import checkpoints, cosignatures, log_entries, log_nodes, witnessed

__all__ = ["DbHashReader", "LogTreeRepo"]


class DbHashReader:
    """``merkle.HashReader`` over the ``log_nodes`` table, inside one connection.

    Each call is ONE query: the wanted nodes, grouped into runs of consecutive indexes
    per level, each run a primary-key range. Statements are built once per shape (the
    sequence of run lengths being 1 or more) and cached: building and compiling an
    ad-hoc ``IN`` query cost about 1 ms per proof, ten times the SQLite lookup itself.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get_hashes(self, ids: Sequence[NodeId]) -> Sequence[bytes]:
        if not ids:
            return []
        runs = _runs(ids)
        params: dict[str, int] = {}
        for k, (level, first, last) in enumerate(runs):
            params[f"l{k}"] = level
            params[f"a{k}"] = first
            if last != first:
                params[f"b{k}"] = last
        query = _nodes_query(tuple(first != last for _, first, last in runs))
        rows = self._conn.execute(query, params).all()
        found = {(level, idx): digest for level, idx, digest in rows}
        try:
            return [found[(n.level, n.index)] for n in ids]
        except KeyError as exc:
            raise NotFound(f"log node {exc.args[0]} is not stored") from exc


def _runs(ids: Sequence[NodeId]) -> list[tuple[int, int, int]]:
    """Distinct nodes as (level, first index, last index) runs of consecutive indexes."""
    out: list[tuple[int, int, int]] = []
    for level, index in sorted(set(ids)):
        if out and out[-1][0] == level and out[-1][2] + 1 == index:
            out[-1] = (level, out[-1][1], index)
        else:
            out.append((level, index, index))
    return out


@lru_cache(maxsize=512)
def _nodes_query(shape: tuple[bool, ...]) -> Select[Any]:
    """One OR term per run: ``level = :l AND idx = :a`` or ``idx BETWEEN :a AND :b``."""
    terms = []
    for k, is_range in enumerate(shape):
        level = log_nodes.c.level == bindparam(f"l{k}")
        if is_range:
            terms.append(
                and_(level, log_nodes.c.idx.between(bindparam(f"a{k}"), bindparam(f"b{k}")))
            )
        else:
            terms.append(and_(level, log_nodes.c.idx == bindparam(f"a{k}")))
    return select(log_nodes.c.level, log_nodes.c.idx, log_nodes.c.hash).where(or_(*terms))


class LogTreeRepo:
    @staticmethod
    def integrated_size(conn: Connection) -> int:
        value = conn.execute(
            select(func.max(log_nodes.c.idx)).where(log_nodes.c.level == 0)
        ).scalar()
        return 0 if value is None else int(value) + 1

    @staticmethod
    def leaf_hashes(conn: Connection, start: int, end: int) -> list[bytes]:
        return [
            r.leaf_hash
            for r in conn.execute(
                select(log_entries.c.leaf_hash)
                .where(log_entries.c.idx >= start, log_entries.c.idx < end)
                .order_by(log_entries.c.idx)
            )
        ]

    @staticmethod
    def nodes_in_range(conn: Connection, level: int, start: int, end: int) -> dict[int, bytes]:
        """Stored hashes of level ``level`` with index in ``[start, end)``, by index."""
        rows = conn.execute(
            select(log_nodes.c.idx, log_nodes.c.hash).where(
                log_nodes.c.level == level, log_nodes.c.idx >= start, log_nodes.c.idx < end
            )
        )
        return {int(r.idx): bytes(r.hash) for r in rows}

    @staticmethod
    def put_nodes(conn: Connection, nodes: Iterable[tuple[NodeId, bytes]]) -> None:
        rows = [{"level": n.level, "idx": n.index, "hash": h} for n, h in nodes]
        if rows:
            conn.execute(insert(log_nodes), rows)

    @staticmethod
    def add_checkpoint(conn: Connection, size: int, root: bytes, note: str, now_us: int) -> None:
        conn.execute(delete(checkpoints).where(checkpoints.c.size == size))
        conn.execute(insert(checkpoints).values(size=size, root=root, note=note, created=now_us))

    @staticmethod
    def latest_checkpoint(conn: Connection) -> Row[Any] | None:
        return conn.execute(
            select(checkpoints).order_by(checkpoints.c.size.desc()).limit(1)
        ).first()

    @staticmethod
    def all_checkpoints(conn: Connection) -> list[Row[Any]]:
        """Every stored checkpoint, smallest first."""
        return list(conn.execute(select(checkpoints).order_by(checkpoints.c.size)))

    @staticmethod
    def checkpoint_at(conn: Connection, size: int) -> Row[Any] | None:
        return conn.execute(select(checkpoints).where(checkpoints.c.size == size)).first()

    @staticmethod
    def add_cosignature(conn: Connection, size: int, witness: str, line: str, now_us: int) -> None:
        conn.execute(
            delete(cosignatures).where(
                cosignatures.c.size == size, cosignatures.c.witness == witness
            )
        )
        conn.execute(
            insert(cosignatures).values(size=size, witness=witness, line=line, created=now_us)
        )

    @staticmethod
    def cosignatures_at(conn: Connection, size: int) -> list[Row[Any]]:
        return list(
            conn.execute(
                select(cosignatures)
                .where(cosignatures.c.size == size)
                .order_by(cosignatures.c.witness)
            )
        )

    @staticmethod
    def all_cosignatures(conn: Connection) -> list[Row[Any]]:
        """Every stored cosignature line, by size then witness."""
        return list(
            conn.execute(select(cosignatures).order_by(cosignatures.c.size, cosignatures.c.witness))
        )

    @staticmethod
    def last_cosigned_by(conn: Connection) -> dict[str, int]:
        """The largest size each witness has cosigned."""
        rows = conn.execute(
            select(cosignatures.c.witness, func.max(cosignatures.c.size)).group_by(
                cosignatures.c.witness
            )
        )
        return {w: int(s) for w, s in rows}

    @staticmethod
    def witnessed(conn: Connection, origin: str) -> Row[Any] | None:
        return conn.execute(select(witnessed).where(witnessed.c.origin == origin)).first()

    @staticmethod
    def set_witnessed(
        conn: Connection, origin: str, size: int, root: bytes, note: str, now_us: int
    ) -> None:
        conn.execute(delete(witnessed).where(witnessed.c.origin == origin))
        conn.execute(
            insert(witnessed).values(origin=origin, size=size, root=root, note=note, updated=now_us)
        )
