"""An in-process event bus for live updates (SSE), safe to publish from worker threads.

With several workers on PostgreSQL, ``molink.services.pgevents.PgEventBus`` extends it
so that every worker's subscribers also see the other workers' events.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Event", "EventBus"]


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    remote: bool = False  # published by another worker of this node (``PgEventBus``)


class EventBus:
    """Fan-out of events to subscribers; slow subscribers drop the oldest events."""

    def __init__(self, *, queue_size: int = 1000) -> None:
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Event]]] = set()
        self._lock = threading.Lock()
        self._queue_size = queue_size

    def publish(self, kind: str, **data: Any) -> None:
        self._dispatch(Event(kind, data))

    async def run(self) -> None:
        """Background work of the bus while the node runs (none in-process)."""
        return

    def _dispatch(self, event: Event) -> None:
        """Hand ``event`` to every local subscriber (from any thread)."""
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            with contextlib.suppress(RuntimeError):  # loop closed
                loop.call_soon_threadsafe(self._put, queue, event)

    @staticmethod
    def _put(queue: asyncio.Queue[Event], event: Event) -> None:
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._subscribers.add(entry)
        try:
            yield queue
        finally:
            with self._lock:
                self._subscribers.discard(entry)
