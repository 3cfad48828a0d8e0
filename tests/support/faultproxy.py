"""A fault-injecting TCP proxy on 127.0.0.1 for tests with real node processes.

The proxy sits between two nodes at the TCP level, so TLS passes through it
untouched: it can break, slow, cut, duplicate and reorder bytes, but it can
neither read nor forge what the nodes say. Each accepted connection gets one
*fault*, drawn from a seeded RNG with the configured weights:

``pass``           forward both ways unchanged.
``refuse``         close the client at once; nothing reaches the server.
``blackhole``      read and discard the client's bytes; close after ``hold_s``.
``delay``          hold every chunk ``delay_s`` (both ways, order kept within the
                   connection, so later connections overtake earlier ones).
``reset``          forward, then abort both sides with a TCP RST after a random
                   number of bytes (possibly in the middle of a request).
``drop_response``  forward the client's request to the server, discard the server's
                   answer, then reset the client: the server acted, the client
                   does not know (the case that makes retries produce duplicates).
``duplicate``      send one client chunk twice (TLS sees a corrupted stream), and
                   replay the whole client byte stream on a fresh server connection
                   once the connection ends (a network attacker's replay).
``reorder``        hold one client chunk and send the next one first.

Everything is bounded: ``budget`` faulty connections at most (then every
connection passes), every hold or delay is capped, and ``stop()`` closes all
sockets. The proxy runs its own event loop in a daemon thread, so synchronous
tests (``tests.support.procnet``) can use it; ``stats`` counts what it did.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["FAULTS", "FaultPlan", "FaultProxy"]

HOST = "127.0.0.1"
FAULTS = (
    "pass",
    "refuse",
    "blackhole",
    "delay",
    "reset",
    "drop_response",
    "duplicate",
    "reorder",
)
_CHUNK = 65536
_TLS_APPDATA = 0x17


@dataclass
class FaultPlan:
    """Weights per fault (missing = 0) and the bounds of each fault."""

    weights: Mapping[str, float] = field(default_factory=lambda: {"pass": 1.0})
    budget: int = 1000
    delay_s: tuple[float, float] = (0.02, 0.3)
    hold_s: float = 1.5
    reset_after: tuple[int, int] = (1, 20_000)
    request_bytes: int = 200  # client application data that counts as "request sent"

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        if self.delay_s[1] > 2.0 or self.hold_s > 5.0:
            raise ValueError("delays are bounded: delay_s <= 2 s, hold_s <= 5 s")


class _TlsRecords:
    """Counts TLS application-data bytes in one direction (record headers, RFC 8446 §5.1)."""

    def __init__(self) -> None:
        self._buf = b""
        self.appdata = 0

    def feed(self, data: bytes) -> None:
        self._buf += data
        while len(self._buf) >= 5:
            kind, _version, length = struct.unpack("!BHH", self._buf[:5])
            if len(self._buf) < 5 + length:
                return
            if kind == _TLS_APPDATA:
                self.appdata += length
            self._buf = self._buf[5 + length :]


class FaultProxy:
    """``127.0.0.1:port`` -> ``127.0.0.1:target_port`` with injected faults."""

    def __init__(self, target_port: int, *, plan: FaultPlan | None = None, seed: int = 0) -> None:
        self.target_port = target_port
        self.port = 0
        self._plan = plan or FaultPlan()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.stats: Counter[str] = Counter()
        self._faulty = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    # -- control (any thread) ---------------------------------------------------------

    def set_plan(self, plan: FaultPlan, *, cut_existing: bool = False) -> None:
        """Use ``plan`` for new connections (a fresh budget); ``cut_existing`` resets the
        open ones, so that the next request meets the new plan."""
        with self._lock:
            self._plan = plan
            self._faulty = 0
        loop = self._loop
        if cut_existing and loop is not None:
            asyncio.run_coroutine_threadsafe(self._cut_all(), loop).result(timeout=10)

    async def _cut_all(self) -> None:
        for writer in list(self._writers):
            _abort(writer)

    def retarget(self, target_port: int) -> None:
        """Forward new connections to another port (a node that moved)."""
        self.target_port = target_port

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._run, name="faultproxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("fault proxy did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return
        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        self._thread.join(timeout=10)
        self._loop = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- the loop thread ----------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._listen())
            self._ready.set()
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            _abort(writer)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        asyncio.get_running_loop().call_soon(asyncio.get_running_loop().stop)

    def _draw(self) -> tuple[str, FaultPlan]:
        with self._lock:
            plan = self._plan
            fault = "pass"
            if self._faulty < plan.budget:
                names = [n for n in FAULTS if plan.weights.get(n, 0) > 0]
                if names:
                    fault = self._rng.choices(names, [plan.weights[n] for n in names])[0]
            if fault != "pass":
                self._faulty += 1
            self.stats[fault] += 1
            return fault, plan

    def _uniform(self, low: float, high: float) -> float:
        with self._lock:
            return self._rng.uniform(low, high)

    def _randint(self, low: int, high: int) -> int:
        with self._lock:
            return self._rng.randint(low, high)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        fault, plan = self._draw()
        try:
            if fault == "refuse":
                _abort(writer)
                return
            if fault == "blackhole":
                with contextlib.suppress(TimeoutError, OSError):
                    await asyncio.wait_for(_discard(reader), timeout=plan.hold_s)
                return
            await self._forward(fault, plan, reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            self.stats["socket_errors"] += 1
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()

    async def _forward(
        self,
        fault: str,
        plan: FaultPlan,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(HOST, self.target_port)
        self._writers.add(up_writer)
        conn = _Connection(self, fault, plan, writer, up_writer)
        try:
            upward = asyncio.create_task(conn.pump_up(reader))
            downward = asyncio.create_task(conn.pump_down(up_reader))
            done, pending = await asyncio.wait(
                {upward, downward}, return_when=asyncio.FIRST_COMPLETED
            )
            failed = any(not t.cancelled() and t.exception() is not None for t in done)
            if failed and not conn.cut:
                conn.abort()  # one side broke: pass the break on to the other
            if conn.cut:
                for task in pending:
                    task.cancel()
            else:
                # One side closed: let the other finish (bounded), as TCP half-close would.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 10)
            for task in (upward, downward):
                task.cancel()
            await asyncio.gather(upward, downward, return_exceptions=True)
        finally:
            self._writers.discard(up_writer)
            with contextlib.suppress(OSError, RuntimeError):
                up_writer.close()
        if fault == "duplicate" and conn.sent_up:
            await self._replay(b"".join(conn.sent_up), plan)

    async def _replay(self, data: bytes, plan: FaultPlan) -> None:
        """Send a recorded client stream again on a new connection (TLS must refuse it)."""
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            return
        self._writers.add(up_writer)
        try:
            up_writer.write(data)
            await up_writer.drain()
            with contextlib.suppress(TimeoutError):
                answer = await asyncio.wait_for(up_reader.read(_CHUNK), timeout=plan.hold_s)
                self.stats["replay_answered_bytes"] += len(answer)
            self.stats["replays"] += 1
        except OSError:
            self.stats["replays"] += 1
        finally:
            self._writers.discard(up_writer)
            with contextlib.suppress(OSError, RuntimeError):
                up_writer.close()


class _Connection:
    """One proxied connection and the state its fault needs."""

    def __init__(
        self,
        proxy: FaultProxy,
        fault: str,
        plan: FaultPlan,
        client: asyncio.StreamWriter,
        server: asyncio.StreamWriter,
    ) -> None:
        self.proxy = proxy
        self.fault = fault
        self.plan = plan
        self.client = client
        self.server = server
        self.cut = False
        self.sent_up: list[bytes] = []
        self.records = _TlsRecords()
        self.budget = proxy._randint(*plan.reset_after) if fault == "reset" else -1
        self.delay = proxy._uniform(*plan.delay_s) if fault == "delay" else 0.0
        self.dup_at = proxy._randint(2, 6) if fault == "duplicate" else -1
        self.swap_at = proxy._randint(2, 6) if fault == "reorder" else -1
        self.held: bytes | None = None
        self.chunks_up = 0

    def abort(self) -> None:
        self.cut = True
        _abort(self.client)
        _abort(self.server)

    def _reset(self) -> None:
        self.abort()
        self.proxy.stats["resets"] += 1

    def _spend(self, n: int) -> bool:
        """For ``reset``: count bytes; True once the budget is spent (connection cut)."""
        if self.budget < 0:
            return False
        self.budget -= n
        if self.budget <= 0:
            self._reset()
            return True
        return False

    async def pump_up(self, reader: asyncio.StreamReader) -> None:
        while not self.cut:
            data = await reader.read(_CHUNK)
            if not data:
                if self.held is not None:
                    self.server.write(self.held)
                with contextlib.suppress(OSError):
                    self.server.write_eof()
                return
            self.chunks_up += 1
            self.records.feed(data)
            if self.fault == "duplicate":
                self.sent_up.append(data)
            if self.delay:
                await asyncio.sleep(self.delay)
            if self._spend(len(data)):
                return
            await self._send_up(data)

    async def _send_up(self, data: bytes) -> None:
        if self.chunks_up == self.swap_at and self.held is None:
            self.held = data  # the next chunk goes first
            self.proxy.stats["reordered"] += 1
            return
        self.server.write(data)
        if self.held is not None:
            self.server.write(self.held)
            self.held = None
        if self.chunks_up == self.dup_at:
            self.server.write(data)
            self.proxy.stats["duplicated_chunks"] += 1
        await self.server.drain()

    async def pump_down(self, reader: asyncio.StreamReader) -> None:
        while not self.cut:
            data = await reader.read(_CHUNK)
            if not data:
                with contextlib.suppress(OSError):
                    self.client.write_eof()
                return
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.fault == "drop_response" and self.records.appdata > self.plan.request_bytes:
                # The request is with the server: swallow its answer, let it finish its
                # work, then cut the client off.
                self.proxy.stats["responses_dropped"] += 1
                await asyncio.sleep(min(self.plan.hold_s, 0.5))
                self._reset()
                return
            if self._spend(len(data)):
                return
            self.client.write(data)
            await self.client.drain()


async def _discard(reader: asyncio.StreamReader) -> None:
    while await reader.read(_CHUNK):
        pass


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0) instead of an orderly FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport = writer.transport
    with contextlib.suppress(OSError, RuntimeError):
        transport.abort()
