"""Several workers per node on PostgreSQL: nothing lost, nothing twice, gapless logs.

US and RU each run ``molink serve --workers 4`` on a PostgreSQL database of their
own. Eight client threads POST messages to US (the kernel spreads their connections
over US's workers); US's workers claim outbox batches concurrently and RU's workers
store them concurrently. Then, with both nodes stopped, straight from the databases:

* every accepted message is at RU exactly once and receipted at US exactly once;
* each is logged once as sent and once as receipted at US, once as received at RU;
* both logs have gapless indexes and verify (``LogService.verify_integrity``);
* several of US's workers did deliver (the claims were really shared).

The full run (4 workers, 5,000 messages) is marked slow; a smaller run is the default.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from molink.services.runtime import NodeRuntime
from molink.storage.db import Database
from molink.storage.schema import deliveries, log_entries, messages
from tests.support.pgtest import TestDatabases
from tests.support.procnet import ProcNet, ProcNode, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

WORKERS = 4
SENDERS = 8
PRECEDENCES = ("ROUTINE", "PRIORITY", "IMMEDIATE", "FLASH")


def _post_all(node: ProcNode, count: int) -> list[str]:
    """POST ``count`` messages to ``node`` from ``SENDERS`` threads; every one must be 201."""
    accepted: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()

    def send(sender: int) -> None:
        with node.client(timeout=60.0) as client:
            for i in range(sender, count, SENDERS):
                r = client.post(
                    "/api/v1/messages",
                    json={
                        "to": ["RU"],
                        "precedence": PRECEDENCES[i % len(PRECEDENCES)],
                        "subject": f"load {i}",
                        "body": f"message {i} of {count}",
                    },
                )
                with lock:
                    if r.status_code == 201:
                        accepted.append(str(r.json()["id"]))
                    else:
                        failures.append(f"{r.status_code}: {r.text[:200]}")

    threads = [threading.Thread(target=send, args=(n,)) for n in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=1800)
    assert not failures, failures[:5]
    assert len(accepted) == count
    return accepted


def _delivered(db: Database) -> int:
    with db.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(deliveries)
                .join(messages, messages.c.id == deliveries.c.message_id)
                .where(deliveries.c.status == "delivered", messages.c.type == "message")
            ).scalar_one()
        )


def _log(db: Database) -> tuple[list[int], Counter[tuple[str, str]]]:
    with db.read() as conn:
        rows = conn.execute(select(log_entries.c.idx, log_entries.c.data).order_by("idx")).all()
    kinds = Counter((str(e["type"]), str(e.get("id"))) for e in (json.loads(r.data) for r in rows))
    return [int(r.idx) for r in rows], kinds


def _check(net: ProcNet, us_db: Database, ru_db: Database, accepted: list[str]) -> None:
    ids = set(accepted)
    assert len(ids) == len(accepted), "US handed out an id twice"
    with ru_db.read() as conn:
        stored = Counter(
            conn.execute(
                select(messages.c.id).where(messages.c.direction == "in", messages.c.sender == "US")
            ).scalars()
        )
    assert ids <= set(stored), f"{len(ids - set(stored))} accepted messages lost"
    with us_db.read() as conn:
        rows = conn.execute(
            select(deliveries.c.message_id, deliveries.c.receipt, deliveries.c.claimed_by).where(
                deliveries.c.status == "delivered", deliveries.c.recipient == "RU"
            )
        ).all()
    receipted = {r.message_id: r for r in rows if r.message_id in ids}
    assert set(receipted) == ids, f"{len(ids - set(receipted))} messages without a receipt"
    assert all(r.receipt for r in receipted.values())
    senders = Counter(r.claimed_by for r in receipted.values())
    assert len(senders) >= 2, f"one worker delivered everything: {senders}"
    logged = {"US": ("message.sent", "receipt.received"), "RU": ("message.received",)}
    for db, expected in ((us_db, logged["US"]), (ru_db, logged["RU"])):
        indexes, kinds = _log(db)
        assert indexes == list(range(len(indexes))), "log indexes have gaps or repeats"
        for kind in expected:
            twice = [mid for mid in ids if kinds[(kind, mid)] != 1]
            assert not twice, f"{kind}: {len(twice)} ids logged other than once, e.g. {twice[:3]}"
    for party in ("US", "RU"):
        runtime = NodeRuntime.from_config(net[party].config, upgrade=False)
        try:
            while runtime.log.integrate() is not None:
                pass
            report = runtime.log.verify_integrity()
            assert report.ok, report.problems
            assert report.size == len(_log(runtime.ctx.db)[0])
        finally:
            runtime.ctx.db.dispose()


def _run(
    procnet: Callable[..., ProcNet], pg_databases: TestDatabases, count: int, timeout_s: float
) -> None:
    mark = pg_databases.mark()
    us_db, ru_db = pg_databases.database(), pg_databases.database()
    try:
        net = procnet(
            ["US", "RU"],
            database_urls={"US": us_db.libpq_url, "RU": ru_db.libpq_url},
            wrap=lambda _node, cmd: [*cmd, "--workers", str(WORKERS)],
        )
        net.start(timeout=180)
        accepted = _post_all(net["US"], count)
        wait_until(
            lambda: _delivered(us_db) >= count,
            timeout=timeout_s,
            interval=0.5,
            what=f"{count} messages delivered",
        )
        net.close()
        _check(net, us_db, ru_db, accepted)
    finally:
        pg_databases.release(mark)


def test_four_workers_deliver_every_message_once(
    procnet: Callable[..., ProcNet], pg_databases: TestDatabases
) -> None:
    _run(procnet, pg_databases, count=400, timeout_s=120)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_four_workers_5000_messages_none_lost_none_twice(
    procnet: Callable[..., ProcNet], pg_databases: TestDatabases
) -> None:
    _run(procnet, pg_databases, count=5000, timeout_s=600)
