"""Build several nodes in one process on an in-memory network with a fake clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from molink.api.app import create_app
from molink.core.keys import PartyKeys
from molink.services.admin import add_operator, issue_token
from molink.services.clock import FakeClock
from molink.services.logkeys import verifier_keys
from molink.services.runtime import NodeRuntime
from molink.storage.db import Database, micros
from molink.storage.migrate import migrate
from molink.storage.peers import Peer
from molink.transport.memory import MemoryNetwork
from tests.support import dbmatrix

START = datetime(2026, 2, 5, 10, 0, tzinfo=UTC)
_CERT = "-----BEGIN CERTIFICATE-----\nmemory\n-----END CERTIFICATE-----\n"


@dataclass
class MemNode:
    party: str
    runtime: NodeRuntime
    app: Any
    token: str

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://node", headers=self.auth
        )

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def drain(self) -> int:
        self.runtime.outbox.refresh_peers()
        total = 0
        for link in self.runtime.outbox.links.values():
            total += await link.drain()
        return total


@dataclass
class MemNet:
    clock: FakeClock
    network: MemoryNetwork
    nodes: dict[str, MemNode] = field(default_factory=dict)

    def __getitem__(self, party: str) -> MemNode:
        return self.nodes[party]

    async def settle(self, rounds: int = 6) -> None:
        """Drain every outbox until nothing moves (acks trigger further deliveries)."""
        for _ in range(rounds):
            moved = 0
            for node in self.nodes.values():
                moved += await node.drain()
            if not moved:
                return

    async def tick_logs(self, rounds: int = 2) -> None:
        """Integrate every log and collect cosignatures from every peer."""
        for _ in range(rounds):
            for node in self.nodes.values():
                await node.runtime.tick_log()

    def advance(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))


def build_memnet(
    tmp: Path,
    parties: list[str],
    *,
    db_urls: dict[str, str] | None = None,
    mediator: str | None = None,
    role: str = "supervisor",
) -> MemNet:
    clock = FakeClock(START)
    network = MemoryNetwork()
    net = MemNet(clock=clock, network=network)
    keys = {p: PartyKeys.generate(p) for p in parties}
    for party in parties:
        db = _node_database(tmp, party, db_urls)
        runtime = NodeRuntime.build(
            keys=keys[party],
            db=db,
            log_origin=f"test.molink/{party}",
            transport_factory=network.transport,
            clock=clock,
        )
        now_us = micros(clock.now())
        with db.write() as conn:
            for other in parties:
                if other != party:
                    vkeys = verifier_keys(keys[other], f"test.molink/{other}")
                    runtime.ctx.peers.upsert(
                        conn,
                        Peer(
                            party=other,
                            urls=(f"https://{other.lower()}.invalid",),
                            tls_cert=_CERT,
                            keys=keys[other].public,
                            mediator=other == mediator,
                            log_origin=f"test.molink/{other}",
                            log_vkey=vkeys["log_vkey"],
                            witness_vkey=vkeys["witness_vkey"],
                        ),
                        now_us,
                    )
        # One operator per node; supervisor by default (duty officer plus channel changes,
        # catalogue agreement and translations), so one token drives every duty test.
        add_operator(db, operator_id=f"duty-{party}", role=role, now_us=now_us)
        token = issue_token(
            db, operator_id=f"duty-{party}", terminal=f"console-{party}", now_us=now_us
        )
        app = create_app(runtime, run_workers=False)
        network.attach(party, app)
        net.nodes[party] = MemNode(party=party, runtime=runtime, app=app, token=token)
    return net


def _node_database(tmp: Path, party: str, db_urls: dict[str, str] | None) -> Database:
    """The URL given for ``party``, else the test's backend (SQLite file or fresh PG db)."""
    url = (db_urls or {}).get(party)
    backend = dbmatrix.current()
    if url is None and backend is not None:
        return backend.database()
    db = Database(url or f"sqlite:///{tmp / (party + '.db')}")
    migrate(db)
    return db


def run(coro: Any) -> Any:
    return asyncio.run(coro)
