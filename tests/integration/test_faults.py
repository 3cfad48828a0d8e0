"""Faults between and inside real node processes: a hostile network, kill -9, a locked disk.

* A fault proxy (``tests.support.faultproxy``) sits on each direction between US and
  RU (each node's peer URL for the other points at it; TLS passes through). It
  drops, delays, resets, duplicates and reorders traffic, one fault kind at a time
  and then mixed.
* Kill -9 of either node (the victim alternates) during bursts in both directions,
  with the faulty proxies still in the path.
* The receiver's SQLite database is held under an exclusive lock by the test while
  messages arrive: the sender keeps them, shows why, and retries.

Every run ends with the same checks (``tests.support.invariants``): every message
whose POST answered 201 is delivered exactly once, its receipt verifies, and both
logs verify (``LogService.verify_integrity``).
"""

from __future__ import annotations

import dataclasses
import random
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from molink.services.admin import register_peer
from molink.storage.db import Database, micros
from tests.support.faultproxy import FAULTS, FaultPlan, FaultProxy
from tests.support.invariants import (
    Burst,
    Traffic,
    await_delivered,
    check_inboxes,
    check_offline,
    listing,
)
from tests.support.procnet import ProcNet, wait_until

pytestmark = pytest.mark.integration

DELIVERY = {"request_timeout_s": 2.0, "backoff_cap_s": 2.0}
MIXED: dict[str, float] = {
    "pass": 4,
    "refuse": 1,
    "blackhole": 0.5,
    "delay": 2,
    "reset": 2,
    "drop_response": 2,
    "duplicate": 1,
    "reorder": 1,
}


@dataclasses.dataclass
class ProxiedNet:
    net: ProcNet
    proxies: dict[str, FaultProxy]  # by the party the traffic goes TO

    def plan(self, plan: FaultPlan) -> None:
        for proxy in self.proxies.values():
            proxy.set_plan(plan, cut_existing=True)

    def retarget(self) -> None:
        """After a restart a node may have moved to another port."""
        for party, proxy in self.proxies.items():
            proxy.retarget(self.net[party].config.api.port)

    def stats(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for proxy in self.proxies.values():
            for key, value in proxy.stats.items():
                total[key] = total.get(key, 0) + value
        return total


@pytest.fixture
def proxied(procnet: Callable[..., ProcNet]) -> Iterator[Callable[[int], ProxiedNet]]:
    made: list[FaultProxy] = []

    def build(seed: int) -> ProxiedNet:
        net = procnet(["US", "RU"], delivery=DELIVERY)
        proxies = {}
        now = datetime.now(UTC)
        for sender, receiver in (("US", "RU"), ("RU", "US")):
            proxy = FaultProxy(net[receiver].config.api.port, seed=seed + len(made)).start()
            made.append(proxy)
            proxies[receiver] = proxy
            peer = dataclasses.replace(net.bundle(receiver), urls=(proxy.url,))
            config = net[sender].config
            db = Database(config.database_url, base=config.home)
            try:
                register_peer(db, peer, micros(now), own_party=sender)
            finally:
                db.dispose()
        net.start()
        return ProxiedNet(net, proxies)

    try:
        yield build
    finally:
        for proxy in made:
            proxy.stop()


def _bursts(net: ProcNet, traffic: Traffic, count: int, tag: str) -> None:
    bursts = [
        Burst(net["US"], "RU", count, f"{tag}-us").start(),
        Burst(net["RU"], "US", count, f"{tag}-ru").start(),
    ]
    for burst in bursts:
        burst.join(traffic)


def _finish(net: ProcNet, traffic: Traffic) -> dict[str, int]:
    await_delivered(net, traffic, timeout=90)
    check_inboxes(net, traffic)
    net.stop("US")
    net.stop("RU")
    return check_offline(net, traffic)


def test_each_fault_kind_on_both_links_loses_and_duplicates_nothing(
    proxied: Callable[[int], ProxiedNet],
) -> None:
    p = proxied(1)
    traffic = Traffic()
    for kind in FAULTS[1:]:
        p.plan(FaultPlan(weights={kind: 1}, budget=3))
        _bursts(p.net, traffic, 6, kind)
        await_delivered(p.net, traffic, timeout=90)
        hits = sum(proxy.stats[kind] for proxy in p.proxies.values())
        assert hits >= 1, f"fault {kind!r} was never injected"
    p.plan(FaultPlan())
    _finish(p.net, traffic)
    assert traffic.total == 2 * 6 * (len(FAULTS) - 1)
    print(f"\neach fault kind: {traffic.total} messages, proxy stats {p.stats()}")


def _mixed_rounds(p: ProxiedNet, rounds: int, per_round: int) -> Traffic:
    traffic = Traffic()
    for n in range(rounds):
        p.plan(FaultPlan(weights=MIXED, budget=12))
        _bursts(p.net, traffic, per_round, f"m{n}")
        await_delivered(p.net, traffic, timeout=120)
    p.plan(FaultPlan())
    return traffic


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_mixed_faults_many_rounds(proxied: Callable[[int], ProxiedNet]) -> None:
    p = proxied(2)
    traffic = _mixed_rounds(p, rounds=20, per_round=25)
    _finish(p.net, traffic)
    stats = p.stats()
    print(f"\nmixed faults: {traffic.total} messages, proxy stats {stats}")
    assert all(stats.get(kind, 0) > 0 for kind in FAULTS), stats


# -- kill -9 of either node during bursts, through the faulty links ---------------------


def _kill_round(p: ProxiedNet, rng: random.Random, victim: str, traffic: Traffic, n: int) -> None:
    net = p.net
    p.plan(FaultPlan(weights=MIXED, budget=6))
    bursts = [
        Burst(net["US"], "RU", 60, f"k{n}-us").start(),
        Burst(net["RU"], "US", 60, f"k{n}-ru").start(),
    ]
    kill_at = rng.randint(8, 30)
    wait_until(
        lambda: (
            len(bursts[0].accepted) + len(bursts[1].accepted) >= kill_at
            or not any(b.alive() for b in bursts)
        ),
        timeout=60,
        what="POSTs accepted before the kill",
    )
    net.kill(victim)
    for burst in bursts:
        burst.join(traffic)
    net.start(victim)
    p.retarget()


def _run_kill_rounds(p: ProxiedNet, rounds: int, seed: int) -> Traffic:
    rng = random.Random(seed)
    traffic = Traffic()
    for n in range(rounds):
        victim = ("RU", "US")[n % 2]
        _kill_round(p, rng, victim, traffic, n)
        await_delivered(p.net, traffic, timeout=120)
        check_inboxes(p.net, traffic)
    p.plan(FaultPlan())
    return traffic


def test_kill_either_node_mid_burst_through_faulty_links(
    proxied: Callable[[int], ProxiedNet],
) -> None:
    p = proxied(3)
    traffic = _run_kill_rounds(p, rounds=3, seed=9421)
    sizes = _finish(p.net, traffic)
    print(f"\nkill rounds: {traffic.total} messages, proxy {p.stats()}, log sizes {sizes}")


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_kill_either_node_mid_burst_through_faulty_links_many_rounds(
    proxied: Callable[[int], ProxiedNet],
) -> None:
    p = proxied(4)
    traffic = _run_kill_rounds(p, rounds=20, seed=6962)
    sizes = _finish(p.net, traffic)
    print(f"\nkill rounds: {traffic.total} messages, proxy {p.stats()}, log sizes {sizes}")


# -- the receiver's database is locked --------------------------------------------------


def _recipient_errors(client: httpx.Client, ids: list[str]) -> list[str]:
    errors: list[str] = []
    for mid in ids:
        view = client.get(f"/api/v1/messages/{mid}").json()
        errors.extend(str(r["last_error"] or "") for r in view["recipients"])
    return errors


def _db_path(net: ProcNet, party: str) -> Path:
    url = Database(net[party].config.database_url, base=net[party].config.home).url
    return Path(url.removeprefix("sqlite:///"))


def test_receiver_database_locked_sender_keeps_and_retries(
    procnet: Callable[..., ProcNet],
) -> None:
    net = procnet(["US", "RU"], delivery=DELIVERY)
    net.start()
    traffic = Traffic()
    _bursts(net, traffic, 3, "warm")
    await_delivered(net, traffic)
    ru_before = len(listing(net["RU"].client(), "inbox"))

    lock = sqlite3.connect(_db_path(net, "RU"), timeout=10, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")  # no writer gets in until we let go
        burst = Burst(net["US"], "RU", 10, "locked").start()
        burst.join(traffic)
        us = net["US"].client()
        ids = burst.accepted
        wait_until(
            lambda: all(_recipient_errors(us, ids)), timeout=30, what="every message shows why"
        )
        inbox = listing(net["RU"].client(), "inbox")  # reads still work under WAL
        assert len(inbox) == ru_before, "RU stored something while its database was locked"
        views = [us.get(f"/api/v1/messages/{mid}").json() for mid in ids]
        assert all(v["status"] == "sent" for v in views), [v["status"] for v in views]
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    _finish(net, traffic)
