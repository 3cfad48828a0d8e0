"""The demo's deconfliction steps (molink/cli/demo_scenario.py) on an in-memory network: each
scenario event produces the right alert on every involved node, and the suggested resolution
clears the Black Sea conflict everywhere.

The steps are synchronous API clients (as in ``molink demo``); here they run in a worker thread
and their requests are served on the test's event loop, which keeps delivering like a live
network (the fake clock moves one second per round)."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
from rich.console import Console

from molink.cli import demo_scenario
from molink.cli.demo_scenario import Team
from molink.errors import MolinkError, NotFound
from tests.support.decon import decon_net
from tests.support.memnet import (
    MemNet,
    MemNode,
    build_memnet,  # noqa: F401 - runs this module on both engines
    run,
)


class _LoopClient:
    """``NodeClient`` stand-in: each call runs on the loop that owns the in-memory network."""

    def __init__(self, node: MemNode, loop: asyncio.AbstractEventLoop) -> None:
        self._node = node
        self._loop = loop

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with self._node.client() as http:
            return await http.request(method, path, **kwargs)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        future: Future[httpx.Response] = asyncio.run_coroutine_threadsafe(
            self._send(method, path, **kwargs), self._loop
        )
        answer = future.result(timeout=60)
        if answer.status_code == 404:
            raise NotFound(answer.text)
        if answer.status_code >= 400:
            raise MolinkError(f"HTTP {answer.status_code}: {answer.text}")
        return answer.json()


async def _deliver(net: MemNet, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await net.settle()
        net.advance(1)
        await asyncio.sleep(0.01)


def test_the_deconfliction_steps_alert_every_involved_node(tmp_path: Path) -> None:
    net = decon_net(tmp_path, ["US", "RU", "UA", "AE"])
    console = Console(record=True, width=200)
    steps = (
        demo_scenario.znpp_protected_zone,
        demo_scenario.black_sea_airspace,
        demo_scenario.estonian_incursion,
        demo_scenario.drones_into_poland,
    )
    assert set(steps) <= set(demo_scenario.STEPS)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        clients = {p: _LoopClient(net[p], loop) for p in net.nodes}
        team = Team(clients, clients)  # type: ignore[arg-type]
        stop = asyncio.Event()
        delivering = asyncio.create_task(_deliver(net, stop))
        try:
            for step in steps:
                await anyio.to_thread.run_sync(step, team, console)
        finally:
            stop.set()
            await delivering

    run(scenario())
    text = console.export_text()
    assert "confirmed by 3 parties" in text
    assert "0 conflicts remain on any node" in text
    assert "-> 3 intrusion alerts at US, RU and AE" in text
    assert "-> 19 intrusion alerts" in text

    async def check() -> None:
        for party in ("US", "RU", "UA", "AE"):
            async with net[party].client() as cl:
                alerts = (await cl.get("/api/v1/alerts", params={"limit": 1000})).json()["items"]
                kinds = [a["kind"] for a in alerts if a["kind"] in ("conflict", "intrusion")]
                expected = {"conflict": 2, "intrusion": 0 if party == "UA" else 22}
                assert kinds.count("conflict") == expected["conflict"], party
                assert kinds.count("intrusion") == expected["intrusion"], party

    run(check())
