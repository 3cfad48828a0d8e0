"""``GET /metrics``: queue depth by precedence, delivery latency, link state, log size."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from molink.storage.schema import deliveries
from tests.support.memnet import build_memnet, run


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_report_queues_latency_links_and_log(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    us = net["US"]

    async def go() -> tuple[httpx.Response, httpx.Response]:
        async with us.client() as client:
            for i in range(3):
                r = await client.post("/api/v1/messages", json={"to": ["RU"], "body": f"{i}"})
                assert r.status_code == 201
            net.advance(0.2)
            await net.settle()
            await net.tick_logs()
            net.network.partition("US", "RU")
            for precedence in ("FLASH", "ROUTINE", "ROUTINE"):
                r = await client.post(
                    "/api/v1/messages",
                    json={"to": ["RU"], "body": "held", "precedence": precedence},
                )
                assert r.status_code == 201
            net.advance(7)
            scraped = await client.get("/metrics")
        transport = httpx.ASGITransport(app=us.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as anonymous:
            refused = await anonymous.get("/metrics")
        return scraped, refused

    scraped, refused = run(go())
    assert refused.status_code == 401
    assert scraped.status_code == 200, scraped.text
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "subject" not in scraped.text
    assert "held" not in scraped.text
    samples = _samples(scraped.text)

    def depth(precedence: str) -> float:
        labels = (("precedence", precedence), ("recipient", "RU"))
        return samples[("molink_outbox_queue_depth", labels)]

    assert depth("FLASH") == 1
    assert depth("ROUTINE") == 2
    assert depth("IMMEDIATE") == 0
    assert samples[("molink_outbox_oldest_pending_seconds", (("recipient", "RU"),))] == 7.0
    runtime = us.runtime
    with runtime.ctx.db.read() as conn:
        delivered = conn.execute(
            select(func.count()).where(deliveries.c.status == "delivered")
        ).scalar_one()
        log_size = runtime.ctx.log.size(conn)
    assert delivered >= 3
    assert samples[("molink_delivery_latency_seconds_count", ())] == delivered
    assert samples[("molink_delivery_latency_seconds_bucket", (("le", "0.1"),))] == 0
    assert samples[("molink_delivery_latency_seconds_bucket", (("le", "0.25"),))] == delivered
    assert samples[("molink_delivery_latency_seconds_bucket", (("le", "+Inf"),))] == delivered
    assert samples[("molink_log_entries", ())] == log_size
    assert 0 < samples[("molink_log_checkpoint_size", ())] <= log_size
    assert samples[("molink_link_up", (("peer", "RU"),))] == 1
    assert samples[("molink_link_state", (("peer", "RU"), ("state", "up")))] == 1
    assert samples[("molink_link_state", (("peer", "RU"), ("state", "down")))] == 0
