"""The outbox's due query stays proportional to what is pending (found by benchmarks/delivery.py).

``status != 'delivered'`` made SQLite scan every delivery ever made on each drain, so
a drain cost grew with the node's history (0.35 ms per 1,000 past deliveries here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from molink.storage.db import Database
from molink.storage.messages import MessageRepo
from molink.storage.migrate import migrate


def _plans(db: Database, run: Any) -> list[str]:
    """EXPLAIN QUERY PLAN of every SELECT that ``run`` executes."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.read() as conn:
            run(conn)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    plans = []
    with db.read() as conn:
        for statement, params in seen:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            plans.append("\n".join(str(row[-1]) for row in rows))
    return plans


def test_due_and_pending_counts_search_the_index(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'node.db'}")
    migrate(db)
    repo = MessageRepo(db)
    try:
        plans = _plans(db, lambda conn: repo.due(conn, "RU", 2**62, 64))
        plans += _plans(db, MessageRepo.pending_counts)
    finally:
        db.dispose()
    assert len(plans) == 2
    for plan in plans:
        deliveries_steps = [line for line in plan.splitlines() if "ix_deliveries_due" in line]
        assert deliveries_steps, plan
        assert all(line.startswith("SEARCH") for line in deliveries_steps), plan
