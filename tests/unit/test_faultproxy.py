"""The fault proxy itself, against a loopback echo server (bounded, no TLS)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from tests.support.faultproxy import FaultPlan, FaultProxy
from tests.support.procnet import wait_until


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()
    received: list[bytes] = []

    def serve_one(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                while data := conn.recv(65536):
                    received.append(data)
                    conn.sendall(data)

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def _exchange(port: int, payload: bytes) -> bytes:
    """Send ``payload``, half-close, read the answer until EOF or a reset (empty)."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    except ConnectionResetError:
        # A proxy that resets at once can do so before connect() has looked at the
        # socket's state: with a timeout, CPython polls and then reads SO_ERROR, which
        # by then holds the reset (seen on a loaded CI machine). Nothing was delivered.
        return b""
    with sock:
        got = b""
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            while data := sock.recv(65536):
                got += data
        except OSError:
            return got
        return got


def test_pass_forwards_both_ways(echo_port: int) -> None:
    with FaultProxy(echo_port) as proxy:
        assert _exchange(proxy.port, b"hello") == b"hello"
        assert proxy.stats["pass"] == 1


def test_refuse_and_blackhole_deliver_nothing(echo_port: int) -> None:
    with FaultProxy(echo_port, plan=FaultPlan(weights={"refuse": 1}, budget=1)) as proxy:
        assert _exchange(proxy.port, b"x" * 10) == b""
        assert _exchange(proxy.port, b"ok") == b"ok"  # budget spent: passes
        assert proxy.stats["refuse"] == 1
        proxy.set_plan(FaultPlan(weights={"blackhole": 1}, budget=1, hold_s=0.2))
        assert _exchange(proxy.port, b"lost") == b""
        assert proxy.stats["blackhole"] == 1


def test_reset_cuts_the_stream_part_way(echo_port: int) -> None:
    plan = FaultPlan(weights={"reset": 1}, budget=1, reset_after=(1000, 1000))
    with FaultProxy(echo_port, plan=plan) as proxy:
        got = _exchange(proxy.port, b"y" * 5000)
        assert len(got) < 5000
        assert proxy.stats["resets"] == 1


def test_duplicate_replays_the_whole_client_stream(echo_port: int) -> None:
    with FaultProxy(echo_port, plan=FaultPlan(weights={"duplicate": 1}, budget=1)) as proxy:
        _exchange(proxy.port, b"z" * 100)
        wait_until(lambda: proxy.stats["replays"], timeout=5, what="the replay")
        assert proxy.stats["replays"] == 1


def test_drop_response_swallows_the_answer_after_the_request(echo_port: int) -> None:
    record = struct.pack("!BHH", 0x17, 0x0303, 300) + b"r" * 300  # TLS application data
    with FaultProxy(echo_port, plan=FaultPlan(weights={"drop_response": 1}, budget=1)) as proxy:
        assert _exchange(proxy.port, record) == b""
        assert proxy.stats["responses_dropped"] == 1


def test_plans_are_bounded() -> None:
    with pytest.raises(ValueError, match="unknown"):
        FaultPlan(weights={"meteor": 1})
    with pytest.raises(ValueError, match="bounded"):
        FaultPlan(delay_s=(0, 10))
