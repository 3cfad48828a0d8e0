"""A Cursor-on-Target TCP listener: TAK clients stream CoT events; they become track points.

Plain TCP, as TAK's "streaming" input (protocol version 0, XML events back to back), bound to
127.0.0.1 unless configured otherwise: it has no authentication, so whoever can reach the port
can submit tracks (put it behind a TLS terminator, or keep it on loopback).

A malformed or hostile event is refused and counted, and the connection goes on; a stream
that cannot be framed (no ``</event>`` within 64 KiB, or protobuf) is counted and closed.
Nothing a client sends can stop the listener. Accepted points are gathered and ingested in
batches at least every ``flush_s`` seconds (default 0.2 s), so an intrusion alert is raised
within one second.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass, field

import anyio.to_thread
import numpy as np

from molink.core.cot import CotPoint, CotStream, parse_event
from molink.core.track_input import PointColumns
from molink.errors import MalformedData, MolinkError
from molink.services.tracks import TrackService

__all__ = ["CotListener", "CotStats"]


@dataclass
class CotStats:
    """Counters since start: events accepted and refused, connections, batches ingested."""

    accepted: int = 0
    refused: int = 0
    connections: int = 0
    open: int = 0
    closed_unframed: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "refused": self.refused,
            "connections": self.connections,
            "open": self.open,
            "closed_unframed": self.closed_unframed,
            "batches": self.batches,
            "last_errors": self.errors[-5:],
        }


class CotListener:
    """Listens on ``host:port`` (0 picks a free port; see ``port`` after ``start``)."""

    def __init__(
        self,
        tracks: TrackService,
        *,
        own_party: str,
        host: str = "127.0.0.1",
        port: int = 8087,
        flush_s: float = 0.2,
        batch_points: int = 1000,
        max_connections: int = 64,
        idle_timeout_s: float = 600.0,
    ) -> None:
        self._tracks = tracks
        self._own = own_party
        self._host, self._port = host, port
        self._flush_s = flush_s
        self._batch = batch_points
        self._max_conn = max_connections
        self._idle = idle_timeout_s
        self._pending: list[tuple[CotPoint, bytes]] = []
        self._server: asyncio.Server | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self.stats = CotStats()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)
        self._flusher = asyncio.create_task(self._every(), name="cot-flush")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.flush()

    async def _every(self) -> None:
        while True:
            await asyncio.sleep(self._flush_s)
            await self.flush()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        if self.stats.open >= self._max_conn:
            writer.close()
            return
        self.stats.open += 1
        stream = CotStream()
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(65536), timeout=self._idle)
                except (TimeoutError, ConnectionError):
                    break
                if not data:
                    break
                try:
                    events = stream.feed(data)
                except MalformedData as exc:
                    self.stats.refused += 1
                    self.stats.closed_unframed += 1
                    self._note(exc)
                    break
                self._take(events)
                if len(self._pending) >= self._batch:
                    await self.flush()
        finally:
            self.stats.open -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _take(self, events: list[bytes]) -> None:
        for raw in events:
            try:
                point = parse_event(raw, own_party=self._own)
            except MalformedData as exc:
                self.stats.refused += 1
                self._note(exc)
                continue
            self.stats.accepted += 1
            self._pending.append((point, raw))

    def _note(self, exc: MolinkError) -> None:
        self.stats.errors.append(exc.message[:200])
        del self.stats.errors[:-20]

    async def flush(self) -> None:
        """Ingest what has been gathered, one batch per attributed party."""
        async with self._flush_lock:
            pending, self._pending = self._pending, []
            by_party: dict[str, list[tuple[CotPoint, bytes]]] = {}
            for point, raw in pending:
                by_party.setdefault(point.party or "UNKNOWN", []).append((point, raw))
            for party, items in sorted(by_party.items()):
                await self._ingest(party, items)

    async def _ingest(self, party: str, items: list[tuple[CotPoint, bytes]]) -> None:
        digest = hashlib.sha256()
        for _, raw in items:
            digest.update(raw)
        pts = [p for p, _ in items]
        cols = PointColumns(
            [p.uid for p in pts],
            np.asarray([p.time for p in pts], dtype=np.int64),
            np.asarray([p.lat for p in pts], dtype=np.float64),
            np.asarray([p.lon for p in pts], dtype=np.float64),
            np.asarray([p.alt_m for p in pts], dtype=np.float64),
        )
        try:
            await anyio.to_thread.run_sync(
                lambda: self._tracks.ingest(
                    cols, party=party, source="cot", digest=digest.hexdigest(), operator="cot"
                )
            )
            self.stats.batches += 1
        except MolinkError as exc:  # e.g. the database is busy: counted, the listener lives on
            self._note(exc)
