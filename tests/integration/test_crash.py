"""Crash safety with real node processes: kill -9 both nodes in the middle of a burst.

A thread POSTs a burst of mixed-precedence messages to US. The test SIGKILLs RU
part way through, then SIGKILLs US after more POSTs were accepted, and restarts
both with their serve command. Every message whose POST answered 201 must then be
delivered exactly once at RU, with a receipt at US that verifies and covers the
JWS's SHA-256, and both logs must still verify (DESIGN.md "Message life" 5-7).
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import func, select

from molink.core.jose import jws_parse
from molink.core.receipt import verify_receipt
from molink.services.runtime import NodeRuntime
from molink.storage.schema import messages
from tests.support.procnet import ProcNet, ProcNode, wait_until

pytestmark = pytest.mark.integration

PRECEDENCES = ("ROUTINE", "PRIORITY", "IMMEDIATE", "FLASH", "FLASH OVERRIDE")
BURST = 200


@dataclass
class Burst:
    """POSTs ``count`` messages to one node from a thread until done or the node dies."""

    node: ProcNode
    count: int
    tag: str
    accepted: list[str] = field(default_factory=list)
    uncertain: int = 0  # a POST cut off by the kill: it may or may not have committed
    refused: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name=f"burst-{self.tag}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with self.node.client(timeout=10.0) as client:
            for i in range(self.count):
                body = {
                    "to": ["RU"],
                    "precedence": PRECEDENCES[i % len(PRECEDENCES)],
                    "subject": f"{self.tag} #{i}",
                    "body": f"burst {self.tag} message {i}",
                }
                try:
                    answer = client.post("/api/v1/messages", json=body)
                except httpx.TransportError:
                    self.uncertain += 1
                    return
                if answer.status_code != 201:
                    self.refused.append(f"{answer.status_code}: {answer.text[:200]}")
                    return
                self.accepted.append(answer.json()["id"])

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def join(self) -> None:
        assert self.thread is not None
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the burst thread hangs"


def _listing(client: httpx.Client, box: str) -> list[dict[str, object]]:
    """Every message in a box, following the cursor."""
    items: list[dict[str, object]] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"box": box, "limit": 500}
        if cursor:
            params["cursor"] = cursor
        answer = client.get("/api/v1/messages", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items.extend(page["items"])
        cursor = page["next"]
        if not cursor:
            return items


def _crash_round(net: ProcNet, rng: random.Random, tag: str) -> tuple[list[str], int]:
    """One burst with both kills and restarts; returns (accepted ids, uncertain POSTs)."""
    burst = Burst(net["US"], BURST, tag)
    kill_ru_at = int(BURST * rng.uniform(0.15, 0.45))
    kill_us_after = int(BURST * rng.uniform(0.1, 0.3))
    burst.start()
    wait_until(
        lambda: len(burst.accepted) >= kill_ru_at or not burst.alive(),
        timeout=30,
        what="POSTs accepted before killing RU",
    )
    net.kill("RU")
    target = len(burst.accepted) + kill_us_after
    wait_until(
        lambda: len(burst.accepted) >= target or not burst.alive(),
        timeout=30,
        what="POSTs accepted before killing US",
    )
    net.kill("US")
    burst.join()
    assert not burst.refused, burst.refused
    assert len(burst.accepted) >= target, "US stopped accepting before it was killed"
    net.start("US", "RU")
    return burst.accepted, burst.uncertain


def _await_delivered(net: ProcNet, expected: set[str], uncertain: int) -> set[str]:
    """Wait until US has nothing pending for RU; returns US's outbox ids (all delivered)."""
    with net["US"].client() as us:

        def drained() -> bool:
            status = us.get("/api/v1/status").json()
            link = next(x for x in status["links"] if x["party"] == "RU")
            return link["queued_total"] == 0

        # /status is cheap; the full outbox listing is read once, after the drain.
        wait_until(drained, timeout=60, interval=0.1, what="backlog delivered")
        outbox = _listing(us, "outbox")
    undelivered = [m["id"] for m in outbox if m["status"] not in ("delivered", "acknowledged")]
    assert not undelivered, f"not delivered: {undelivered[:5]}"
    ids = {str(m["id"]) for m in outbox}
    assert expected <= ids, f"{len(expected - ids)} accepted messages are missing at US"
    assert len(ids - expected) <= uncertain, "US holds messages nobody submitted"
    return ids


def _check_inbox_api(net: ProcNet, sent: set[str]) -> None:
    with net["RU"].client() as ru:
        inbox = [str(m["id"]) for m in _listing(ru, "inbox")]
    dupes = [mid for mid, n in Counter(inbox).items() if n > 1]
    assert not dupes, f"delivered more than once: {dupes[:5]}"
    assert set(inbox) == sent, (
        f"missing at RU: {len(sent - set(inbox))}, unexpected: {len(set(inbox) - sent)}"
    )


def _log_entries(rt: NodeRuntime) -> list[dict[str, object]]:
    with rt.ctx.db.read() as conn:
        return [json.loads(bytes(row.data)) for row in rt.ctx.log.entries(conn, 0, 2**62)]


def _check_offline(net: ProcNet, sent: set[str]) -> None:
    """Nodes stopped: rows, receipts and logs straight from each node's database."""
    us, ru = net.runtime("US"), net.runtime("RU")
    try:
        with ru.ctx.db.read() as conn:
            rows = dict(
                conn.execute(
                    select(messages.c.id, func.count())
                    .where(messages.c.direction == "in", messages.c.type == "message")
                    .group_by(messages.c.id)
                ).all()
            )
        assert set(rows) == sent
        assert all(n == 1 for n in rows.values())
        directory = us.ctx.directory()
        for mid in sent:
            jws = us.queries.jws(mid)
            assert ru.queries.jws(mid) == jws, "RU stored other bytes than US signed"
            sha = jws_parse(jws).sha256
            receipt = verify_receipt(
                us.queries.receipt(mid, "RU"), directory, message_id=mid, jws_sha256=sha
            )
            assert receipt.recipient == "RU"
            assert receipt.log_origin == ru.ctx.log_origin
            with ru.ctx.db.read() as conn:
                assert ru.ctx.messages.get(conn, mid).log_index == receipt.log_index
        _check_log_counts(us, ru, sent)
        for rt in (us, ru):
            report = rt.log.verify_integrity()
            assert report.ok, report.problems
    finally:
        us.ctx.db.dispose()
        ru.ctx.db.dispose()


def _check_log_counts(us: NodeRuntime, ru: NodeRuntime, sent: set[str]) -> None:
    """Each message is logged once as sent and receipted at US, once as received at RU."""
    us_kinds = Counter((e["type"], e.get("id")) for e in _log_entries(us))
    ru_kinds = Counter((e["type"], e.get("id")) for e in _log_entries(ru))
    for mid in sent:
        assert us_kinds[("message.sent", mid)] == 1, mid
        assert us_kinds[("receipt.received", mid)] == 1, mid
        assert ru_kinds[("message.received", mid)] == 1, mid


def _run_crash_rounds(procnet: Callable[..., ProcNet], rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    net = procnet(["US", "RU"])
    net.start()
    accepted: set[str] = set()
    uncertain = 0
    sent: set[str] = set()
    for n in range(rounds):
        ids, unsure = _crash_round(net, rng, f"r{n}")
        accepted.update(ids)
        uncertain += unsure
        sent = _await_delivered(net, accepted, uncertain)
        _check_inbox_api(net, sent)
    net.stop("US")
    net.stop("RU")
    _check_offline(net, sent)
    print(f"\ncrash rounds: {rounds}, kill -9: {2 * rounds}, accepted {len(accepted)}, "
          f"delivered once {len(sent)}, POSTs cut off by a kill {uncertain}")  # fmt: skip


def test_kill_both_nodes_mid_burst_delivers_every_accepted_message_once(
    procnet: Callable[..., ProcNet],
) -> None:
    _run_crash_rounds(procnet, rounds=3, seed=6962)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_kill_both_nodes_mid_burst_many_rounds(procnet: Callable[..., ProcNet]) -> None:
    _run_crash_rounds(procnet, rounds=20, seed=9421)
