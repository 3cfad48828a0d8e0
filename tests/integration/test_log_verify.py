"""``molink log verify``: a hand-edited database shows which rows were touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update

from molink.core.checkpoint import Checkpoint, sign_checkpoint
from molink.core.merkle import MemoryHashStore, leaf_hash, root
from molink.services.logkeys import log_signer
from molink.services.runtime import NodeRuntime
from molink.storage.schema import checkpoints, log_entries, log_nodes
from tests.support.memnet import build_memnet, run


@pytest.fixture
def node(tmp_path: Path) -> NodeRuntime:
    """US with about 40 entries over three cosigned checkpoints."""
    net = build_memnet(tmp_path, ["US", "RU"])

    async def go() -> None:
        async with net["US"].client() as us:
            for batch in range(3):
                for i in range(7):
                    r = await us.post(
                        "/api/v1/messages", json={"to": ["RU"], "body": f"{batch}{i}"}
                    )
                    assert r.status_code == 201
                await net.settle()
                await net.tick_logs()

    run(go())
    return net["US"].runtime


def _rows(runtime: NodeRuntime) -> dict[int, tuple[bytes, bytes]]:
    with runtime.ctx.db.read() as conn:
        return {r.idx: (r.data, r.leaf_hash) for r in conn.execute(select(log_entries))}


def _set(runtime: NodeRuntime, idx: int, data: bytes, leaf: bytes | None = None) -> None:
    values = {"data": data} if leaf is None else {"data": data, "leaf_hash": leaf}
    with runtime.ctx.db.write() as conn:
        conn.execute(update(log_entries).where(log_entries.c.idx == idx).values(**values))


def test_untouched_log_verifies(node: NodeRuntime) -> None:
    report = node.log.verify_integrity()
    assert report.ok, report.problems
    assert report.size >= 42
    assert report.checkpoints >= 3


def test_edited_data_is_named(node: NodeRuntime) -> None:
    _set(node, 5, b'{"type":"message.sent","forged":true}')
    report = node.log.verify_integrity()
    assert not report.ok
    assert report.edited == (5,)
    assert "entry 5 was edited" in report.problems[0]
    assert report.bad_checkpoints  # every checkpoint covering index 5


def test_edited_data_and_leaf_column_is_still_named(node: NodeRuntime) -> None:
    forged = b'{"type":"message.sent","forged":true}'
    _set(node, 9, forged, leaf_hash(forged))
    report = node.log.verify_integrity()
    assert report.edited == (9,)
    assert report.reordered == ()
    assert any("entry 9 was edited" in p for p in report.problems)


def test_swapped_rows_are_named_as_reordered(node: NodeRuntime) -> None:
    rows = _rows(node)
    _set(node, 3, rows[7][0], rows[7][1])
    _set(node, 7, rows[3][0], rows[3][1])
    report = node.log.verify_integrity()
    assert report.reordered == ((3, 7), (7, 3))
    assert report.edited == ()
    assert any("reordered" in p for p in report.problems)


def test_deleted_rows_are_named(node: NodeRuntime) -> None:
    last = max(_rows(node))
    with node.ctx.db.write() as conn:
        conn.execute(delete(log_entries).where(log_entries.c.idx.in_([4, last])))
    report = node.log.verify_integrity()
    assert report.deleted == (4, last)
    assert any("entry 4 was deleted" in p for p in report.problems)


def test_edited_tree_node_is_named(node: NodeRuntime) -> None:
    with node.ctx.db.write() as conn:
        conn.execute(
            update(log_nodes)
            .where(log_nodes.c.level == 2, log_nodes.c.idx == 1)
            .values(hash=bytes(32))
        )
    report = node.log.verify_integrity()
    assert not report.ok
    assert any("(level 2, index 1)" in p for p in report.problems)


def _rewrite_history(runtime: NodeRuntime, idx: int, *, resign: bool) -> None:
    """Edit one entry and rebuild leaf column, tree and (optionally) re-signed checkpoints."""
    forged = b'{"type":"message.sent","rewritten":true}'
    _set(runtime, idx, forged, leaf_hash(forged))
    rows = _rows(runtime)
    store = MemoryHashStore.from_leaf_hashes([rows[i][1] for i in sorted(rows)])
    signer = log_signer(runtime.ctx.keys, runtime.ctx.log_origin)
    with runtime.ctx.db.write() as conn:
        conn.execute(delete(log_nodes))
        conn.execute(
            insert(log_nodes),
            [{"level": n.level, "idx": n.index, "hash": h} for n, h in store.items()],
        )
        if resign:
            for row in list(conn.execute(select(checkpoints))):
                new_root = root(row.size, store)
                note = sign_checkpoint(
                    Checkpoint(runtime.ctx.log_origin, row.size, new_root), signer
                )
                conn.execute(
                    update(checkpoints)
                    .where(checkpoints.c.size == row.size)
                    .values(root=new_root, note=note)
                )


def test_consistent_rewrite_is_bounded_by_the_signed_checkpoints(node: NodeRuntime) -> None:
    with node.ctx.db.read() as conn:
        sizes = sorted(r.size for r in conn.execute(select(checkpoints.c.size)))
    target = sizes[0] + 1  # after the first checkpoint
    _rewrite_history(node, target, resign=False)
    report = node.log.verify_integrity()
    assert not report.ok
    assert report.edited == ()  # leaf column and tree agree with the forgery...
    assert sizes[0] not in report.bad_checkpoints  # ...the first checkpoint still holds...
    first_bad = min(report.bad_checkpoints)
    assert any(f"[{sizes[0]}, {first_bad})" in p for p in report.problems)  # ...and bounds it


def test_resigned_checkpoints_are_caught_by_the_witness_cosignatures(node: NodeRuntime) -> None:
    _rewrite_history(node, 2, resign=True)
    report = node.log.verify_integrity()
    assert not report.ok
    assert any("cosignature no longer verifies" in p for p in report.problems), report.problems
