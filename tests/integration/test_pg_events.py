"""Live events through PostgreSQL LISTEN/NOTIFY: every worker's subscribers see every event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from molink.services.events import Event, EventBus
from molink.services.pgevents import PgEventBus, event_bus_for
from molink.storage.db import Database
from tests.support.pgtest import TestDatabases


@pytest.fixture
def pg_db(pg_databases: TestDatabases) -> Iterator[Database]:
    mark = pg_databases.mark()
    yield pg_databases.database()
    pg_databases.release(mark)


@contextlib.asynccontextmanager
async def _running(bus: PgEventBus) -> AsyncIterator[PgEventBus]:
    task = asyncio.create_task(bus.run())
    try:
        async with asyncio.timeout(5):
            while not bus.connected:
                await asyncio.sleep(0.01)
        yield bus
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _next(queue: asyncio.Queue[Event], kind: str) -> Event:
    async with asyncio.timeout(5):
        while True:
            event = await queue.get()
            if event.kind == kind:
                return event


def test_sqlite_keeps_the_in_process_bus(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'node.db'}")
    assert type(event_bus_for(db, origin="w1")) is EventBus


async def _until(queue: asyncio.Queue[Event], kind: str) -> list[Event]:
    """Every event up to and including the first of ``kind``."""
    events: list[Event] = []
    async with asyncio.timeout(5):
        while not events or events[-1].kind != kind:
            events.append(await queue.get())
    return events


@pytest.mark.postgres
def test_every_worker_sees_every_event_once(pg_db: Database) -> None:
    async def scenario() -> tuple[list[Event], list[Event]]:
        one = PgEventBus(pg_db.libpq_url, origin="worker-1")
        two = PgEventBus(pg_db.libpq_url, origin="worker-2")
        async with _running(one), _running(two), one.subscribe() as q1, two.subscribe() as q2:
            one.publish("message.queued", id="m1")
            # from a worker thread, as the services publish
            await asyncio.to_thread(two.publish, "message.delivered", id="m1", to="RU")
            seen1 = await _until(q1, "message.delivered")
            seen2 = await _until(q2, "message.queued")
            # NOTIFY keeps commit order: when the other's "end" arrives, an echo would have
            two.publish("end.2")
            one.publish("end.1")
            return seen1 + await _until(q1, "end.2"), seen2 + await _until(q2, "end.1")

    seen1, seen2 = asyncio.run(scenario())
    kinds1, kinds2 = [e.kind for e in seen1], [e.kind for e in seen2]
    assert kinds1.count("message.queued") == 1, kinds1  # its own, locally; no echo
    assert kinds1.count("message.delivered") == 1, kinds1
    assert kinds2.count("message.queued") == 1, kinds2
    assert kinds2.count("message.delivered") == 1, kinds2
    assert next(e for e in seen2 if e.kind == "message.queued").data == {"id": "m1"}
    assert next(e for e in seen2 if e.kind == "message.queued").remote  # from worker-1
    assert not next(e for e in seen1 if e.kind == "message.queued").remote
    assert next(e for e in seen1 if e.kind == "message.delivered").data == {
        "id": "m1",
        "to": "RU",
    }


@pytest.mark.postgres
def test_large_events_travel_truncated(pg_db: Database) -> None:
    async def scenario() -> None:
        one = PgEventBus(pg_db.libpq_url, origin="worker-1")
        two = PgEventBus(pg_db.libpq_url, origin="worker-2")
        async with _running(one), _running(two), two.subscribe() as q2:
            one.publish("big", body="x" * 20_000)
            assert (await _next(q2, "big")).data == {"truncated": True}

    asyncio.run(scenario())
