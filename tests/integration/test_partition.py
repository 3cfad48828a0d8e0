"""A peer that is away for several backoff steps, with real node processes.

While RU is down (SIGKILL, then restarted) or frozen (SIGSTOP, then SIGCONT), US
queues mixed-precedence messages. US must show each one as still pending and
why; when RU is back, the heartbeat notices within seconds, the backlog drains,
and FLASH OVERRIDE and FLASH are stored at RU before everything of lower
precedence (DESIGN.md "Message life" 6).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from molink.core.precedence import Precedence
from tests.support.procnet import ProcNet, wait_until

pytestmark = pytest.mark.integration

# Lowest precedence first, so that arrival order alone would get it wrong.
ORDER = (
    "ROUTINE",
    "PRIORITY",
    "ROUTINE",
    "IMMEDIATE",
    "FLASH",
    "ROUTINE",
    "FLASH OVERRIDE",
    "PRIORITY",
    "FLASH",
    "ROUTINE",
    "IMMEDIATE",
    "FLASH OVERRIDE",
)
DOWN_PROBE_S = 2.0  # how often the outbox probes a peer that is down
SEVERAL_STEPS = 4  # failed attempts: backoff 0.25 s, 0.5 s, 1 s, 2 s, ...


def _link(client: httpx.Client, party: str) -> dict[str, Any]:
    status = client.get("/api/v1/status")
    assert status.status_code == 200, status.text
    return next(link for link in status.json()["links"] if link["party"] == party)


def _pending_and_why(client: httpx.Client, ids: list[str]) -> bool:
    """True once every message shows "sent" to RU with the reason it is still pending."""
    for mid in ids:
        view = client.get(f"/api/v1/messages/{mid}").json()
        ru = view["recipients"][0]
        if view["status"] != "sent" or not ru["last_error"]:
            return False
        assert "RU unreachable" in ru["last_error"], ru["last_error"]
        assert ru["delivered_at"] is None
    return True


def _all_delivered(client: httpx.Client, ids: list[str]) -> bool:
    return all(client.get(f"/api/v1/messages/{mid}").json()["status"] == "delivered" for mid in ids)


@pytest.mark.parametrize("how", ["kill", "freeze"])
def test_backlog_drains_by_precedence_after_outage(
    procnet: Callable[..., ProcNet], how: str
) -> None:
    # A short request timeout so that a frozen peer fails attempts quickly.
    net = procnet(["US", "RU"], delivery={"request_timeout_s": 1.0})
    net.start()
    us = net["US"].client()
    wait_until(lambda: _link(us, "RU")["status"] == "up", timeout=10, what="link US->RU up")

    net.kill("RU", signal.SIGKILL if how == "kill" else signal.SIGSTOP)
    ids = []
    for precedence in ORDER:
        body = {"to": ["RU"], "precedence": precedence, "subject": precedence, "body": "x"}
        answer = us.post("/api/v1/messages", json=body)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])

    wait_until(lambda: _pending_and_why(us, ids), timeout=20, what="still pending, and why")
    wait_until(
        lambda: _link(us, "RU")["failures"] >= SEVERAL_STEPS,
        timeout=30,
        what=f"{SEVERAL_STEPS} failed attempts",
    )
    link = _link(us, "RU")
    assert link["status"] == "down"
    assert link["queued_total"] == len(ORDER)
    assert not _all_delivered(us, ids)

    if how == "kill":
        net.restart("RU")
    else:
        net.kill("RU", signal.SIGCONT)
    back = time.monotonic()
    wait_until(lambda: _all_delivered(us, ids), timeout=15, what="backlog drained")
    drained_s = time.monotonic() - back
    assert drained_s < DOWN_PROBE_S + 3.0, f"backlog took {drained_s:.1f}s after RU was back"
    assert _link(us, "RU")["status"] == "up"

    ru = net["RU"].client()
    inbox = ru.get("/api/v1/messages", params={"box": "inbox", "limit": 100}).json()["items"]
    assert sorted(m["id"] for m in inbox) == sorted(ids), "each message exactly once"
    stored = sorted(inbox, key=lambda m: m["log_index"])
    ranks = [Precedence(m["precedence"]).rank for m in stored]
    assert ranks == sorted(ranks), [m["precedence"] for m in stored]
    assert [m["precedence"] for m in stored][:4] == ["FLASH OVERRIDE"] * 2 + ["FLASH"] * 2
