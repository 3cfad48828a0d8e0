"""End-to-end delivery between two real node processes on loopback (US -> RU).

Run: ``.venv/bin/python benchmarks/delivery.py [--quick] [--profile DIR] [--breakdown]``.

Two nodes are created in a temporary folder and started as separate OS processes
(``molink serve``, the same as ``molink demo``). Then:

(a) latency: sequential FLASH messages, one at a time. Each is timed from the
    client receiving 201 (durably stored and logged at US) until the delivery
    receipt is committed at US. Completion is observed by polling US's SQLite
    database read-only every 0.5 ms (this process, not the nodes, pays for that,
    and it adds up to ~0.6 ms of observation delay; the ``delivered_at`` stamp
    the node writes just before committing is reported alongside);
(b) throughput: 8 sender threads, each with its own HTTP client, POST mixed-
    precedence messages; delivered-and-receipted messages per second from the
    first POST until the last receipt is committed (polled every 10 ms), plus the
    CPU seconds per message of both node processes (utime+stime from
    /proc/PID/stat) and each node's peak RSS (VmHWM from /proc/PID/status).

``--profile DIR`` runs both nodes under cProfile (every thread: the event loop
and the worker threads that do the database work) and prints where the time
goes after the run; the ``.prof`` files stay in DIR. Profiling slows the nodes,
so its figures are not the benchmark's. ``--breakdown`` instead times each service
step in this process (no HTTP): submit, due query, receive, receipts, log
integration, and the same requests through the ASGI apps.

Latency and rates are wall-clock and suffer when other processes share the two
cores (the load average is printed); CPU per message does not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from tests.support.procnet import ProcNet, ProcNode

PRECEDENCES = ("ROUTINE", "PRIORITY", "IMMEDIATE", "FLASH", "FLASH OVERRIDE")
BODY = "Request deconfliction of the northern corridor between 0400Z and 0600Z. " * 4
TARGETS = {"p50_ms": 8.0, "p99_ms": 20.0, "rate": 1000.0, "rss_mb": 150.0}
CLK_TCK = os.sysconf("SC_CLK_TCK")
WARMUP_S = 4.0


# -- machine and process readings -------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (proc(5): fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def reader(node: ProcNode) -> sqlite3.Connection:
    """A read-only connection to a node's SQLite database (WAL: never blocks the node)."""
    path = node.home / "node.db"
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)


def message(precedence: str, n: int) -> dict[str, Any]:
    return {"to": ["RU"], "precedence": precedence, "subject": f"bench {n}", "body": BODY}


# -- (a) latency ------------------------------------------------------------------


@dataclass
class Latency:
    committed_ms: list[float]  # 201 received -> receipt committed at US (observed)
    stamped_ms: list[float]  # 201 received -> delivered_at stamp (before the commit)
    submit_ms: list[float]  # POST sent -> 201 received


def bench_latency(net: ProcNet, count: int, warmup: int = 20) -> Latency:
    out = Latency([], [], [])
    db = reader(net["US"])
    with net["US"].client() as us:
        for n in range(warmup + count):
            sent = time.perf_counter()
            answer = us.post("/api/v1/messages", json=message("FLASH", n))
            accepted, accepted_wall = time.perf_counter(), time.time()
            if answer.status_code != 201:
                raise SystemExit(f"POST failed: {answer.status_code} {answer.text}")
            mid = answer.json()["id"]
            while True:
                row = db.execute(
                    "SELECT status, delivered_at FROM deliveries WHERE message_id = ?", (mid,)
                ).fetchone()
                if row is not None and row[0] == "delivered":
                    break
                if time.perf_counter() - accepted > 30:
                    raise SystemExit(f"message {mid} not delivered within 30 s")
                time.sleep(0.0005)
            done = time.perf_counter()
            if n >= warmup:
                out.committed_ms.append((done - accepted) * 1000)
                out.stamped_ms.append(row[1] / 1000 - accepted_wall * 1000)
                out.submit_ms.append((accepted - sent) * 1000)
    db.close()
    return out


# -- (b) throughput ----------------------------------------------------------------


@dataclass
class Throughput:
    messages: int
    seconds: float  # first POST -> last receipt committed
    accept_seconds: float  # first POST -> last 201
    node_cpu_s: dict[str, float]
    client_cpu_s: float


def _sender(
    node: ProcNode, count: int, offset: int, errors: list[str], go: threading.Event
) -> None:
    with node.client(timeout=30.0) as client:
        go.wait()
        for i in range(count):
            n = offset + i
            answer = client.post("/api/v1/messages", json=message(PRECEDENCES[n % 5], n))
            if answer.status_code != 201:
                errors.append(f"{answer.status_code}: {answer.text[:200]}")
                return


def _delivered(db: sqlite3.Connection) -> int:
    return int(
        db.execute("SELECT count(*) FROM deliveries WHERE status = 'delivered'").fetchone()[0]
    )


def bench_throughput(net: ProcNet, total: int, senders: int) -> Throughput:
    db = reader(net["US"])
    base = _delivered(db)
    pids = {party: node.pid for party, node in net.nodes.items()}
    errors: list[str] = []
    go = threading.Event()
    per = total // senders
    threads = [
        threading.Thread(target=_sender, args=(net["US"], per, k * per, errors, go), daemon=True)
        for k in range(senders)
    ]
    for thread in threads:
        thread.start()
    cpu0 = {party: cpu_seconds(pid) for party, pid in pids.items()}
    own0 = own_cpu_seconds()
    start = time.perf_counter()
    go.set()
    accepted_at = None
    deadline = start + 120
    while _delivered(db) < base + per * senders:
        if accepted_at is None and not any(t.is_alive() for t in threads):
            accepted_at = time.perf_counter()
        if errors:
            raise SystemExit(f"a sender failed: {errors[0]}")
        if time.perf_counter() > deadline:
            raise SystemExit("throughput run did not finish within 120 s")
        time.sleep(0.01)
    end = time.perf_counter()
    for thread in threads:
        thread.join(timeout=30)
    cpu1 = {party: cpu_seconds(pid) for party, pid in pids.items()}
    db.close()
    return Throughput(
        messages=per * senders,
        seconds=end - start,
        accept_seconds=(accepted_at or end) - start,
        node_cpu_s={party: cpu1[party] - cpu0[party] for party in pids},
        client_cpu_s=own_cpu_seconds() - own0,
    )


# -- output -----------------------------------------------------------------------


def _row(name: str, value: str, target: str = "", met: str = "") -> None:
    print(f"| {name:<58} | {value:>12} | {target:>9} | {met:<7} |")


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def report(lat: Latency, tp: Throughput, rss: dict[str, float], senders: int) -> None:
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print(f"| {'measure':<58} | {'value':>12} | {'target':>9} | {'':<7} |")
    print(f"|{'-' * 60}|{'-' * 14}|{'-' * 11}|{'-' * 9}|")
    n = len(lat.committed_ms)
    p50, p95, p99 = (pct(lat.committed_ms, p) for p in (50, 95, 99))
    _row(
        f"(a) FLASH, {n} sequential: 201 -> receipt committed, p50",
        f"{p50:.2f} ms",
        "≤ 8 ms",
        _met(p50 <= 8),
    )
    _row("    p95", f"{p95:.2f} ms")
    _row("    p99", f"{p99:.2f} ms", "≤ 20 ms", _met(p99 <= 20))
    _row("    max", f"{max(lat.committed_ms):.2f} ms")
    s50, s99 = pct(lat.stamped_ms, 50), pct(lat.stamped_ms, 99)
    _row("    201 -> delivered_at stamp (no poll delay), p50 / p99", f"{s50:.1f} / {s99:.1f}")
    u50, u99 = pct(lat.submit_ms, 50), pct(lat.submit_ms, 99)
    _row("    POST -> 201 (submit: sign, seal, commit), p50 / p99 ms", f"{u50:.1f} / {u99:.1f}")
    rate = tp.messages / tp.seconds
    _row(
        f"(b) {senders} senders, {tp.messages} msgs: delivered+receipted/s",
        f"{rate:.0f}/s",
        "≥ 1000/s",
        _met(rate >= 1000),
    )
    _row("    accepted (201) per second", f"{tp.messages / tp.accept_seconds:.0f}/s")
    _row("    first POST -> last receipt", f"{tp.seconds:.2f} s")
    both = sum(tp.node_cpu_s.values())
    _row("    node CPU per message, US + RU", f"{both / tp.messages * 1000:.2f} ms")
    for party, cpu in tp.node_cpu_s.items():
        _row(f"      {party}", f"{cpu / tp.messages * 1000:.2f} ms")
    _row(
        "    benchmark client CPU per message (8 httpx clients)",
        f"{tp.client_cpu_s / tp.messages * 1000:.2f} ms",
    )
    for party, mb in rss.items():
        _row(f"peak RSS (VmHWM) {party}", f"{mb:.0f} MB", "≤ 150 MB", _met(mb <= 150))


# -- profiling --------------------------------------------------------------------


def serve_profiled(out: Path, home: Path, clock: str) -> None:
    """Run one node with a cProfile profiler in every thread; merge them into ``out``.

    ``clock`` "cpu" times each thread's own CPU (``time.thread_time``): where the CPU
    per message goes. "wall" includes waiting (locks, SQLite's busy handler, I/O).
    """
    import cProfile
    import pstats

    from molink.cli.serve import serve_node

    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def start_thread_profiler(*_: Any) -> None:
        profile = new_profile()
        with lock:
            profiles.append(profile)
        profile.enable()  # replaces this hook for the calling thread

    def new_profile() -> cProfile.Profile:
        return cProfile.Profile(time.thread_time) if clock == "cpu" else cProfile.Profile()

    main = new_profile()
    profiles.append(main)
    threading.setprofile(start_thread_profiler)
    main.enable()
    try:
        serve_node(home)
    except KeyboardInterrupt:
        pass
    finally:
        main.disable()
        threading.setprofile(None)
        with lock:
            stats = pstats.Stats(profiles[0])
            for profile in profiles[1:]:
                try:
                    stats.add(profile)
                except TypeError:  # a profiler that never saw a call
                    continue
        stats.dump_stats(str(out))


def print_profile(path: Path, party: str, messages: int) -> None:
    import pstats

    print(f"\n--- {party}: top functions by own time (all threads; per message = / {messages})")
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(25)
    print(f"--- {party}: top by cumulative time")
    stats.sort_stats("cumulative").print_stats(40)


def _wrap_profiled(directory: Path, clock: str) -> Callable[[ProcNode, list[str]], list[str]]:
    script = str(Path(__file__).resolve())

    def wrap(node: ProcNode, _cmd: list[str]) -> list[str]:
        out = directory / f"{node.party}.prof"
        return [sys.executable, script, "--serve-profiled", str(out), str(node.home), clock]

    return wrap


# -- breakdown: in-process CPU per step (no HTTP) ---------------------------------


def _cpu_ms(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.thread_time()
    value = fn()
    return (time.thread_time() - start) * 1000, value


async def _asgi_call(app: Any, method: str, path: str, body: bytes, headers: dict[str, str]) -> int:
    """One request straight into the ASGI app (no socket, no TLS, no client); its status."""
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 443),
    }
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        await asyncio.Event().wait()  # the client stays connected (as httpx's transport does)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))

    await app(scope, receive, send)
    return status[0]


async def _framework_costs(
    net: ProcNet, us: Any, ru: Any, count: int, note: Callable[[str, float], None]
) -> None:
    """The same work through the ASGI apps (FastAPI, pydantic, auth), minus sockets and TLS.

    Process CPU (the sync endpoints run in a worker thread).
    """
    import json

    from molink.api.app import create_app
    from molink.core.canonical import canonical_json
    from molink.core.httpsig import sign_request

    us_app, ru_app = create_app(us, run_workers=False), create_app(ru, run_workers=False)
    auth = {"Authorization": f"Bearer {net['US'].token}", "Content-Type": "application/json"}
    link = us.outbox.links["RU"]
    for n in range(max(20, count // 2)):
        body = json.dumps(message("FLASH", n)).encode()
        start = time.process_time()
        code = await _asgi_call(us_app, "POST", "/api/v1/messages", body, auth)
        if n >= 10:
            note(
                "US  POST /api/v1/messages via ASGI (incl. send)",
                (time.process_time() - start) * 1000,
            )
        if code != 201:
            raise SystemExit(f"ASGI POST answered {code}")
        items = link._due(us.ctx.now_us())[:1]
        batch = canonical_json({"envelopes": [item.envelope for item in items]})
        start = time.process_time()
        headers = sign_request(
            us.ctx.keys.sig_private,
            keyid=us.ctx.keys.public.sig_kid,
            method="POST",
            path="/federation/v1/envelopes",
            body=batch,
            now=us.ctx.clock.now(),
        )
        code = await _asgi_call(
            ru_app,
            "POST",
            "/federation/v1/envelopes",
            batch,
            {**headers, "Content-Type": "application/json"},
        )
        if n >= 10:
            note(
                "RU  POST /federation/v1/envelopes via ASGI, batch 1",
                (time.process_time() - start) * 1000,
            )
        if code != 200:
            raise SystemExit(f"ASGI envelopes answered {code}")
        with us.ctx.db.write() as conn:  # not delivered: keep the outbox empty for the next
            us.ctx.messages.mark_attempt(conn, items, None, 2**62)


def breakdown(root: Path, count: int) -> None:
    """CPU per message of each service step, called in this process on real node folders.

    Same config, SQLite settings and keys as the served nodes; no HTTP, no threads.
    What the live run costs beyond these steps is the HTTP stack (server and client),
    the background workers (log integration, witnessing, duty scans) and waiting.
    """
    from molink.core.precedence import Precedence

    net = ProcNet(root, ["US", "RU"])
    us, ru = net.runtime("US"), net.runtime("RU")
    us.outbox.refresh_peers()
    link = us.outbox.links["RU"]
    steps: dict[str, list[float]] = {}

    def note(name: str, ms: float, per: int = 1) -> None:
        steps.setdefault(name, []).extend([ms / per] * per)

    def send() -> Any:
        return us.messaging.send(
            to=["RU"], precedence=Precedence.FLASH, subject="bench", body=BODY, lang="en"
        )

    for _ in range(20):  # warm caches (SQLAlchemy statement cache, key objects)
        send()
    for batch in (1, 64):
        for _ in range(max(1, count // (2 * batch))):
            for _ in range(batch):
                ms, _ = _cpu_ms(send)
                note("US  submit: messaging.send (sign, seal, 1 txn)", ms)
            ms, items = _cpu_ms(lambda: link._due(us.ctx.now_us()))
            items = items[:batch]
            note(f"US  outbox: due query, batch {batch}", ms, len(items))
            envelopes = [item.envelope for item in items]
            ms, results = _cpu_ms(partial(ru.inbound.receive, envelopes))
            note(f"RU  inbound.receive (open, verify, 1 txn), batch {batch}", ms, len(items))
            answers = [r.to_json() for r in results]
            ms, _ = _cpu_ms(partial(link._record_results, items, answers, "bench"))
            note(f"US  outbox: verify + record receipts, batch {batch}", ms, len(items))
    with us.ctx.db.read() as conn:
        entries = us.ctx.log.size(conn)
    ms, _ = _cpu_ms(us.log.integrate)
    note("US  log.integrate + sign checkpoint (per log entry)", ms / max(1, entries))

    asyncio.run(_framework_costs(net, us, ru, count, note))
    print(f"\nin-process CPU per message ({count} messages; median per step)")
    print(f"| {'step':<58} | {'CPU ms':>8} |")
    print(f"|{'-' * 60}|{'-' * 10}|")
    for name, samples in steps.items():
        print(f"| {name:<58} | {pct(samples, 50):>8.3f} |")
    us.ctx.db.dispose()
    ru.ctx.db.dispose()


# -- main -------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 sequential, 400 concurrent")
    parser.add_argument("--sequential", type=int, default=300)
    parser.add_argument("--concurrent", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--profile", type=Path, help="run the nodes under cProfile into DIR")
    parser.add_argument(
        "--breakdown", action="store_true", help="only time each service step, in-process"
    )
    parser.add_argument(
        "--profile-clock", choices=["cpu", "wall"], default="cpu", help="what --profile times"
    )
    parser.add_argument(
        "--serve-profiled", nargs=3, metavar=("OUT", "HOME", "CLOCK"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve_profiled:
        # uvicorn re-raises SIGTERM after its graceful shutdown: make that an exception
        # so that the profiles are written on the way out.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        out, home, clock = args.serve_profiled
        serve_profiled(Path(out), Path(home), clock)
        return
    sequential, concurrent = (60, 400) if args.quick else (args.sequential, args.concurrent)
    if args.breakdown:
        with tempfile.TemporaryDirectory(prefix="molink-bench-") as tmp:
            breakdown(Path(tmp) / "net", sequential)
        return
    wrap = None
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        wrap = _wrap_profiled(args.profile.resolve(), args.profile_clock)
    with tempfile.TemporaryDirectory(prefix="molink-bench-") as tmp:
        where = args.profile.resolve() / "net" if args.profile else Path(tmp) / "net"
        net = ProcNet(where, ["US", "RU"], wrap=wrap)
        try:
            print(f"starting US and RU in {where} ...", flush=True)
            net.start()
            # A node answers as soon as it is up, then warms up in the background for
            # about two seconds (conflict index, national boundaries, then it freezes
            # its long-lived objects out of the garbage collector). Measure the steady
            # state, not the warm-up: the README's figures are a watch, not a boot.
            time.sleep(WARMUP_S)
            lat = bench_latency(net, sequential)
            tp = bench_throughput(net, concurrent, args.senders)
            rss = {party: peak_rss_mb(node.pid) for party, node in net.nodes.items()}
        finally:
            net.close(grace_s=60 if args.profile else 5)
        report(lat, tp, rss, args.senders)
        if args.profile:
            total = sequential + concurrent + 20
            for party in net.nodes:
                path = args.profile / f"{party}.prof"
                if path.exists():
                    print_profile(path, party, total)


if __name__ == "__main__":
    try:
        main()
    except httpx.HTTPError as exc:
        raise SystemExit(f"benchmark failed: {exc!r}") from exc
