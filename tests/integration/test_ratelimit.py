"""Token-bucket rate limits on the federation and login endpoints (molink.api.ratelimit)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from molink.api.ratelimit import DEFAULT_RULES, RateLimit, RateRule, TokenBuckets
from tests.support.memnet import build_memnet, run


class Tick:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_spends_refills_and_caps() -> None:
    rule = RateRule("r", capacity=3, per_second=1.0, prefixes=("/",))
    buckets = TokenBuckets()
    assert [buckets.take(rule, "a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take(rule, "a", 0.0) == pytest.approx(1.0)
    assert buckets.take(rule, "b", 0.0) == 0.0, "sources are independent"
    assert buckets.take(rule, "a", 1.0) == 0.0, "one token back after a second"
    assert buckets.take(rule, "a", 100.0) == 0.0
    assert [buckets.take(rule, "a", 100.0) for _ in range(2)] == [0.0, 0.0]
    assert buckets.take(rule, "a", 100.0) > 0, "never more than the capacity"


def test_bucket_table_is_bounded() -> None:
    rule = RateRule("r", capacity=1, per_second=1.0, prefixes=("/",))
    buckets = TokenBuckets(max_keys=100)
    for n in range(1000):
        buckets.take(rule, f"10.0.{n}", float(n))
    assert len(buckets._state) <= 100


def _client(app: object, host: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(host, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://node")


def test_federation_flood_gets_429_with_retry_after_and_recovers(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    tick = Tick()
    rule = RateRule("federation", capacity=5, per_second=1.0, prefixes=("/federation/",))
    app = RateLimit(net["RU"].app, rules=[rule], clock=tick)

    async def scenario() -> None:
        async with _client(app) as c, _client(app, "127.0.0.2") as other:
            statuses = [(await c.get("/federation/v1/ping")).status_code for _ in range(8)]
            assert statuses[:5] == [400] * 5  # unsigned: refused by the app itself
            assert statuses[5:] == [429] * 3
            refused = await c.get("/federation/v1/ping")
            assert refused.headers["retry-after"] == "1"
            assert refused.headers["content-type"] == "application/problem+json"
            assert "too many federation requests" in refused.json()["detail"]
            assert (await other.get("/federation/v1/ping")).status_code == 400
            assert (await c.get("/api/v1/health")).status_code == 200, "others unlimited"
            tick.now += 2
            assert (await c.get("/federation/v1/ping")).status_code == 400

    run(scenario())


def test_login_endpoints_are_limited(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    app = RateLimit(net["US"].app, clock=Tick())
    login = next(r for r in DEFAULT_RULES if r.name == "login")

    async def scenario() -> None:
        async with _client(app) as c:
            codes = []
            for _ in range(int(login.capacity) + 5):
                answer = await c.post("/api/v1/session/challenge", json={"terminal": "nope"})
                codes.append(answer.status_code)
            assert 429 in codes
            assert codes.count(429) >= 5
            assert (await c.post("/api/v1/session", json={})).status_code == 429, "shared bucket"

    run(scenario())


def test_default_rules_never_slow_honest_delivery(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    net.network.attach("RU", RateLimit(net["RU"].app))

    async def scenario() -> None:
        async with net["US"].client() as us:
            for n in range(300):
                body = {"to": ["RU"], "precedence": "FLASH", "subject": f"{n}", "body": "b",
                        "lang": "en"}  # fmt: skip
                assert (await us.post("/api/v1/messages", json=body)).status_code == 201
        await net.settle(rounds=20)
        async with net["US"].client() as us:
            status = (await us.get("/api/v1/status")).json()
            assert status["links"][0]["queued_total"] == 0

    run(scenario())
