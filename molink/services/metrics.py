"""Prometheus metrics of one node (``GET /metrics``), computed when scraped.

What the node's workers share comes from the database, so whichever worker answers
a scrape, these agree:

* ``molink_outbox_queue_depth{recipient,precedence}``: undelivered items;
* ``molink_outbox_oldest_pending_seconds{recipient}``: age of the oldest of them;
* ``molink_delivery_latency_seconds``: histogram over every delivery recorded, from
  queueing to the verified receipt;
* ``molink_log_entries`` and ``molink_log_checkpoint_size``: log size, and how much
  of it the latest signed checkpoint covers.

Link state is each worker's own view (every worker probes every peer):
``molink_link_up{peer}``, ``molink_link_state{peer,state}``,
``molink_link_rtt_seconds{peer}`` and ``molink_link_failures{peer}``.
No message content, subject or operator appears in any metric.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from molink.core.precedence import Precedence
from molink.services.context import NodeContext
from molink.services.outbox import LinkState
from molink.storage.logtree import LogTreeRepo
from molink.storage.metrics import delivery_latency, oldest_pending

__all__ = ["CONTENT_TYPE", "LATENCY_BOUNDS_S", "NodeMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BOUNDS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)
_STATES = ("up", "degraded", "down", "unknown")
_NAMES = {p.rank: p.value for p in Precedence}


class NodeMetrics(Collector):
    """A Prometheus collector over one node's database and this worker's links."""

    def __init__(self, ctx: NodeContext, links: Callable[[], Mapping[str, LinkState]]) -> None:
        self._ctx = ctx
        self._links = links
        self._tree = LogTreeRepo()
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self)

    def render(self) -> bytes:
        """The text exposition format (blocking: call it from a worker thread)."""
        return generate_latest(self._registry)

    def collect(self) -> Iterator[Metric]:
        yield from self._stored()
        yield from self._link_metrics()

    def _stored(self) -> Iterator[Metric]:
        ctx = self._ctx
        now_us = ctx.now_us()
        bounds = [int(b * 1_000_000) for b in LATENCY_BOUNDS_S]
        with ctx.db.read() as conn:
            pending = ctx.messages.pending_counts(conn)
            oldest = oldest_pending(conn)
            latency = delivery_latency(conn, bounds)
            log_size = ctx.log.size(conn)
            latest = self._tree.latest_checkpoint(conn)
        depth = GaugeMetricFamily(
            "molink_outbox_queue_depth",
            "Undelivered outbox items by recipient and precedence.",
            labels=["recipient", "precedence"],
        )
        for recipient, ranks in sorted(pending.items()):
            for rank in sorted(_NAMES):
                depth.add_metric([recipient, _NAMES[rank]], ranks.get(rank, 0))
        yield depth
        age = GaugeMetricFamily(
            "molink_outbox_oldest_pending_seconds",
            "Age of the oldest undelivered item per recipient.",
            labels=["recipient"],
        )
        for recipient, created in sorted(oldest.items()):
            age.add_metric([recipient], max(0, now_us - created) / 1e6)
        yield age
        yield HistogramMetricFamily(
            "molink_delivery_latency_seconds",
            "From queueing to the verified delivery receipt, every delivery recorded.",
            buckets=[
                *[(repr(b), n) for b, n in zip(LATENCY_BOUNDS_S, latency.cumulative, strict=True)],
                ("+Inf", latency.count),
            ],
            sum_value=latency.sum_us / 1e6,
        )
        yield GaugeMetricFamily("molink_log_entries", "Entries in the log.", value=log_size)
        yield GaugeMetricFamily(
            "molink_log_checkpoint_size",
            "Tree size of the latest signed checkpoint.",
            value=0 if latest is None else int(latest.size),
        )

    def _link_metrics(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "molink_link_up",
            "1 while this worker reaches the peer (directly or relayed).",
            labels=["peer"],
        )
        state = GaugeMetricFamily(
            "molink_link_state",
            "The link's state, as seen by this worker.",
            labels=["peer", "state"],
        )
        rtt = GaugeMetricFamily(
            "molink_link_rtt_seconds", "Last round-trip time to the peer.", labels=["peer"]
        )
        failures = GaugeMetricFamily(
            "molink_link_failures",
            "Consecutive failed attempts to reach the peer.",
            labels=["peer"],
        )
        for peer, link in sorted(self._links().items()):
            up.add_metric([peer], 1 if link.status in ("up", "degraded") else 0)
            for name in _STATES:
                state.add_metric([peer, name], 1 if link.status == name else 0)
            if link.rtt_ms is not None:
                rtt.add_metric([peer], link.rtt_ms / 1000)
            failures.add_metric([peer], link.failures)
        yield from (up, state, rtt, failures)
