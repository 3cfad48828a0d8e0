"""Revocation is immediate: open sessions, tokens and live event streams end at once."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from molink.api import routes_events
from molink.services.context import NodeContext
from molink.services.registry import TerminalService
from tests.support.access import (
    PASSWORD,
    Stream,
    TerminalKey,
    account,
    bearer,
    cheap_access,
    enrol_and_approve,
    login,
    role_token,
    totp,
)
from tests.support.memnet import MemNode, build_memnet, run


def _bare(node: MemNode) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=node.app), base_url="http://node")


async def _session(c: httpx.AsyncClient, node: MemNode, admin: str, name: str) -> tuple[str, str]:
    key = TerminalKey()
    op = account(node, name, "duty_officer")
    await enrol_and_approve(c, key, node.party, admin)
    r = await login(c, key, name, password=PASSWORD, code=totp(op.totp_secret, node))
    assert r.status_code == 201, r.text
    return r.json()["token"], key.id


def test_revoking_a_terminal_ends_its_open_session_and_stream(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    node = net["US"]
    cheap_access(node)
    admin = role_token(node, "administrator")

    async def scenario() -> None:
        async with _bare(node) as c:
            token, terminal = await _session(c, node, admin, "duty-a")
            other, _ = await _session(c, node, admin, "duty-b")
            assert (await c.get("/api/v1/messages", headers=bearer(token))).status_code == 200
            stream, bystander = Stream(node.app, token), Stream(node.app, other)
            for s in (stream, bystander):
                start = await s.next()
                assert start["type"] == "http.response.start"
                assert start["status"] == 200
                assert b"molink event stream" in (await s.next())["body"]
            r = await c.post(
                f"/api/v1/terminals/{terminal}/revoke",
                json={"reason": "laptop lost"},
                headers=bearer(admin),
            )
            assert r.status_code == 200, r.text
            assert r.json()["revoked_tokens"] == 1
            assert b"event: revoked" in await stream.body_until_end()
            await stream.close()
            after = await c.get("/api/v1/messages", headers=bearer(token))
            assert after.status_code == 401
            assert f"terminal {terminal!r} is revoked; it can do nothing" in after.json()["detail"]
            again = await c.post("/api/v1/session/challenge", json={"terminal": terminal})
            assert again.status_code == 401
            # the other terminal's stream stays open and keeps receiving events
            node.runtime.ctx.events.publish("alert", id="x", title="still here")
            assert b"still here" in (await bystander.next())["body"]
            await bystander.close()

    run(scenario())


def test_disabling_an_operator_and_revoking_cli_end_provisioned_tokens(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    node = net["US"]
    cheap_access(node)
    admin = role_token(node, "administrator")

    async def scenario() -> None:
        async with _bare(node) as c:
            duty = node.token  # provisioned on a keyless terminal by build_memnet
            assert (await c.get("/api/v1/status", headers=bearer(duty))).status_code == 200
            stream = Stream(node.app, duty)
            assert (await stream.next())["status"] == 200
            r = await c.post(f"/api/v1/operators/duty-{node.party}/disable", headers=bearer(admin))
            assert r.json()["disabled"] is True
            assert b"event: revoked" in await stream.body_until_end()
            await stream.close()
            refused = await c.get("/api/v1/status", headers=bearer(duty))
            assert refused.status_code == 401
            assert "is disabled" in refused.json()["detail"]
            await c.post(f"/api/v1/operators/duty-{node.party}/enable", headers=bearer(admin))
            assert (await c.get("/api/v1/status", headers=bearer(duty))).status_code == 200
            r = await c.post(
                f"/api/v1/terminals/console-{node.party}/revoke", headers=bearer(admin)
            )
            assert r.status_code == 200, r.text
            refused = await c.get("/api/v1/status", headers=bearer(duty))
            assert "is revoked" in refused.json()["detail"]

    run(scenario())


def test_a_stream_rechecks_at_keepalive_when_no_one_tells_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A revocation by another process (CLI, another worker) reaches the stream anyway."""
    monkeypatch.setattr(routes_events, "KEEPALIVE_S", 0.05)
    net = build_memnet(tmp_path, ["US", "RU"])
    node = net["US"]
    cheap_access(node)
    admin = role_token(node, "administrator")
    ctx = node.runtime.ctx
    elsewhere = NodeContext(
        keys=ctx.keys, db=ctx.db, clock=ctx.clock, random=ctx.random, log_origin=ctx.log_origin
    )  # its own event bus: the stream hears nothing from it

    async def scenario() -> None:
        async with _bare(node) as c:
            token, terminal = await _session(c, node, admin, "duty-a")
            stream = Stream(node.app, token)
            assert (await stream.next())["status"] == 200
            assert b"molink event stream" in (await stream.next())["body"]
            assert b"keepalive" in (await stream.next())["body"]
            TerminalService(elsewhere).decide(terminal, "revoked", by="local:test")
            assert b"event: revoked" in await stream.body_until_end()
            await stream.close()

    run(scenario())


def test_unenrolled_and_rejected_terminals_can_do_nothing(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    node = net["US"]
    cheap_access(node)
    admin = role_token(node, "administrator")
    key = TerminalKey()

    async def scenario() -> None:
        async with _bare(node) as c:
            r = await c.post("/api/v1/session/challenge", json={"terminal": key.id})
            assert r.status_code == 401
            assert "is not enrolled; it can do nothing" in r.json()["detail"]
            await c.post("/api/v1/terminals", json=key.enrolment("US"))
            await c.post(f"/api/v1/terminals/{key.id}/reject", headers=bearer(admin))
            r = await c.post("/api/v1/session/challenge", json={"terminal": key.id})
            assert "is rejected; it can do nothing" in r.json()["detail"]
            r = await c.post(
                "/api/v1/tokens",
                json={"operator": f"duty-{node.party}", "terminal": key.id, "scopes": ["*"]},
                headers=bearer(admin),
            )
            assert r.status_code == 409  # no token for a terminal that is not approved
            nobody = await c.get("/api/v1/messages", headers=bearer("mlk_forged"))
            assert nobody.status_code == 401
            assert nobody.headers["www-authenticate"] == "Bearer"

    run(scenario())
