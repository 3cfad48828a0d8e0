"""Delivery throughput with 1, 2 and 4 workers per node on PostgreSQL, beside SQLite.

Run: ``.venv/bin/python benchmarks/workers.py [--quick] [--messages N] [--workers 1,2,4]``.

For each configuration two nodes, US and RU, run as real processes on loopback
(``molink serve --workers N``), each on a database of its own: SQLite files, or fresh
PostgreSQL databases on ``MOLINK_TEST_PG`` (default ``postgresql://127.0.0.1:5432/test``,
dropped afterwards). Eight client threads POST mixed-precedence messages to US; the
run ends when US has recorded a verified receipt for every one. Reported per row:

* accepted/s: POSTs answered 201 per second (signed, sealed, stored and logged);
* delivered/s: messages from the first POST to the last receipt recorded;
* CPU ms/msg: CPU time of every process of each node (supervisor and workers, from
  /proc), per message, for US (accepts, signs, seals, sends) and RU (receives);
* load: the 1-minute load average when the row finished (other work on the machine
  slows wall-clock rates, not CPU per message).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from molink.storage.db import Database
from molink.storage.schema import deliveries, messages
from tests.support.pgtest import TestDatabases, pg_server
from tests.support.procnet import ProcNet, ProcNode

PRECEDENCES = ("ROUTINE", "PRIORITY", "IMMEDIATE", "FLASH")
BODY = "Request deconfliction of the northern corridor between 0400Z and 0600Z. " * 4
SENDERS = 8
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    engine: str
    workers: int
    messages: int
    accepted_per_s: float
    delivered_per_s: float
    wall_s: float
    us_cpu_ms: float
    ru_cpu_ms: float
    load: float


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's workers are children of the supervisor)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _cpu_s(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1]
        except OSError:
            continue
        parts = fields.split()
        total += (int(parts[11]) + int(parts[12])) / CLK_TCK
    return total


def _post_all(node: ProcNode, count: int) -> float:
    """POST ``count`` messages from ``SENDERS`` threads; returns the seconds it took."""
    errors: list[str] = []

    def send(first: int) -> None:
        with node.client(timeout=120.0) as client:
            for i in range(first, count, SENDERS):
                r = client.post(
                    "/api/v1/messages",
                    json={
                        "to": ["RU"],
                        "precedence": PRECEDENCES[i % len(PRECEDENCES)],
                        "subject": f"bench {i}",
                        "body": BODY,
                    },
                )
                if r.status_code != 201:
                    errors.append(f"{r.status_code} {r.text[:120]}")

    started = time.perf_counter()
    threads = [threading.Thread(target=send, args=(n,)) for n in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"POST failed: {errors[:3]}")
    return time.perf_counter() - started


def _delivered(db: Database) -> int:
    """Benchmark messages with a receipt recorded (line tests and the like not counted)."""
    with db.read() as conn:
        query = (
            select(func.count())
            .select_from(deliveries)
            .join(messages, messages.c.id == deliveries.c.message_id)
            .where(deliveries.c.status == "delivered", messages.c.subject.like("bench %"))
        )
        return int(conn.execute(query).scalar_one())


def run_one(root: Path, engine: str, workers: int, count: int, pg: TestDatabases | None) -> Row:
    urls: dict[str, str] = {}
    if pg is not None:
        urls = {party: pg.database().libpq_url for party in ("US", "RU")}
    net = ProcNet(
        root / f"{engine}-{workers}",
        ["US", "RU"],
        database_urls=urls,
        wrap=lambda _node, cmd: [*cmd, "--workers", str(workers)] if workers > 1 else cmd,
        delivery={"batch_size": 64},
    )
    try:
        net.start(timeout=240)
        us_config = net["US"].config
        watch = Database(us_config.database_url, base=us_config.home, pool_size=1)
        pids = {party: _tree(net[party].pid) for party in ("US", "RU")}
        cpu_before = {party: _cpu_s(p) for party, p in pids.items()}
        started = time.perf_counter()
        post_s = _post_all(net["US"], count)
        while _delivered(watch) < count:
            time.sleep(0.05)
        wall = time.perf_counter() - started
        cpu = {party: _cpu_s(p) - cpu_before[party] for party, p in pids.items()}
        watch.dispose()
    finally:
        net.close()
    return Row(
        engine=engine,
        workers=workers,
        messages=count,
        accepted_per_s=count / post_s,
        delivered_per_s=count / wall,
        wall_s=wall,
        us_cpu_ms=cpu["US"] * 1000 / count,
        ru_cpu_ms=cpu["RU"] * 1000 / count,
        load=os.getloadavg()[0],
    )


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'engine':<10} {'workers':>7} {'messages':>8} {'accepted/s':>10} "
        f"{'delivered/s':>11} {'wall s':>7} {'CPU ms/msg US':>13} {'RU':>6} {'load':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.engine:<10} {r.workers:>7} {r.messages:>8} {r.accepted_per_s:>10.0f} "
            f"{r.delivered_per_s:>11.0f} {r.wall_s:>7.1f} {r.us_cpu_ms:>13.1f} "
            f"{r.ru_cpu_ms:>6.1f} {r.load:>5.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 messages per row")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,4", help="PostgreSQL worker counts")
    args = parser.parse_args()
    count = 300 if args.quick else args.messages
    counts = [int(n) for n in args.workers.split(",")]
    print(f"molink workers benchmark: {count} messages US -> RU, {SENDERS} client threads, ")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start\n")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="molink-workers-") as tmp:
        root = Path(tmp)
        rows.append(run_one(root, "sqlite", 1, count, None))
        server = pg_server()
        if not server.reachable:
            print(f"PostgreSQL not reachable at {server.url} ({server.detail}): SQLite only\n")
        else:
            pg = TestDatabases(server)
            try:
                for workers in counts:
                    rows.append(run_one(root, "postgresql", workers, count, pg))
                    pg.release(0)
            finally:
                pg.close()
    print_table(rows)


if __name__ == "__main__":
    main()
