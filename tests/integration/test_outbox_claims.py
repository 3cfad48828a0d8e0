"""Outbox claims: workers sharing one database never hold the same row (both engines).

``MessageRepo.claim`` takes due rows with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) and
sets a lease; recording the attempt or releasing ends it, and a dead worker's lease
runs out (docs/adr/0002-several-workers.md).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from molink.storage.db import Database
from molink.storage.messages import Delivery, MessageRepo
from molink.storage.migrate import migrate
from molink.storage.schema import deliveries, messages
from tests.support.pgtest import TestDatabases

ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
NOW = 1_800_000_000_000_000
LEASE = 30_000_000


@pytest.fixture(params=ENGINES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'node.db'}")
        migrate(database)
        yield database
        database.dispose()
        return
    databases: TestDatabases = request.getfixturevalue("pg_databases")
    mark = databases.mark()
    yield databases.database()
    databases.release(mark)


def _queue(db: Database, count: int, recipient: str = "RU") -> None:
    rows = [
        {
            "id": f"m{i:05d}",
            "direction": "out",
            "type": "message",
            "sender": "US",
            "recipients": [recipient],
            "channel": "c",
            "seq": i,
            "precedence": "ROUTINE",
            "prec_rank": 4,
            "created": NOW + i,
            "stored": NOW + i,
            "jws": "x",
            "jws_sha256": "0" * 64,
            "envelope": {"n": i},
        }
        for i in range(count)
    ]
    with db.write() as conn:
        conn.execute(insert(messages), rows)
        for i in range(count):
            MessageRepo.queue(conn, f"m{i:05d}", [recipient], 4, NOW + i)


def _claim(db: Database, worker: str, now: int = NOW + 10**6, limit: int = 7) -> list[Delivery]:
    with db.write(sequenced=False) as conn:
        return MessageRepo(db).claim(conn, "RU", now, limit, worker=worker, until_us=now + LEASE)


def test_concurrent_workers_claim_disjoint_batches_covering_every_row(db: Database) -> None:
    _queue(db, 300)
    taken: dict[str, list[str]] = {f"w{i}": [] for i in range(4)}
    barrier = threading.Barrier(len(taken))
    errors: list[BaseException] = []

    def work(worker: str) -> None:
        try:
            barrier.wait()
            while batch := _claim(db, worker):
                taken[worker].extend(item.message_id for item in batch)
        except BaseException as exc:  # report in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    every = [mid for ids in taken.values() for mid in ids]
    assert len(every) == len(set(every)), "a row was claimed by two workers"
    assert sorted(every) == [f"m{i:05d}" for i in range(300)]
    with db.read() as conn:
        owners = dict(conn.execute(select(deliveries.c.message_id, deliveries.c.claimed_by)).all())
    assert all(owners[mid] == worker for worker, ids in taken.items() for mid in ids)


def test_claims_come_by_precedence_then_age_and_a_lease_excludes_others(db: Database) -> None:
    _queue(db, 10)
    first = _claim(db, "w1", limit=4)
    assert [i.message_id for i in first] == ["m00000", "m00001", "m00002", "m00003"]
    assert [i.envelope for i in first] == [{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}]
    second = _claim(db, "w2", limit=100)
    assert [i.message_id for i in second] == [f"m{i:05d}" for i in range(4, 10)]
    assert _claim(db, "w3", limit=100) == []  # all leased
    with db.read() as conn:  # looking (has_due, courier) skips leased rows too
        assert MessageRepo(db).due(conn, "RU", NOW + 10**6, 100) == []


def test_a_dead_workers_lease_runs_out(db: Database) -> None:
    _queue(db, 3)
    assert len(_claim(db, "dead")) == 3
    assert _claim(db, "alive", now=NOW + 10**6 + LEASE - 1) == []
    late = _claim(db, "alive", now=NOW + 10**6 + LEASE)
    assert [i.message_id for i in late] == ["m00000", "m00001", "m00002"]


def test_recording_or_releasing_ends_the_claim(db: Database) -> None:
    _queue(db, 3)
    repo = MessageRepo(db)
    batch = _claim(db, "w1")
    with db.write() as conn:
        repo.mark_attempt(conn, batch[:1], "refused", NOW)  # due again at once
        repo.release(conn, batch[2:], "someone-else")  # not theirs: no effect
        assert repo.mark_delivered(conn, "m00001", "RU", "receipt", NOW, "direct") is True
    # m00000 is due again, m00001 delivered, m00002 still w1's
    assert [i.message_id for i in _claim(db, "w2")] == ["m00000"]
    with db.write(sequenced=False) as conn:
        repo.release(conn, batch[2:], "w1")
    assert [i.message_id for i in _claim(db, "w2")] == ["m00002"]
    with db.write(sequenced=False) as conn:  # `molink serve` starting: nobody runs
        assert repo.release_all(conn) == 2
    assert len(_claim(db, "w3")) == 2
