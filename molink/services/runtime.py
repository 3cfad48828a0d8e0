"""A running node: context, services and background workers, assembled explicitly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import anyio

from molink.config import NodeConfig
from molink.core.keys import PartyKeys
from molink.errors import MolinkError
from molink.services.alerts import AlertService
from molink.services.clock import Clock, SystemClock, system_random
from molink.services.context import NodeContext
from molink.services.inbound import InboundService
from molink.services.logsvc import LogService
from molink.services.messaging import MessagingService
from molink.services.outbox import Outbox
from molink.services.queries import MessageQueries
from molink.services.witnessing import WitnessService
from molink.storage.db import Database
from molink.storage.files import load_keys
from molink.storage.migrate import migrate
from molink.transport.base import PeerTransport
from molink.transport.http import HttpTransport

__all__ = ["NodeRuntime"]


@dataclass(slots=True)
class NodeRuntime:
    """Everything one node runs. Built by ``from_config`` (real) or by tests (in-memory)."""

    ctx: NodeContext
    transport: PeerTransport
    max_body_bytes: int = 256 * 1024
    heartbeat_s: float = 2.0
    backoff_cap_s: float = 30.0
    backoff_base_s: float = 0.25
    batch_size: int = 64
    checkpoint_interval_s: float = 0.5
    messaging: MessagingService = field(init=False)
    inbound: InboundService = field(init=False)
    queries: MessageQueries = field(init=False)
    outbox: Outbox = field(init=False)
    alerts: AlertService = field(init=False)
    log: LogService = field(init=False)
    witness: WitnessService = field(init=False)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.messaging = MessagingService(self.ctx)
        self.inbound = InboundService(self.ctx)
        self.queries = MessageQueries(self.ctx)
        self.alerts = AlertService(self.ctx)
        self.log = LogService(self.ctx)
        self.witness = WitnessService(self.ctx, self.log, self.alerts)
        self.outbox = Outbox(
            self.ctx,
            self.transport,
            batch_size=self.batch_size,
            backoff_base_s=self.backoff_base_s,
            backoff_cap_s=self.backoff_cap_s,
            heartbeat_s=self.heartbeat_s,
        )

    @classmethod
    def build(
        cls,
        *,
        keys: PartyKeys,
        db: Database,
        log_origin: str,
        transport_factory: Callable[[PartyKeys, Callable[[], Any]], PeerTransport],
        clock: Clock | None = None,
        random: Callable[[int], bytes] = system_random,
        max_skew: timedelta = timedelta(minutes=5),
        **options: Any,
    ) -> NodeRuntime:
        clock = clock or SystemClock()
        ctx = NodeContext(
            keys=keys, db=db, clock=clock, random=random, log_origin=log_origin, max_skew=max_skew
        )
        return cls(ctx=ctx, transport=transport_factory(keys, clock.now), **options)

    @classmethod
    def from_config(cls, config: NodeConfig) -> NodeRuntime:
        keys = load_keys(config.path(config.keys.file), config.passphrase())
        db = Database(config.database_url, base=config.home)
        migrate(db)
        d = config.delivery
        return cls.build(
            keys=keys,
            db=db,
            log_origin=config.log_origin,
            transport_factory=lambda k, now: HttpTransport(k, now, timeout=d.request_timeout_s),
            max_skew=timedelta(seconds=d.max_skew_s),
            max_body_bytes=config.api.max_body_bytes,
            heartbeat_s=d.heartbeat_s,
            backoff_cap_s=d.backoff_cap_s,
            backoff_base_s=d.backoff_base_s,
            batch_size=d.batch_size,
        )

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self.outbox.run(), name="outbox"))
        self._tasks.append(asyncio.create_task(self._log_loop(), name="log"))

    async def tick_log(self) -> None:
        """Integrate new entries into a signed checkpoint and collect cosignatures."""
        await anyio.to_thread.run_sync(self.log.integrate)
        await self.witness.request_cosignatures(self.transport)

    async def _log_loop(self) -> None:
        while True:
            try:
                await self.tick_log()
            except MolinkError as exc:  # keep the loop alive; shown in status
                self.ctx.events.publish("log.error", error=exc.message)
            await asyncio.sleep(self.checkpoint_interval_s)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.transport.aclose()
