"""Group commit: writers that overlap share one COMMIT, and each keeps its own outcome."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

from molink.errors import InvalidInput, StorageError
from molink.storage.db import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'g.db'}")
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (k TEXT PRIMARY KEY)"))
    yield database
    database.dispose()


def _keys(db: Database) -> set[str]:
    with db.read() as conn:
        return {row[0] for row in conn.execute(text("SELECT k FROM t"))}


def _insert(conn: Connection, key: str) -> None:
    conn.execute(text("INSERT INTO t (k) VALUES (:k)"), {"k": key})


def _wait_for(predicate: Callable[[], bool]) -> None:
    gate = threading.Event()
    for _ in range(2000):
        if predicate():
            return
        gate.wait(0.005)
    raise AssertionError("condition not reached")


def _run_overlapping(db: Database, second: Callable[[Connection], None]) -> dict[str, Any]:
    """A first writer that stays open until a second writer waits to join, then both end."""
    group = db._group()
    outcome: dict[str, Any] = {}

    def first() -> None:
        try:
            with db.write() as conn:
                _insert(conn, "first")
                _wait_for(lambda: group._waiting == 1)
            outcome["first"] = "ok"
        except Exception as exc:
            outcome["first"] = exc

    def other() -> None:
        try:
            with db.write() as conn:
                second(conn)
            outcome["second"] = "ok"
        except Exception as exc:
            outcome["second"] = exc

    a = threading.Thread(target=first)
    a.start()
    _wait_for(lambda: group._busy)
    b = threading.Thread(target=other)
    b.start()
    a.join(10)
    b.join(10)
    return outcome


def test_a_lone_writer_commits_at_once(db: Database) -> None:
    with db.write() as conn:
        _insert(conn, "a")
    assert _keys(db) == {"a"}
    assert db._group().commits == 1


def test_overlapping_writers_share_one_commit(db: Database) -> None:
    before = db._group().commits
    outcome = _run_overlapping(db, lambda conn: _insert(conn, "second"))
    assert outcome == {"first": "ok", "second": "ok"}
    assert _keys(db) == {"first", "second"}
    assert db._group().commits == before + 1
    assert db._group().members == 2


def test_a_failing_member_loses_only_its_own_work(db: Database) -> None:
    def fails(conn: Connection) -> None:
        _insert(conn, "doomed")
        raise InvalidInput("refused after writing")

    outcome = _run_overlapping(db, fails)
    assert outcome["first"] == "ok"
    assert isinstance(outcome["second"], InvalidInput)
    assert _keys(db) == {"first"}


def test_a_failing_first_member_rolls_back_alone(db: Database) -> None:
    def doomed() -> None:
        with db.write() as conn:
            _insert(conn, "doomed")
            raise InvalidInput("no")

    with pytest.raises(InvalidInput):
        doomed()
    with db.write() as conn:
        _insert(conn, "next")
    assert _keys(db) == {"next"}


def test_a_failed_commit_fails_every_member(db: Database) -> None:
    from sqlalchemy import event

    def refuse(_conn: Connection) -> None:
        raise RuntimeError("disk full")

    event.listen(db.engine, "commit", refuse)
    try:
        outcome = _run_overlapping(db, lambda conn: _insert(conn, "second"))
    finally:
        event.remove(db.engine, "commit", refuse)
    failures = [outcome["first"], outcome["second"]]
    assert all(isinstance(f, (StorageError, RuntimeError)) for f in failures), failures
    assert any(isinstance(f, StorageError) for f in failures)
    assert _keys(db) == set()
    with db.write() as conn:  # the next group starts clean
        _insert(conn, "after")
    assert _keys(db) == {"after"}


def test_many_threads_every_write_lands_once(db: Database) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(25):
                with db.write() as conn:
                    _insert(conn, f"{n}-{i}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert len(_keys(db)) == 200
    group = db._group()
    assert group.members == 200
    assert group.commits <= 200
