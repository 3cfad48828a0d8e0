"""Benchmark of the node's log on real storage (SQLite WAL + synchronous=FULL).

Run: ``.venv/bin/python benchmarks/log.py [--entries N] [--no-serve]``. Prints one table:

* durable appends: ``LogRepo.append`` in one write transaction per batch (1, 16, 256
  entries), each commit fsynced, as the services append;
* integration: ``LogService.integrate`` (leaf hashes -> stored tree nodes -> signed
  checkpoint), and appends + integration together (one core, sequential);
* checkpoint: signing alone, and an ``integrate`` call with one new entry;
* inclusion proofs through ``DbHashReader`` at ``--entries`` (default 200,000);
* tiles served: in process through the ASGI app (httpx ASGITransport), and against a real
  ``molink serve`` (TLS on 127.0.0.1) with the server's CPU time per request.

Targets (issue "Proof"): >= 5,000 appends/s sustained; inclusion proofs < 1 ms p99.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from molink.api.app import create_app
from molink.config import NodeConfig
from molink.core.checkpoint import Checkpoint, sign_checkpoint
from molink.core.keys import PartyKeys
from molink.core.merkle import inclusion_proof
from molink.core.tiles import Tile
from molink.services.admin import add_operator, issue_token
from molink.services.clock import SystemClock, system_random
from molink.services.context import NodeContext
from molink.services.logkeys import log_signer
from molink.services.logsvc import LogService
from molink.services.provision import create_node
from molink.services.runtime import NodeRuntime
from molink.storage.db import Database
from molink.storage.files import load_keys
from molink.storage.logtree import DbHashReader
from molink.storage.migrate import migrate
from molink.transport.memory import MemoryNetwork


def _row(name: str, value: str, note: str = "") -> None:
    print(f"| {name:<50} | {value:>18} | {note:<44} |", flush=True)


def _pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def _entry(i: int) -> dict[str, Any]:
    """A realistic ``message.sent`` entry (about 330 bytes of canonical JSON)."""
    return {
        "type": "message.sent",
        "id": f"019c2d3e-8d00-7{i % 4096:03x}-8{i % 4096:03x}-{i:012x}",
        "jws_sha256": f"{i:064x}",
        "from": "US",
        "to": ["RU", "UA"],
        "channel": "us-ru-ua-hotline",
        "seq": i,
        "precedence": "FLASH",
        "time": 1_770_285_600_000 + i,
        "operator": "duty-us",
    }


def _context(db: Database) -> NodeContext:
    return NodeContext(
        keys=PartyKeys.generate("US"),
        db=db,
        clock=SystemClock(),
        random=system_random,
        log_origin="bench.molink/US",
    )


def _append(ctx: NodeContext, start: int, count: int, batch: int) -> float:
    """Append ``count`` entries in transactions of ``batch``; returns seconds."""
    began = time.perf_counter()
    for at in range(start, start + count, batch):
        with ctx.db.write() as conn:
            ctx.log.append(conn, [_entry(i) for i in range(at, at + batch)], 0)
    return time.perf_counter() - began


def bench_appends(tmp: Path) -> None:
    for batch, count in ((1, 1_500), (16, 16_000), (256, 102_400)):
        db = Database(f"sqlite:///{tmp / f'append{batch}.db'}")
        migrate(db)
        seconds = _append(_context(db), 0, count, batch)
        _row(
            f"durable append, {batch} per transaction",
            f"{count / seconds:,.0f} entries/s",
            f"{count / batch / seconds:,.0f} commits/s, {count:,} entries",
        )
        db.dispose()


def _node(tmp: Path) -> tuple[Path, NodeContext]:
    """A provisioned node folder (keys, TLS, config, database) and its context."""
    home = tmp / "node"
    create_node(home, party="US", port=_free_port(), now=datetime.now(UTC), scrypt_n=2**14)
    config = NodeConfig.load(home / "node.toml")
    keys = load_keys(config.path(config.keys.file), config.passphrase())
    db = Database(config.database_url, base=config.home)
    ctx = NodeContext(
        keys=keys, db=db, clock=SystemClock(), random=system_random, log_origin=config.log_origin
    )
    return home, ctx


def bench_integration(ctx: NodeContext, entries: int) -> LogService:
    log = LogService(ctx)
    appended = _append(ctx, 0, entries, 256)
    began = time.perf_counter()
    while log.integrate() is not None:
        pass
    integrated = time.perf_counter() - began
    _row(
        "integrate (tree nodes + signed checkpoint)",
        f"{entries / integrated:,.0f} entries/s",
        f"{entries:,} entries, 50,000 per call",
    )
    _row(
        "sustained: append (256/txn) then integrate",
        f"{entries / (appended + integrated):,.0f} entries/s",
        "both on one core, sequential",
    )
    return log


def bench_sustained_interleaved(tmp: Path) -> None:
    """Append 16 per transaction and integrate every 0.5 s, as the running node does."""
    db = Database(f"sqlite:///{tmp / 'mixed.db'}")
    migrate(db)
    ctx = _context(db)
    log = LogService(ctx)
    total, began, last = 0, time.perf_counter(), time.perf_counter()
    while time.perf_counter() - began < 5.0:
        _append(ctx, total, 16, 16)
        total += 16
        if time.perf_counter() - last >= 0.5:
            log.integrate()
            last = time.perf_counter()
    log.integrate()
    seconds = time.perf_counter() - began
    _row(
        "sustained: 16/txn + integrate every 0.5 s",
        f"{total / seconds:,.0f} entries/s",
        f"{total:,} entries in {seconds:.1f} s, one thread",
    )
    db.dispose()


def bench_checkpoint(ctx: NodeContext, log: LogService, start: int) -> None:
    signer = log_signer(ctx.keys, ctx.log_origin)
    cp = Checkpoint(ctx.log_origin, 123_456, bytes(32))
    samples = []
    for _ in range(2000):
        t = time.perf_counter_ns()
        sign_checkpoint(cp, signer)
        samples.append((time.perf_counter_ns() - t) / 1000)
    _row(
        "sign a checkpoint (p50 / p99)",
        f"{_pct(samples, 50):.0f} / {_pct(samples, 99):.0f} µs",
        "Ed25519 note",
    )
    samples = []
    for i in range(200):
        _append(ctx, start + i, 1, 1)
        t = time.perf_counter_ns()
        log.integrate()
        samples.append((time.perf_counter_ns() - t) / 1000)
    _row(
        "integrate 1 new entry + sign + commit (p50 / p99)",
        f"{_pct(samples, 50):.0f} / {_pct(samples, 99):.0f} µs",
        "one fsynced transaction",
    )


def _timed_pair(fn: Callable[[int], object], args: list[int]) -> tuple[list[float], list[float]]:
    """Wall-clock and thread-CPU microseconds per call (CPU excludes time preempted)."""
    wall, cpu = [], []
    for arg in args:
        t, c = time.perf_counter_ns(), time.thread_time_ns()
        fn(arg)
        cpu.append((time.thread_time_ns() - c) / 1000)
        wall.append((time.perf_counter_ns() - t) / 1000)
    return wall, cpu


def bench_proofs(ctx: NodeContext, log: LogService, size: int) -> None:
    rng = random.Random(6962)
    indexes = [rng.randrange(size) for _ in range(5000)]
    with ctx.db.read() as conn:
        reader = DbHashReader(conn)
        wall, cpu = _timed_pair(lambda i: inclusion_proof(i, size, reader), indexes)
    _row(
        "inclusion proof via DbHashReader (p50 / p99)",
        f"{_pct(wall, 50):.0f} / {_pct(wall, 99):.0f} µs",
        f"wall clock; size {size:,}, one SELECT",
    )
    _row(
        "  same, thread CPU time (p50 / p99)",
        f"{_pct(cpu, 50):.0f} / {_pct(cpu, 99):.0f} µs",
        "without time spent preempted by other load",
    )
    wall, cpu = _timed_pair(lambda i: log.inclusion(i, size), indexes[:2000])
    _row(
        "LogService.inclusion (p50 / p99)",
        f"{_pct(wall, 50):.0f} / {_pct(wall, 99):.0f} µs",
        f"wall; plus a read transaction; CPU p99 {_pct(cpu, 99):.0f} µs",
    )


def _tile_paths(size: int, count: int) -> list[str]:
    """Random full tiles: level 0, entry bundles and (if the log has them) level 1."""
    rng = random.Random(7)
    full0, full1 = size // 256, size // 65536
    kinds = 3 if full1 else 2
    paths = []
    for n in range(count):
        kind = n % kinds
        if kind == 0:
            paths.append(Tile(0, rng.randrange(full0)).path)
        elif kind == 1:
            paths.append(Tile(0, rng.randrange(full0), entries=True).path)
        else:
            paths.append(Tile(1, rng.randrange(full1)).path)
    return paths


def bench_tile_reads(log: LogService, size: int, requests: int) -> None:
    paths = _tile_paths(size, requests)
    began = time.thread_time()
    for path in paths:
        log.tile(path)
    cpu = (time.thread_time() - began) / len(paths)
    _row(
        "LogService.tile, no HTTP (CPU per tile)",
        f"{cpu * 1e6:,.0f} µs",
        f"=> ~{1 / cpu:,.0f} tiles/s per core (256 rows each)",
    )


def bench_asgi_tiles(ctx: NodeContext, size: int, requests: int) -> None:
    now = int(time.time() * 1_000_000)
    add_operator(ctx.db, operator_id="bench", role="duty_officer", now_us=now)
    token = issue_token(ctx.db, operator_id="bench", terminal="bench", now_us=now)
    runtime = NodeRuntime(ctx=ctx, transport=MemoryNetwork().transport(ctx.keys, ctx.clock.now))
    app = create_app(runtime, run_workers=False)
    paths = _tile_paths(size, requests)

    async def go() -> float:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://n", headers=headers
        ) as c:
            began = time.perf_counter()
            for path in paths:
                r = await c.get(f"/log/{path}")
                if r.status_code != 200:
                    raise SystemExit(f"{path}: {r.status_code} {r.text}")
            return time.perf_counter() - began

    seconds = asyncio.run(go())
    _row(
        "tiles via ASGI app (httpx ASGITransport)",
        f"{len(paths) / seconds:,.0f} req/s",
        "sequential; level-0, bundles, level-1 mixed",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_served_tiles(home: Path, size: int, requests: int) -> None:
    config = NodeConfig.load(home / "node.toml")
    token = (home / "tokens" / "duty.token").read_text().strip()
    molink = str(Path(sys.executable).with_name("molink"))
    server = subprocess.Popen(
        [molink, "serve", "--dir", str(home)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _measure_served(server, config, token, size, requests)
    finally:
        server.terminate()
        server.wait(timeout=20)


def _measure_served(
    server: subprocess.Popen[bytes], config: NodeConfig, token: str, size: int, requests: int
) -> None:
    from molink.transport.http import pinned_context

    cert = config.path(config.api.tls_cert).read_text()
    url = f"https://127.0.0.1:{config.api.port}"
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, verify=pinned_context(cert), headers=headers, timeout=10) as c:
        for _ in range(200):
            try:
                if c.get("/log/checkpoint").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("molink serve did not come up")
        paths = _tile_paths(size, requests)
        cpu0, began = _cpu_seconds(server.pid), time.perf_counter()
        for path in paths:
            if c.get(f"/log/{path}").status_code != 200:
                raise SystemExit(f"{path} failed")
        seconds = time.perf_counter() - began
        cpu = _cpu_seconds(server.pid) - cpu0
    _row(
        "tiles via real `molink serve` (TLS, keep-alive)",
        f"{len(paths) / seconds:,.0f} req/s",
        "one sync httpx client, sequential",
    )
    _row(
        "  server CPU per tile request",
        f"{cpu / len(paths) * 1e6:,.0f} µs",
        f"=> ~{len(paths) / max(cpu, 1e-9):,.0f} req/s per server core",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=200_000, help="log size for proofs/tiles")
    parser.add_argument("--tiles", type=int, default=1000, help="tile requests per measurement")
    parser.add_argument("--no-serve", action="store_true", help="skip the real `molink serve`")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="molink-bench-log-"))
    try:
        load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
        print(f"{os.cpu_count()} CPUs, load average {load} (1/5/15 min) at start")
        print(f"| {'operation':<50} | {'result':>18} | {'notes':<44} |")
        print(f"|{'-' * 52}|{'-' * 20}|{'-' * 46}|")
        bench_appends(tmp)
        bench_sustained_interleaved(tmp)
        home, ctx = _node(tmp)
        log = bench_integration(ctx, args.entries)
        bench_checkpoint(ctx, log, args.entries)
        size = args.entries + 200
        bench_proofs(ctx, log, size)
        bench_tile_reads(log, size, args.tiles)
        bench_asgi_tiles(ctx, size, args.tiles)
        ctx.db.dispose()
        if not args.no_serve:
            bench_served_tiles(home, size, args.tiles)
        load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
        print(f"load average {load} at the end")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
