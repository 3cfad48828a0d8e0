"""The outbox never loses a wake-up (found by benchmarks/delivery.py).

A message that commits while the link is draining (after the drain's last query
came back empty) must go out at once, not after the next heartbeat (10 s by
default). The in-memory network runs the real ``Outbox.run`` loop here.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from molink.core.precedence import Precedence
from molink.services.outbox import PeerLink
from molink.storage.messages import Delivery
from tests.support.memnet import build_memnet, run
from tests.support.procnet import wait_until


def test_message_committed_during_a_drain_goes_out_without_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    us = net["US"].runtime
    assert us.heartbeat_s >= 5.0  # delivery below must not be the heartbeat's doing
    real_claim = PeerLink._claim
    late: dict[str, str] = {}

    def send(subject: str) -> str:
        return us.messaging.send(
            to=["RU"], precedence=Precedence.FLASH, subject=subject, body="x", lang="en"
        ).id

    def claim(link: PeerLink, now_us: int) -> list[Delivery]:
        items = real_claim(link, now_us)
        if not items and "first" in late and "second" not in late:
            # The drain's final claim found nothing; this commit (and its wake) lands now.
            late["second"] = send("second")
        return items

    monkeypatch.setattr(PeerLink, "_claim", claim)

    async def scenario() -> None:
        async with us.ctx.events.subscribe() as events:
            task = asyncio.create_task(us.outbox.run())
            try:
                late["first"] = await asyncio.to_thread(send, "first")
                delivered: set[str] = set()

                async def until_both() -> None:
                    while {late.get("first"), late.get("second")} - delivered:
                        event = await events.get()
                        if event.kind == "message.delivered":
                            delivered.add(event.data["id"])

                await asyncio.wait_for(until_both(), timeout=3.0)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    try:
        run(scenario())
    finally:
        for node in net.nodes.values():
            # A worker thread of the cancelled outbox may still hold a connection.
            pool: Any = node.runtime.ctx.db.engine.pool
            wait_until(lambda pool=pool: pool.checkedout() == 0, timeout=10, what="pool idle")
            node.runtime.ctx.db.dispose()
    assert "second" in late
