"""The outbox: delivers queued signed objects to each peer, by precedence then age.

One ``PeerLink`` per peer drains that peer's queue in batches, verifies every
receipt (signed by the recipient, over exactly the JWS we sent) and records it
with a ``receipt.received`` log entry. Failures back off exponentially, capped
(30 s by default), and the backoff resets the moment the peer answers anything,
including a heartbeat. Nothing is ever dropped: an item stays pending, with its
last error visible, until a valid receipt arrives.

Several workers may run an outbox on one database. A link *claims* a batch before
sending it (a lease on the rows, taken with ``FOR UPDATE SKIP LOCKED``), so two
workers never send the same rows at once; recording the attempt ends the claim,
and a worker that dies mid-send loses its rows to the others when the lease ends
(docs/adr/0002-several-workers.md). Should a lease end while its sender is still
waiting, the row may go twice: the recipient answers a known id with its stored
receipt and ``mark_delivered`` records one delivery, so nothing is duplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
from sqlalchemy import Connection

from molink.core.canonical import canonical_json
from molink.core.receipt import Receipt, verify_receipt
from molink.errors import MalformedData, MolinkError, PeerUnreachable
from molink.services.context import NodeContext
from molink.services.queries import iso
from molink.storage.messages import Delivery
from molink.storage.peers import Peer
from molink.transport.base import PeerTransport, Response

__all__ = ["LinkState", "Outbox", "PeerLink", "record_receipt"]

ENVELOPES_PATH = "/federation/v1/envelopes"
RELAY_PATH = "/federation/v1/relay"
PING_PATH = "/federation/v1/ping"


@dataclass(slots=True)
class LinkState:
    """What an operator sees about one peer link."""

    party: str
    status: str = "unknown"  # up | degraded | down | unknown
    rtt_ms: float | None = None
    last_contact_us: int | None = None
    failures: int = 0
    retry_at_us: int = 0
    last_error: str | None = None
    route: str | None = None
    down_since_us: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "status": self.status,
            "rtt_ms": self.rtt_ms,
            "last_contact_us": self.last_contact_us,
            "last_contact": iso(self.last_contact_us),
            "down_since": iso(self.down_since_us),
            "failures": self.failures,
            "retry_at_us": self.retry_at_us,
            "last_error": self.last_error,
            "route": self.route,
            "down_since_us": self.down_since_us,
        }


@dataclass(slots=True)
class PeerLink:
    """Delivery to one peer: drain in batches, back off on silence, heartbeat."""

    ctx: NodeContext
    transport: PeerTransport
    peer: Peer
    batch_size: int = 64
    backoff_base_s: float = 0.25
    backoff_cap_s: float = 30.0
    claim_lease_s: float = 30.0
    state: LinkState = field(init=False)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    relay_via: Callable[[], Peer | None] | None = None
    direct_retry_at_us: int = 0
    refusals: int = 0  # batches refused in a row by a peer that answers

    def __post_init__(self) -> None:
        self.state = LinkState(party=self.peer.party)

    def backoff_s(self) -> float:
        if self.state.failures == 0:
            return 0.0
        return float(min(self.backoff_cap_s, self.backoff_base_s * 2 ** (self.state.failures - 1)))

    def _heard(self, route: str, rtt_ms: float | None) -> None:
        state = self.state
        if state.status == "down":
            self.ctx.events.publish("link.up", party=self.peer.party)
        relayed = route.startswith("relay:")
        state.status = "degraded" if relayed else "up"
        if not relayed:
            self.direct_retry_at_us = 0
        state.failures = 0
        if not self.refusals:  # a refusing peer's backoff ends when it accepts a batch
            state.retry_at_us = 0
        state.last_contact_us = self.ctx.now_us()
        state.route = route
        state.down_since_us = None
        state.last_error = None
        if rtt_ms is not None:
            state.rtt_ms = round(rtt_ms, 2)

    def _silent(self, error: str) -> None:
        state = self.state
        state.failures += 1
        state.last_error = error
        if state.status != "down":
            state.down_since_us = self.ctx.now_us()
            self.ctx.events.publish("link.down", party=self.peer.party, error=error)
        state.status = "down"
        state.retry_at_us = self.ctx.now_us() + int(self.backoff_s() * 1_000_000)

    async def drain(self) -> int:
        """Send every due item (until none is left or the peer goes silent). Returns count."""
        delivered = 0
        while self.ctx.now_us() >= self.state.retry_at_us:
            now_us = self.ctx.now_us()
            items = await anyio.to_thread.run_sync(self._claim, now_us)
            if not items:
                break
            try:
                done = await self._send_batch(items)
            except BaseException:  # cancelled or failed before the attempt was recorded
                self._release(items)
                raise
            if done < 0:
                break
            delivered += done
        return delivered

    def _claim(self, now_us: int) -> list[Delivery]:
        if self.ctx.db.one_process:
            # One process, and one task per link that drains batch after batch, so
            # nobody else can take these rows: looking is enough, and saves a write
            # transaction (an fsync) on every message's way out.
            return self._due(now_us)
        lease_until = now_us + int(self.claim_lease_s * 1_000_000)
        with self.ctx.db.write(sequenced=False) as conn:
            return self.ctx.messages.claim(
                conn,
                self.peer.party,
                now_us,
                self.batch_size,
                worker=self.ctx.worker,
                until_us=lease_until,
            )

    def _release(self, items: Sequence[Delivery]) -> None:
        with contextlib.suppress(MolinkError), self.ctx.db.write(sequenced=False) as conn:
            self.ctx.messages.release(conn, items, self.ctx.worker)

    def _due(self, now_us: int, limit: int | None = None) -> list[Delivery]:
        with self.ctx.db.read() as conn:
            return self.ctx.messages.due(conn, self.peer.party, now_us, limit or self.batch_size)

    def retry_due(self) -> bool:
        """A backed-off retry is due now."""
        return 0 < self.state.retry_at_us <= self.ctx.now_us()

    async def has_due(self) -> bool:
        """Whether any item for this peer is due now."""
        return bool(await anyio.to_thread.run_sync(self._due, self.ctx.now_us(), 1))

    async def _post(self, envelopes: list[dict[str, Any]]) -> Response:
        """Post directly; if the direct routes are down, relay through the mediator."""
        now_us = self.ctx.now_us()
        direct_error: PeerUnreachable | None = None
        if now_us >= self.direct_retry_at_us:
            try:
                answer = await self.transport.request(
                    self.peer, "POST", ENVELOPES_PATH, canonical_json({"envelopes": envelopes})
                )
                self.direct_retry_at_us = 0
                return answer
            except PeerUnreachable as exc:
                direct_error = exc
                self.direct_retry_at_us = now_us + int(
                    min(self.backoff_cap_s, self.backoff_base_s * 2**self.state.failures)
                    * 1_000_000
                )
        mediator = self.relay_via() if self.relay_via is not None else None
        if mediator is None or mediator.party == self.peer.party:
            raise direct_error or PeerUnreachable(f"{self.peer.party}: direct route backing off")
        body = canonical_json({"to": self.peer.party, "envelopes": envelopes})
        try:
            answer = await self.transport.request(mediator, "POST", RELAY_PATH, body)
        except PeerUnreachable as exc:
            raise PeerUnreachable(
                f"{self.peer.party} unreachable directly and via {mediator.party}: {exc.message}"
            ) from exc
        if answer.status != 200:
            raise PeerUnreachable(f"relay via {mediator.party} failed: {answer.problem().message}")
        return replace(answer, route=f"relay:{mediator.party}")

    async def _send_batch(self, items: Sequence[Delivery]) -> int:
        started = asyncio.get_running_loop().time()
        try:
            answer = await self._post([item.envelope for item in items])
        except PeerUnreachable as exc:
            self._silent(exc.message)
            await anyio.to_thread.run_sync(self._record_failure, items, exc.message)
            return -1
        self._heard(answer.route, (asyncio.get_running_loop().time() - started) * 1000)
        if answer.status != 200:
            # The peer is there but refuses the batch (a skewed clock, a key it has not
            # learned yet, an overload): the link is up, yet retrying at once would
            # only be refused again. Back off exponentially too, capped, until a batch
            # is accepted.
            error = answer.problem().message
            self.refusals += 1
            self.state.last_error = error
            delay_s = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (self.refusals - 1))
            self.state.retry_at_us = self.ctx.now_us() + int(delay_s * 1_000_000)
            await anyio.to_thread.run_sync(self._record_failure, items, error)
            return -1
        if self.refusals:
            self.refusals = 0
            self.state.retry_at_us = 0
        try:
            results = answer.json()["results"]
            if not isinstance(results, list) or len(results) != len(items):
                raise MalformedData("results do not match the batch")
        except (MolinkError, KeyError, TypeError) as exc:
            await anyio.to_thread.run_sync(self._record_failure, items, f"bad answer: {exc}")
            return -1
        return await anyio.to_thread.run_sync(self._record_results, items, results, answer.route)

    def _record_failure(self, items: Sequence[Delivery], error: str) -> None:
        # Link-level backoff lives in memory (reset by any answer); items stay due now.
        with self.ctx.db.write(sequenced=False) as conn:
            self.ctx.messages.mark_attempt(conn, items, error[:500], self.ctx.now_us())

    def _record_results(self, items: Sequence[Delivery], results: list[Any], route: str) -> int:
        ctx = self.ctx
        delivered = 0
        problems: list[tuple[Delivery, str]] = []
        directory = ctx.directory()
        with ctx.db.write() as conn:
            now_us = ctx.now_us()
            for item, result in zip(items, results, strict=True):
                receipt_text = result.get("receipt") if isinstance(result, dict) else None
                try:
                    if not isinstance(receipt_text, str):
                        raise MalformedData(_describe_rejection(result))
                    receipt = verify_receipt(
                        receipt_text,
                        directory,
                        message_id=item.message_id,
                        jws_sha256=item.jws_sha256,
                    )
                    if receipt.recipient != self.peer.party:
                        raise MalformedData("receipt signed by another party")
                except MolinkError as exc:
                    problems.append((item, exc.message))
                    continue
                if record_receipt(ctx, conn, receipt, item.jws_sha256, route, now_us):
                    delivered += 1
            for item, error in problems:
                retry = now_us + int(self.backoff_cap_s * 1_000_000)
                ctx.messages.mark_attempt(conn, [item], error[:500], retry)
        for item in items:
            if all(item is not p[0] for p in problems):
                ctx.events.publish(
                    "message.delivered", id=item.message_id, recipient=item.recipient
                )
        return delivered

    async def heartbeat(self) -> bool:
        """Ping the peer; any answer counts as contact and resets backoff."""
        started = asyncio.get_running_loop().time()
        try:
            answer = await self.transport.request(self.peer, "GET", PING_PATH, b"", timeout=2.0)
        except PeerUnreachable as exc:
            if self.state.status != "down" or self.ctx.now_us() >= self.state.retry_at_us:
                self._silent(exc.message)
            return False
        self._heard(answer.route, (asyncio.get_running_loop().time() - started) * 1000)
        return True


class Outbox:
    """Runs one ``PeerLink`` task per peer, woken by new outbound items."""

    def __init__(
        self,
        ctx: NodeContext,
        transport: PeerTransport,
        *,
        batch_size: int = 64,
        backoff_base_s: float = 0.25,
        backoff_cap_s: float = 30.0,
        heartbeat_s: float = 2.0,
        claim_lease_s: float = 30.0,
    ) -> None:
        self._ctx = ctx
        self._claim_lease_s = claim_lease_s
        self._transport = transport
        self._batch_size = batch_size
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._heartbeat_s = heartbeat_s
        self.links: dict[str, PeerLink] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def refresh_peers(self) -> None:
        with self._ctx.db.read() as conn:
            peers = self._ctx.peers.all(conn)
        for peer in peers:
            link = self.links.get(peer.party)
            if link is None:
                self.links[peer.party] = PeerLink(
                    self._ctx,
                    self._transport,
                    peer,
                    relay_via=self.mediator,
                    batch_size=self._batch_size,
                    backoff_base_s=self._backoff_base_s,
                    backoff_cap_s=self._backoff_cap_s,
                    claim_lease_s=self._claim_lease_s,
                )
            else:
                link.peer = peer

    def mediator(self) -> Peer | None:
        """The mediator node that relays when a direct route is down (if any)."""
        for link in self.links.values():
            if link.peer.mediator and link.state.status != "down":
                return link.peer
        for link in self.links.values():
            if link.peer.mediator:
                return link.peer
        return None

    def wake(self, party: str | None = None) -> None:
        for name, link in self.links.items():
            if party is None or party == name:
                link.wake.set()

    def repair_schedule(self) -> int:
        """Make items due now that were scheduled beyond the longest backoff; count them.

        No retry is ever scheduled more than ``backoff_cap_s`` ahead, so a later one was
        set by a clock that has since been set back (an NTP step, a corrected skew).
        Without this, such items would sit out the whole step before their next try.
        """
        now_us = self._ctx.now_us()
        horizon_us = now_us + int((self._backoff_cap_s + 1.0) * 1_000_000)
        with self._ctx.db.write() as conn:
            return self._ctx.messages.reschedule_beyond(conn, horizon_us, now_us)

    async def run(self) -> None:
        """Run until cancelled."""
        self.refresh_peers()
        await anyio.to_thread.run_sync(self.repair_schedule)
        loop = asyncio.get_running_loop()
        async with self._ctx.events.subscribe() as queue:
            watcher = asyncio.create_task(self._watch(queue))
            try:
                while True:
                    for party, link in self.links.items():
                        if party not in self._tasks or self._tasks[party].done():
                            self._tasks[party] = asyncio.create_task(self._run_link(link))
                    wall, mono = self._ctx.now_us(), loop.time()
                    await asyncio.sleep(5.0)
                    await anyio.to_thread.run_sync(self.refresh_peers)
                    elapsed_us = (loop.time() - mono) * 1_000_000
                    if self._ctx.now_us() - wall < elapsed_us - 1_000_000:  # clock set back
                        await anyio.to_thread.run_sync(self.repair_schedule)
            finally:
                watcher.cancel()
                for task in self._tasks.values():
                    task.cancel()
                for task in [watcher, *self._tasks.values()]:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _watch(self, queue: asyncio.Queue[Any]) -> None:
        while True:
            event = await queue.get()
            # Only this worker's own commits wake its links: the worker that queued an
            # item drains it, and waking every worker's links for every item would only
            # make them race for the same rows (claims keep that safe, not cheap).
            if event.remote:
                continue
            if event.kind in ("message.queued", "message.acknowledged", "outbox.wake"):
                self.wake()

    async def _run_link(self, link: PeerLink) -> None:
        await link.heartbeat()
        while True:
            # Clear BEFORE draining: a wake that arrives while the drain runs (an item
            # committed after its query) must start another drain, not be lost.
            link.wake.clear()
            try:
                await link.drain()
            except MolinkError as exc:  # storage hiccup: keep the link alive
                link.state.last_error = exc.message
            # Probe a down peer every 2 s so its return is noticed within seconds.
            wait = self._heartbeat_s if link.state.status != "down" else min(2.0, self._heartbeat_s)
            if link.state.retry_at_us:
                wait = max(0.05, min(wait, (link.state.retry_at_us - self._ctx.now_us()) / 1e6))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(link.wake.wait(), timeout=wait)
            if link.wake.is_set():
                continue
            if link.retry_due() and await link.has_due():
                # The retry itself probes the peer, with the real batch, so that each
                # pending item records the attempt and why it failed. A heartbeat here
                # would push the backoff on and items queued while the peer is away
                # would never be tried (shown "queued", no error) until it answers.
                continue
            await link.heartbeat()


def record_receipt(
    ctx: NodeContext, conn: Connection, receipt: Receipt, jws_sha256: str, route: str, now_us: int
) -> bool:
    """Store a verified receipt and log it; False if that delivery was already recorded."""
    if not ctx.messages.mark_delivered(
        conn, receipt.message_id, receipt.recipient, receipt.jws, now_us, route
    ):
        return False
    ctx.log.append(
        conn,
        [
            {
                "type": "receipt.received",
                "id": receipt.message_id,
                "jws_sha256": jws_sha256,
                "recipient": receipt.recipient,
                "receipt_sha256": _sha256(receipt.jws),
                "recipient_log_origin": receipt.log_origin,
                "recipient_log_index": receipt.log_index,
                "route": route,
                "time": now_us // 1000,
            }
        ],
        now_us,
    )
    return True


def _describe_rejection(result: Any) -> str:
    if isinstance(result, dict) and isinstance(result.get("error"), dict):
        error = result["error"]
        return f"peer rejected: {error.get('type')}: {error.get('detail')}"
    return "peer answered without a receipt"


def _sha256(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("ascii")).hexdigest()
