"""Regression: a clock set back (NTP step, corrected skew) must not stall the outbox.

Retries are stored as absolute times. An item that failed while the clock ran 10
minutes ahead was scheduled 10 minutes "later" than it should; once the clock is
right again, it would wait those 10 minutes before its next try. The outbox
reschedules every item set beyond its longest backoff, at start and whenever it
sees the wall clock go back.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.support.memnet import build_memnet, run


def test_regression_clock_set_back_does_not_stall_the_outbox(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    us = net["US"].runtime

    async def scenario() -> None:
        async with net["US"].client() as client:
            net.network.partition("US", "RU")
            body = {"to": ["RU"], "precedence": "FLASH", "subject": "s", "body": "b", "lang": "en"}
            answer = await client.post("/api/v1/messages", json=body)
            assert answer.status_code == 201, answer.text
            mid = answer.json()["id"]
            net.advance(600)  # the clock jumps 10 minutes ahead
            assert await net["US"].drain() == 0  # fails; retry stored in the skewed future
            net.clock.advance(timedelta(seconds=-600))  # the clock is put right
            net.network.heal("US", "RU")
            link = us.outbox.links["RU"]
            assert await link.heartbeat()  # what the running link does every 2 s
            assert await link.drain() == 0, "the item was due although scheduled ahead"
            assert us.outbox.repair_schedule() == 1
            assert await link.drain() == 1
            view = (await client.get(f"/api/v1/messages/{mid}")).json()
            assert view["status"] == "delivered"
            assert us.outbox.repair_schedule() == 0

    run(scenario())
