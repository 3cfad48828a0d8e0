"""A running node: context, services and background workers, assembled explicitly."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import anyio

from molink.config import NodeConfig
from molink.core.boundaries import load_boundaries
from molink.core.keyrotation import ROTATE_TYPE
from molink.core.keys import PartyKeys
from molink.errors import MolinkError
from molink.services.alerts import AlertService
from molink.services.catalogue import CatalogueService
from molink.services.clock import Clock, SystemClock, system_random
from molink.services.context import NodeContext, worker_id
from molink.services.cot_listener import CotListener
from molink.services.courier import CourierService
from molink.services.deconfliction import TYPES as DECONFLICTION_TYPES
from molink.services.deconfliction import DeconflictionService
from molink.services.duty import DutyOptions, DutyService
from molink.services.events import EventBus
from molink.services.export import Exporter
from molink.services.inbound import InboundService
from molink.services.incidents import IncidentService
from molink.services.keyrotation import KeyRotationService
from molink.services.ledger import LedgerService
from molink.services.lifecycle import ChannelService
from molink.services.logsvc import LogService
from molink.services.messaging import MessagingService
from molink.services.metrics import NodeMetrics
from molink.services.outbox import Outbox
from molink.services.pgevents import event_bus_for
from molink.services.queries import MessageQueries
from molink.services.relay import RelayService
from molink.services.tracks import REPORT as INTRUSION_REPORT
from molink.services.tracks import TrackService
from molink.services.translation import TranslationService
from molink.services.witnessing import WitnessService
from molink.storage.db import Database, SessionLock
from molink.storage.keyring import load_key_ring
from molink.storage.migrate import migrate
from molink.transport.base import PeerTransport
from molink.transport.fallback import KeyFallbackTransport
from molink.transport.http import HttpTransport

__all__ = ["LEADER_POLL_S", "NodeRuntime"]

LEADER_POLL_S = 2.0  # how soon a worker takes over from a leader that died


@dataclass(slots=True)
class NodeRuntime:
    """Everything one node runs. Built by ``from_config`` (real) or by tests (in-memory)."""

    ctx: NodeContext
    transport: PeerTransport
    max_body_bytes: int = 256 * 1024
    heartbeat_s: float = 10.0
    backoff_cap_s: float = 30.0
    backoff_base_s: float = 0.25
    batch_size: int = 64
    claim_lease_s: float = 30.0
    checkpoint_interval_s: float = 0.5
    duty_interval_s: float = 5.0
    duty_options: DutyOptions = field(default_factory=DutyOptions)
    line_tests: bool = True
    cot_listen: tuple[str, int] | None = None
    # ``molink serve`` sets this: after warming up, freeze what is alive out of the
    # garbage collector's sight (see ``_warm_deconfliction``). Not for test processes,
    # which build and drop many nodes.
    freeze_after_warm: bool = False
    messaging: MessagingService = field(init=False)
    inbound: InboundService = field(init=False)
    queries: MessageQueries = field(init=False)
    outbox: Outbox = field(init=False)
    alerts: AlertService = field(init=False)
    log: LogService = field(init=False)
    witness: WitnessService = field(init=False)
    channels: ChannelService = field(init=False)
    catalogue: CatalogueService = field(init=False)
    translations: TranslationService = field(init=False)
    duty: DutyService = field(init=False)
    relay: RelayService = field(init=False)
    courier: CourierService = field(init=False)
    incidents: IncidentService = field(init=False)
    ledger: LedgerService = field(init=False)
    deconfliction: DeconflictionService = field(init=False)
    tracks: TrackService = field(init=False)
    exporter: Exporter = field(init=False)
    cot: CotListener | None = field(default=None, init=False)
    metrics: NodeMetrics = field(init=False)
    keyrotation: KeyRotationService = field(init=False)
    leader: SessionLock = field(init=False)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        ctx = self.ctx
        self.messaging = MessagingService(ctx)
        self.inbound = InboundService(ctx)
        self.queries = MessageQueries(ctx)
        self.alerts = AlertService(ctx)
        self.log = LogService(ctx)
        self.witness = WitnessService(ctx, self.log, self.alerts)
        self.outbox = Outbox(
            ctx,
            self.transport,
            batch_size=self.batch_size,
            backoff_base_s=self.backoff_base_s,
            backoff_cap_s=self.backoff_cap_s,
            heartbeat_s=self.heartbeat_s,
            claim_lease_s=self.claim_lease_s,
        )
        self.leader = ctx.db.session_lock("leader")
        self.metrics = NodeMetrics(
            ctx, lambda: {party: link.state for party, link in self.outbox.links.items()}
        )
        self.channels = ChannelService(ctx, self.messaging, self.alerts)
        self.catalogue = CatalogueService(ctx, self.messaging)
        self.translations = TranslationService(ctx, self.messaging)
        self.duty = DutyService(ctx, self.alerts, self.messaging, self.outbox, self.duty_options)
        self.relay = RelayService(ctx, self.transport)
        self.courier = CourierService(ctx, self.inbound)
        self.incidents = IncidentService(ctx, self.messaging, self.alerts)
        self.ledger = LedgerService(ctx, self.messaging)
        self.inbound.register("message", self.messaging.on_message)
        self.inbound.register("channel.event", self.channels.on_event)
        self.inbound.register("catalogue.agree", self.catalogue.on_agree)
        self.inbound.register("translation", self.translations.on_translation)
        self.deconfliction = DeconflictionService(ctx, self.messaging, self.alerts)
        for type_ in DECONFLICTION_TYPES:
            self.inbound.register(type_, self.deconfliction.on_object)
        self.tracks = TrackService(
            ctx, self.messaging, self.deconfliction, boundaries=load_boundaries
        )
        self.inbound.register(INTRUSION_REPORT, self.tracks.on_report)
        self.exporter = Exporter(
            self.deconfliction,
            self.tracks,
            self.alerts,
            now_s=lambda: ctx.now_us() // 1_000_000,
        )
        self.keyrotation = KeyRotationService(ctx, self.messaging)
        self.inbound.register(ROTATE_TYPE, self.keyrotation.on_rotate)

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
        events: EventBus | None = None,
        worker: str | None = None,
        retired_keys: tuple[PartyKeys, ...] = (),
        root_keys: PartyKeys | None = None,
        **options: Any,
    ) -> NodeRuntime:
        """A node on ``db`` signing with ``keys``; ``retired_keys`` (after a rotation) still
        open envelopes sealed to them and sign requests to peers not yet told."""
        clock = clock or SystemClock()
        ctx = NodeContext(
            keys=keys,
            db=db,
            clock=clock,
            random=random,
            log_origin=log_origin,
            max_skew=max_skew,
            events=events or EventBus(),
            worker=worker or worker_id(),
            retired_keys=retired_keys,
            root_keys=root_keys,
        )
        transport = transport_factory(keys, clock.now)
        if retired_keys:
            older = [transport_factory(k, clock.now) for k in retired_keys]
            transport = KeyFallbackTransport([transport, *older])
        return cls(ctx=ctx, transport=transport, **options)

    @classmethod
    def from_config(
        cls,
        config: NodeConfig,
        *,
        clock: Clock | None = None,
        upgrade: bool = True,
        pool_size: int = 8,
        max_overflow: int = 8,
    ) -> NodeRuntime:
        """The node described by ``config``; ``upgrade`` applies pending migrations first
        (``molink serve`` with several workers does that once, before starting them)."""
        db = Database(
            config.database_url, base=config.home, pool_size=pool_size, max_overflow=max_overflow
        )
        if upgrade:
            migrate(db)
        ring = load_key_ring(config.path(config.keys.file), config.passphrase(), db)
        d, duty = config.delivery, config.duty
        worker = worker_id()
        return cls.build(
            keys=ring.current,
            retired_keys=ring.retired,
            root_keys=ring.log_root,
            db=db,
            log_origin=config.log_origin,
            events=event_bus_for(db, origin=worker),
            worker=worker,
            transport_factory=lambda k, now: HttpTransport(k, now, timeout=d.request_timeout_s),
            clock=clock,
            max_skew=timedelta(seconds=d.max_skew_s),
            max_body_bytes=config.api.max_body_bytes,
            heartbeat_s=d.heartbeat_s,
            backoff_cap_s=d.backoff_cap_s,
            backoff_base_s=d.backoff_base_s,
            batch_size=d.batch_size,
            claim_lease_s=max(d.claim_lease_s, 3 * d.request_timeout_s),
            checkpoint_interval_s=d.checkpoint_interval_s,
            duty_options=DutyOptions(
                realert=timedelta(seconds=duty.realert_s),
                link_down_alert_after=timedelta(seconds=duty.link_down_alert_s),
                line_test_interval=timedelta(seconds=duty.line_test_interval_s),
            ),
            line_tests=duty.line_test_interval_s > 0,
            cot_listen=(config.cot.host, config.cot.port) if config.cot.enabled else None,
        )

    async def start(self) -> None:
        """Start the background work: every worker runs the event bus and the outbox; the
        leader among the node's workers alone integrates the log, collects cosignatures
        and runs the duty scans (the others take over within a tick if it dies)."""
        self._tasks.append(asyncio.create_task(self.ctx.events.run(), name="events"))
        self._tasks.append(asyncio.create_task(self.outbox.run(), name="outbox"))
        self._tasks.append(
            asyncio.create_task(
                self._every(self.checkpoint_interval_s, self.tick_log, leader=True), name="log"
            )
        )
        self._tasks.append(
            asyncio.create_task(
                self._every(self.duty_interval_s, self.tick_duty, leader=True), name="duty"
            )
        )
        self._tasks.append(asyncio.create_task(self._warm_deconfliction(), name="decon-warm"))
        if self.cot_listen is not None:
            host, port = self.cot_listen
            self.cot = CotListener(self.tracks, own_party=self.ctx.party, host=host, port=port)
            try:
                await self.cot.start()
            except OSError as exc:  # with --workers, the first worker to bind listens
                self.cot = None
                self.ctx.events.publish("worker.error", error=f"CoT listener not started: {exc}")

    async def _warm_deconfliction(self) -> None:
        """Build the conflict index from the stored notifications and load the boundaries
        in the background, so that the first notification or track batch does not wait."""
        try:
            await anyio.to_thread.run_sync(self.deconfliction.warm)
            await anyio.to_thread.run_sync(self.tracks.warm)
        except MolinkError as exc:
            self.ctx.events.publish("worker.error", error=exc.message)
        # What is alive now (modules, the boundaries, the indexes) lives as long as the
        # node. Moving it out of the collector's sight keeps each full collection from
        # walking it again: that walk took ~60 ms and showed as delivery latency spikes.
        if self.freeze_after_warm:
            gc.collect()
            gc.freeze()

    async def tick_log(self) -> None:
        """Integrate new entries into a signed checkpoint and collect cosignatures."""
        await anyio.to_thread.run_sync(self.log.integrate)
        await self.witness.request_cosignatures(self.transport)

    async def tick_duty(self) -> None:
        """Deadlines, escalation, link alerts and (when due) the line test."""
        await anyio.to_thread.run_sync(self.duty.scan)
        await anyio.to_thread.run_sync(self.incidents.scan_rfe_deadlines, self.ctx.clock.now())
        if self.line_tests:
            await anyio.to_thread.run_sync(self.duty.line_tests)

    async def _every(
        self, interval_s: float, work: Callable[[], Awaitable[None]], *, leader: bool = False
    ) -> None:
        while True:
            wait = interval_s
            try:
                if not leader or await anyio.to_thread.run_sync(self.leader.try_acquire):
                    await work()
                else:  # another worker leads: ask again now and then, not every tick
                    wait = max(interval_s, LEADER_POLL_S)
            except MolinkError as exc:  # keep the worker alive; visible as an event
                self.ctx.events.publish("worker.error", error=exc.message)
            await asyncio.sleep(wait)

    async def stop(self) -> None:
        if self.cot is not None:
            await self.cot.stop()
            self.cot = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await anyio.to_thread.run_sync(self.leader.release)
        await self.transport.aclose()
