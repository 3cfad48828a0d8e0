"""Terminal enrolment and console login: key proof, password, TOTP, lockout, limits, geofence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

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

GEOFENCE = {  # around Kyiv
    "type": "Polygon",
    "coordinates": [[[30.2, 50.3], [30.8, 50.3], [30.8, 50.6], [30.2, 50.6], [30.2, 50.3]]],
}


def _bare(node: MemNode) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=node.app), base_url="http://node")


def _node(tmp_path: Path, **options: object) -> tuple[MemNode, str]:
    net = build_memnet(tmp_path, ["US", "RU"])
    node = net["US"]
    cheap_access(node, **options)
    return node, role_token(node, "administrator")


def test_enrol_approve_login_whoami_logout(tmp_path: Path) -> None:
    node, admin = _node(tmp_path)
    key = TerminalKey()
    enrolled = account(node, "duty-2", "duty_officer")

    async def scenario() -> None:
        async with _bare(node) as c:
            r = await c.post("/api/v1/terminals", json=key.enrolment("US"))
            assert r.status_code == 202, r.text
            assert r.json()["status"] == "pending"
            assert r.json()["id"] == key.id
            fingerprint = r.json()["fingerprint"]
            again = await c.post("/api/v1/terminals", json=key.enrolment("US"))
            assert again.json()["id"] == key.id  # the same key enrols once
            pending = await c.post("/api/v1/session/challenge", json={"terminal": key.id})
            assert pending.status_code == 401
            assert "pending; it can do nothing" in pending.json()["detail"]
            listed = await c.get("/api/v1/terminals?status=pending", headers=bearer(admin))
            assert [t["fingerprint"] for t in listed.json()["items"]] == [fingerprint]
            ok = await c.post(f"/api/v1/terminals/{key.id}/approve", headers=bearer(admin))
            assert ok.json()["status"] == "approved"
            r = await login(
                c, key, "duty-2", password=PASSWORD, code=totp(enrolled.totp_secret, node)
            )
            assert r.status_code == 201, r.text
            session = r.json()
            assert session["role"] == "duty_officer"
            assert session["terminal"] == key.id
            me = (await c.get("/api/v1/session", headers=bearer(session["token"]))).json()
            assert me["operator"] == "duty-2"
            assert me["kind"] == "session"
            assert "message.send" in me["permissions"]
            assert "operator.manage" not in me["permissions"]
            inbox = await c.get("/api/v1/messages", headers=bearer(session["token"]))
            assert inbox.status_code == 200
            out = await c.delete("/api/v1/session", headers=bearer(session["token"]))
            assert out.status_code == 200
            after = await c.get("/api/v1/messages", headers=bearer(session["token"]))
            assert after.status_code == 401
            assert after.json()["type"].endswith("/not-authenticated")

    run(scenario())


def test_login_refuses_every_bad_part(tmp_path: Path) -> None:
    node, admin = _node(tmp_path, max_failures=10)
    key, other = TerminalKey(), TerminalKey()
    op = account(node, "duty-2", "duty_officer")

    async def scenario() -> None:
        async with _bare(node) as c:
            await enrol_and_approve(c, key, "US", admin)
            good = totp(op.totp_secret, node)
            cases = [
                {"password": "wrong password!!", "code": good},
                {"password": PASSWORD, "code": "000000" if good != "000000" else "111111"},
                {"password": PASSWORD, "code": good, "signer": other},
            ]
            for case in cases:
                r = await login(c, key, "duty-2", **case)  # type: ignore[arg-type]
                assert r.status_code == 401, r.text
            nobody = await login(c, key, "nobody", password=PASSWORD, code=good)
            assert nobody.status_code == 401
            # a challenge is good for one attempt only
            got = (await c.post("/api/v1/session/challenge", json={"terminal": key.id})).json()
            body = {
                "operator": "duty-2",
                "password": "wrong password!!",
                "totp": good,
                "terminal": key.id,
                "challenge": got["challenge"],
                "signature": key.sign(b"x"),
            }
            assert (await c.post("/api/v1/session", json=body)).status_code == 401
            r = await c.post("/api/v1/session", json=body)
            assert "unknown or used challenge" in r.json()["detail"]
            # the right everything works, once per TOTP step (no replay)
            r = await login(c, key, "duty-2", password=PASSWORD, code=good)
            assert r.status_code == 201, r.text
            replay = await login(c, key, "duty-2", password=PASSWORD, code=good)
            assert replay.status_code == 401
            nxt = await login(
                c, key, "duty-2", password=PASSWORD, code=totp(op.totp_secret, node, 1)
            )
            assert nxt.status_code == 201

    run(scenario())


def test_lockout_under_brute_force(tmp_path: Path) -> None:
    node, admin = _node(tmp_path)
    key = TerminalKey()
    op = account(node, "duty-2", "duty_officer")
    clock = node.runtime.ctx.clock

    async def scenario() -> None:
        async with _bare(node) as c:
            await enrol_and_approve(c, key, "US", admin)
            for attempt in range(5):
                r = await login(c, key, "duty-2", password=f"guess number {attempt}", code="123456")
                assert r.status_code == 401, r.text
            locked = await login(
                c, key, "duty-2", password=PASSWORD, code=totp(op.totp_secret, node)
            )
            assert locked.status_code == 429
            assert "locked until" in locked.json()["detail"]
            assert int(locked.headers["retry-after"]) > 14 * 60
            views = (await c.get("/api/v1/operators", headers=bearer(admin))).json()["items"]
            assert next(v for v in views if v["id"] == "duty-2")["locked_until"] is not None
            clock.advance(timedelta(minutes=15, seconds=1))
            r = await login(c, key, "duty-2", password=PASSWORD, code=totp(op.totp_secret, node))
            assert r.status_code == 201, r.text
            refused = await c.get(
                "/api/v1/audit?operator=duty-2&action=session.login&outcome=refused",
                headers=bearer(admin),
            )
            statuses = [i["status"] for i in refused.json()["items"]]
            assert statuses == [401, 401, 401, 401, 401, 429]

    run(scenario())


def test_unlock_lifts_a_lockout(tmp_path: Path) -> None:
    node, admin = _node(tmp_path, max_failures=2)
    key = TerminalKey()
    op = account(node, "duty-2", "duty_officer")

    async def scenario() -> None:
        async with _bare(node) as c:
            await enrol_and_approve(c, key, "US", admin)
            for _ in range(2):
                await login(c, key, "duty-2", password="not the password", code="123456")
            code = totp(op.totp_secret, node)
            assert (await login(c, key, "duty-2", password=PASSWORD, code=code)).status_code == 429
            r = await c.post("/api/v1/operators/duty-2/unlock", headers=bearer(admin))
            assert r.json()["locked_until"] is None
            assert (await login(c, key, "duty-2", password=PASSWORD, code=code)).status_code == 201

    run(scenario())


def test_per_source_rate_limit(tmp_path: Path) -> None:
    node, _ = _node(tmp_path, source_limit=3)

    async def scenario() -> None:
        async with _bare(node) as c:
            for _ in range(3):
                r = await c.post("/api/v1/session/challenge", json={"terminal": "trm-nope"})
                assert r.status_code == 401
            r = await c.post("/api/v1/session/challenge", json={"terminal": "trm-nope"})
            assert r.status_code == 429
            assert r.json()["type"].endswith("/rate-limited")
            assert "retry-after" in r.headers
            node.runtime.ctx.clock.advance(timedelta(seconds=61))
            r = await c.post("/api/v1/session/challenge", json={"terminal": "trm-nope"})
            assert r.status_code == 401

    run(scenario())


def test_geofenced_terminal_must_report_a_location_inside(tmp_path: Path) -> None:
    node, admin = _node(tmp_path)
    key = TerminalKey()
    op = account(node, "duty-2", "duty_officer")

    async def scenario() -> None:
        async with _bare(node) as c:
            await enrol_and_approve(c, key, "US", admin)
            r = await c.put(
                f"/api/v1/terminals/{key.id}/geofence",
                json={"geofence": GEOFENCE},
                headers=bearer(admin),
            )
            assert r.status_code == 200, r.text
            inside = {"X-Molink-Location": "50.45,30.52"}
            outside = {"X-Molink-Location": "55.75,37.62"}
            code = totp(op.totp_secret, node)
            r = await login(c, key, "duty-2", password=PASSWORD, code=code, headers=outside)
            assert r.status_code == 403
            assert "outside its geofence" in r.json()["detail"]
            r = await login(c, key, "duty-2", password=PASSWORD, code=code)
            assert r.status_code == 403
            assert "X-Molink-Location" in r.json()["detail"]
            r = await login(c, key, "duty-2", password=PASSWORD, code=code, headers=inside)
            assert r.status_code == 201, r.text
            token = r.json()["token"]
            ok = await c.get("/api/v1/messages", headers=bearer(token, **inside))
            assert ok.status_code == 200
            moved = await c.get("/api/v1/messages", headers=bearer(token, **outside))
            assert moved.status_code == 403
            silent = await c.get("/api/v1/messages", headers=bearer(token))
            assert silent.status_code == 403
            # EventSource sends no headers: the location rides in the query
            refused = Stream(node.app, token)
            assert (await refused.next())["status"] == 403
            await refused.body_until_end()
            await refused.close()
            stream = Stream(node.app, token, "&location=50.45,30.52")
            assert (await stream.next())["status"] == 200
            await stream.close()
            bad = await c.put(
                f"/api/v1/terminals/{key.id}/geofence",
                json={"geofence": {"type": "Point", "coordinates": [1, 2]}},
                headers=bearer(admin),
            )
            assert bad.status_code == 422

    run(scenario())


def test_unit_quota_caps_approvals_and_pending_enrolments(tmp_path: Path) -> None:
    node, admin = _node(tmp_path)
    keys = [TerminalKey() for _ in range(5)]

    async def scenario() -> None:
        async with _bare(node) as c:
            r = await c.put("/api/v1/quotas/HQ", json={"max_terminals": 2}, headers=bearer(admin))
            assert r.json()["units"]["HQ"]["quota"] == 2
            for key in keys[:2]:
                enrolled = await c.post("/api/v1/terminals", json=key.enrolment("US"))
                assert enrolled.status_code == 202
                r = await c.post(f"/api/v1/terminals/{key.id}/approve", headers=bearer(admin))
                assert r.status_code == 200
            for key in keys[2:4]:
                enrolled = await c.post("/api/v1/terminals", json=key.enrolment("US"))
                assert enrolled.status_code == 202
            flood = await c.post("/api/v1/terminals", json=keys[4].enrolment("US"))
            assert flood.status_code == 409
            assert "too many pending" in flood.json()["detail"]
            other_unit = await c.post("/api/v1/terminals", json=keys[4].enrolment("US", unit="FOB"))
            assert other_unit.status_code == 202
            r = await c.post(f"/api/v1/terminals/{keys[2].id}/approve", headers=bearer(admin))
            assert r.status_code == 409
            assert "quota of 2" in r.json()["detail"]
            r = await c.post(f"/api/v1/terminals/{keys[2].id}/reject", headers=bearer(admin))
            assert r.json()["status"] == "rejected"
            r = await c.post(f"/api/v1/terminals/{keys[2].id}/approve", headers=bearer(admin))
            assert r.status_code == 409
            r = await c.post(f"/api/v1/terminals/{keys[0].id}/revoke", headers=bearer(admin))
            assert r.json()["status"] == "revoked"
            r = await c.post(f"/api/v1/terminals/{keys[3].id}/approve", headers=bearer(admin))
            assert r.status_code == 200  # a revoked terminal frees its place
            usage = (await c.get("/api/v1/quotas", headers=bearer(admin))).json()
            assert usage["units"]["HQ"] == {"quota": 2, "approved": 2, "pending": 0}
            assert usage["default"] == 20

    run(scenario())


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"proof": "A" * 86}, "proof"),
        ({"kind": "tablet"}, "kind"),
        ({"unit": "bad unit"}, "unit"),
        ({"public_key": "!" * 43}, "public_key"),
    ],
)
def test_enrolment_refuses_bad_requests(
    tmp_path: Path, change: dict[str, str], detail: str
) -> None:
    node, _ = _node(tmp_path)
    key = TerminalKey()

    async def scenario() -> None:
        async with _bare(node) as c:
            body = {**key.enrolment("US"), **change}
            r = await c.post("/api/v1/terminals", json=body)
            assert r.status_code == 422, r.text
            assert detail in r.json()["detail"]
            signed_for_ru = key.enrolment("RU")
            r = await c.post("/api/v1/terminals", json=signed_for_ru)
            assert r.status_code == 422  # the proof names another party

    run(scenario())


def test_scoped_api_token(tmp_path: Path) -> None:
    node, admin = _node(tmp_path)
    key = TerminalKey()
    account(node, "bot", "duty_officer")

    async def scenario() -> None:
        async with _bare(node) as c:
            await enrol_and_approve(c, key, "US", admin, kind="automation")
            r = await c.post(
                "/api/v1/tokens",
                json={"operator": "bot", "terminal": key.id, "scopes": ["message.read", "alert.*"]},
                headers=bearer(admin),
            )
            assert r.status_code == 201, r.text
            token, token_id = r.json()["token"], r.json()["id"]
            assert (await c.get("/api/v1/messages", headers=bearer(token))).status_code == 200
            assert (await c.get("/api/v1/alerts", headers=bearer(token))).status_code == 200
            sent = await c.post("/api/v1/messages", json={"to": ["RU"], "body": "x"},
                                headers=bearer(token))  # fmt: skip
            assert sent.status_code == 403
            assert "scopes do not include 'message.send'" in sent.json()["detail"]
            bad = await c.post(
                "/api/v1/tokens",
                json={"operator": "bot", "terminal": key.id, "scopes": ["root"]},
                headers=bearer(admin),
            )
            assert bad.status_code == 422
            listed = (await c.get("/api/v1/tokens?operator=bot", headers=bearer(admin))).json()
            assert [t["id"] for t in listed["items"]] == [token_id]
            assert token not in str(listed)
            r = await c.delete(f"/api/v1/tokens/{token_id}", headers=bearer(admin))
            assert r.json() == {"revoked": 1}
            assert (await c.get("/api/v1/messages", headers=bearer(token))).status_code == 401

    run(scenario())


def _stored_seed(node: MemNode, operator_id: str) -> str:
    from sqlalchemy import select

    from molink.storage.schema import operators

    with node.runtime.ctx.db.read() as conn:
        stored: str = conn.execute(
            select(operators.c.totp_secret).where(operators.c.id == operator_id)
        ).scalar_one()
    return stored


def _store_seed(node: MemNode, operator_id: str, value: str) -> None:
    from molink.storage.operators import OperatorRepo

    with node.runtime.ctx.db.write() as conn:
        OperatorRepo.update(conn, operator_id, totp_secret=value)


def test_totp_seeds_are_sealed_at_rest_and_plain_ones_are_resealed(tmp_path: Path) -> None:
    node, admin = _node(tmp_path)
    key = TerminalKey()
    op = account(node, "duty-2", "duty_officer")
    other = account(node, "duty-3", "duty_officer")
    stored = _stored_seed(node, "duty-2")
    assert stored.startswith("enc1:")
    assert op.totp_secret not in stored  # a copy of the database alone gives no seed

    async def scenario() -> None:
        async with _bare(node) as c:
            await enrol_and_approve(c, key, "US", admin)
            r = await login(c, key, "duty-2", password=PASSWORD, code=totp(op.totp_secret, node))
            assert r.status_code == 201, r.text
            # A seed stored before sealing (plain base32) still works, and is resealed.
            _store_seed(node, "duty-3", other.totp_secret)
            r = await login(c, key, "duty-3", password=PASSWORD, code=totp(other.totp_secret, node))
            assert r.status_code == 201, r.text
            assert _stored_seed(node, "duty-3").startswith("enc1:")
            # A sealed seed copied onto another operator's row does not open there.
            _store_seed(node, "duty-3", stored)
            r = await login(c, key, "duty-3", password=PASSWORD, code=totp(op.totp_secret, node, 1))
            assert r.status_code == 401, r.text

    run(scenario())
