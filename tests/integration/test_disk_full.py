"""Disk full on the receiver, at every write of the receive transaction (STYLE.md point 12).

RU's database engine gets a fault hook: the N-th INSERT/UPDATE/DELETE (or the
COMMIT) fails with "database or disk is full", as SQLite reports ``SQLITE_FULL``.
For every N that the receive transaction reaches, US sends one message:

* RU answers 503 (``StorageError``), stores nothing: no message row, no log entry,
  no receipt (the transaction rolls back whole);
* US keeps the message, shows the reason, and retries;
* once the disk has room again, the message is delivered exactly once, its receipt
  verifies, and RU's log verifies (``LogService.verify_integrity``).

Runs on SQLite and PostgreSQL (the database matrix of ``tests/conftest.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError

from molink.core.receipt import verify_receipt
from molink.storage.schema import log_entries, messages
from tests.support.memnet import MemNet, build_memnet, run

_WRITES = ("INSERT", "UPDATE", "DELETE")


class DiskFull:
    """Fails the ``fail_at``-th write statement (or the commit) after ``arm()``."""

    def __init__(self, engine: Engine) -> None:
        self.fail_at: int | None = None
        self.fail_commit = False
        self.writes = 0
        self.failures = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def arm(self, *, at: int | None = None, commit: bool = False) -> None:
        self.fail_at, self.fail_commit, self.writes = at, commit, 0

    def disarm(self) -> None:
        self.fail_at, self.fail_commit = None, False

    def _full(self, statement: str) -> OperationalError:
        self.failures += 1
        return OperationalError(statement, None, Exception("database or disk is full"))

    def _statement(self, _c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(_WRITES):
            return
        self.writes += 1
        if self.fail_at is not None and self.writes == self.fail_at:
            raise self._full(statement)

    def _commit(self, _conn: Any) -> None:
        if self.fail_commit and self.writes > 0:
            self.fail_commit = False  # one failed commit: the write transaction's
            raise self._full("COMMIT")


def _counts(net: MemNet, party: str) -> tuple[int, int]:
    db = net[party].runtime.ctx.db
    with db.read() as conn:
        rows = conn.execute(select(func.count()).select_from(messages)).scalar_one()
        logged = conn.execute(select(func.count()).select_from(log_entries)).scalar_one()
    return int(rows), int(logged)


async def _send(net: MemNet, tag: str) -> str:
    async with net["US"].client() as us:
        body = {"to": ["RU"], "precedence": "FLASH", "subject": tag, "body": tag, "lang": "en"}
        answer = await us.post("/api/v1/messages", json=body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])


async def _view(net: MemNet, mid: str) -> dict[str, Any]:
    async with net["US"].client() as us:
        view: dict[str, Any] = (await us.get(f"/api/v1/messages/{mid}")).json()
        return view


def _writes_per_receive(net: MemNet, disk: DiskFull) -> int:
    """How many write statements one receive makes (a clean delivery, counted)."""

    async def probe() -> int:
        for n in range(2):  # the first receive also creates the channel
            mid = await _send(net, f"probe {n}")
            disk.arm()
            assert await net["US"].drain() == 1
            disk.disarm()
            assert (await _view(net, mid))["status"] == "delivered"
        return disk.writes

    writes: int = run(probe())
    assert writes >= 2, "a receive writes at least the message and its log entry"
    return writes


def test_disk_full_at_every_write_of_a_receive_stores_nothing_and_loses_nothing(
    tmp_path: Path,
) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    disk = DiskFull(net["RU"].runtime.ctx.db.engine)
    writes = _writes_per_receive(net, disk)
    points: list[dict[str, Any]] = [{"at": n} for n in range(1, writes + 1)]
    points.append({"commit": True})

    async def scenario() -> list[str]:
        sent = []
        for point in points:
            mid = await _send(net, f"full {point}")
            before = _counts(net, "RU")
            disk.arm(**point)
            assert await net["US"].drain() == 0
            assert _counts(net, "RU") == before, f"half-stored at {point}"
            view = await _view(net, mid)
            assert view["status"] == "sent", view
            assert "disk is full" in view["recipients"][0]["last_error"], view
            disk.disarm()
            net.advance(1)  # past the retry backoff
            assert await net["US"].drain() == 1
            assert (await _view(net, mid))["status"] == "delivered"
            sent.append(mid)
        return sent

    sent = run(scenario())
    assert disk.failures == len(points)
    us, ru = net["US"].runtime, net["RU"].runtime
    directory = us.ctx.directory()
    with ru.ctx.db.read() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                select(messages.c.id, func.count())
                .where(messages.c.direction == "in")
                .group_by(messages.c.id)
            ).all()
        )
    for mid in sent:
        assert counts.get(mid) == 1, "lost or duplicated"
        receipt = verify_receipt(
            us.queries.receipt(mid, "RU"),
            directory,
            message_id=mid,
            jws_sha256=_sha(ru, mid),
        )
        assert receipt.recipient == "RU"
    run(net.tick_logs())
    for runtime in (us, ru):
        report = runtime.log.verify_integrity()
        assert report.ok, report.problems


def _sha(runtime: Any, mid: str) -> str:
    with runtime.ctx.db.read() as conn:
        return str(runtime.ctx.messages.get(conn, mid).jws_sha256)
