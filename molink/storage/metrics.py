"""Read-only aggregates for monitoring (``molink.services.metrics``), portable SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, case, func, select

from molink.storage.schema import deliveries

__all__ = ["LatencyHistogram", "delivery_latency", "oldest_pending"]


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    """Cumulative counts of deliveries at or under each bound (µs), their count and sum."""

    bounds_us: tuple[int, ...]
    cumulative: tuple[int, ...]
    count: int
    sum_us: int


def delivery_latency(conn: Connection, bounds_us: Sequence[int]) -> LatencyHistogram:
    """From queueing to the verified receipt, over every delivery this node recorded.

    One pass over ``deliveries``; the counts only grow, as a Prometheus histogram's must.
    """
    latency = deliveries.c.delivered_at - deliveries.c.created
    columns = [func.count(), func.coalesce(func.sum(latency), 0)]
    columns += [func.coalesce(func.sum(case((latency <= b, 1), else_=0)), 0) for b in bounds_us]
    row = conn.execute(select(*columns).where(deliveries.c.delivered_at.is_not(None))).one()
    return LatencyHistogram(
        bounds_us=tuple(bounds_us),
        cumulative=tuple(int(v) for v in row[2:]),
        count=int(row[0]),
        sum_us=int(row[1]),
    )


def oldest_pending(conn: Connection) -> dict[str, int]:
    """Per recipient, the queueing time (µs) of the oldest undelivered item."""
    rows = conn.execute(
        select(deliveries.c.recipient, func.min(deliveries.c.created))
        .where(deliveries.c.status != "delivered")
        .group_by(deliveries.c.recipient)
    )
    return {str(r[0]): int(r[1]) for r in rows}
