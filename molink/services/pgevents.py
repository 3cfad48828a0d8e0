"""Live events shared by every worker of a node through PostgreSQL ``LISTEN/NOTIFY``.

A worker hands its own events to its local subscribers at once (as the in-process
bus does) and forwards them with ``pg_notify`` on channel ``molink_events``. It
listens on that channel and hands the other workers' events to its subscribers,
skipping its own (each notification names its origin worker). So an SSE client
sees every event of the node whichever worker serves it.

Delivery is at most once, like the in-process bus: a worker that loses its
connection reconnects with backoff and then tells its subscribers
``events.resync`` (a console reloads what it shows). Notifications are limited to
8000 bytes by PostgreSQL; a larger event travels without its data
(``"truncated": true``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from typing import Any

import psycopg

from molink.services.events import Event, EventBus
from molink.storage.db import Database

__all__ = ["CHANNEL", "PgEventBus", "event_bus_for"]

CHANNEL = "molink_events"
MAX_PAYLOAD = 7900
_BACKLOG = 10_000


def event_bus_for(db: Database, *, origin: str) -> EventBus:
    """The bus for a node on ``db``: shared through PostgreSQL, else in-process."""
    if db.is_postgres:
        return PgEventBus(db.libpq_url, origin=origin)
    return EventBus()


class PgEventBus(EventBus):
    """An ``EventBus`` whose events reach the subscribers of every worker."""

    def __init__(
        self,
        conninfo: str,
        *,
        origin: str,
        queue_size: int = 1000,
        retry_s: float = 0.5,
        retry_cap_s: float = 10.0,
    ) -> None:
        super().__init__(queue_size=queue_size)
        self._conninfo = conninfo
        self._origin = origin
        self._retry_s = retry_s
        self._retry_cap_s = retry_cap_s
        self._outgoing: deque[str] = deque(maxlen=_BACKLOG)  # thread-safe append/popleft
        self._wake: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        self.connected = False

    def publish(self, kind: str, **data: Any) -> None:
        super().publish(kind, **data)
        self._outgoing.append(_encode(self._origin, kind, data))
        wake = self._wake
        if wake is not None:
            with contextlib.suppress(RuntimeError):  # loop closed
                wake[0].call_soon_threadsafe(wake[1].set)

    async def run(self) -> None:
        """Forward and receive events until cancelled, reconnecting after failures."""
        wake = asyncio.Event()
        self._wake = (asyncio.get_running_loop(), wake)
        delay = self._retry_s
        first = True
        try:
            while True:
                try:
                    await self._session(wake, resync=not first)
                except (psycopg.Error, OSError):
                    self.connected = False
                first = False
                await asyncio.sleep(delay)
                delay = min(self._retry_cap_s, delay * 2)
        finally:
            self._wake = None
            self.connected = False

    async def _session(self, wake: asyncio.Event, *, resync: bool) -> None:
        listen = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        send = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        async with listen, send:
            await listen.execute(f"LISTEN {CHANNEL}")
            self.connected = True
            if resync:
                self._dispatch(Event("events.resync", {}))
            wake.set()  # send what was published while we were away
            tasks = [
                asyncio.create_task(self._receive(listen)),
                asyncio.create_task(self._forward(send, wake)),
            ]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    task.result()  # re-raise the failure
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, psycopg.Error, OSError):
                        await task

    async def _receive(self, conn: psycopg.AsyncConnection[Any]) -> None:
        async for notify in conn.notifies():
            event = _decode(notify.payload, self._origin)
            if event is not None:
                self._dispatch(event)

    async def _forward(self, conn: psycopg.AsyncConnection[Any], wake: asyncio.Event) -> None:
        while True:
            await wake.wait()
            wake.clear()
            while self._outgoing:
                payload = self._outgoing[0]
                await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
                self._outgoing.popleft()


def _encode(origin: str, kind: str, data: dict[str, Any]) -> str:
    payload = json.dumps({"o": origin, "k": kind, "d": data}, default=str, separators=(",", ":"))
    if len(payload.encode("utf-8")) > MAX_PAYLOAD:
        payload = json.dumps({"o": origin, "k": kind, "d": {"truncated": True}})
    return payload


def _decode(payload: str, own_origin: str) -> Event | None:
    """Another worker's event, or None (our own, or not ours to read)."""
    try:
        message = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("o") == own_origin:
        return None
    kind, data = message.get("k"), message.get("d")
    if not isinstance(kind, str) or not isinstance(data, dict):
        return None
    return Event(kind, data, remote=True)
