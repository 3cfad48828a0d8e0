"""The audit trail: every state-changing attempt and every refusal, in the table and the log."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx

from tests.support.access import TerminalKey, bearer, cheap_access, role_token
from tests.support.memnet import MemNode, build_memnet, run

LOG_KEYS = {"type", "id", "time", "operator", "role", "terminal", "action", "target", "outcome",
            "status"}  # fmt: skip


def _bare(node: MemNode) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=node.app), base_url="http://node")


def _audit_entries(node: MemNode) -> list[dict[str, object]]:
    ctx = node.runtime.ctx
    with ctx.db.read() as conn:
        rows = ctx.log.entries(conn, 0, 10_000)
    entries = [json.loads(bytes(r.data)) for r in rows]
    return [e for e in entries if e.get("type") == "audit"]


def test_audit_records_attempts_and_refusals(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    node = net["US"]
    cheap_access(node)
    admin = role_token(node, "administrator")
    auditor = role_token(node, "auditor")
    translator = role_token(node, "translator")
    key = TerminalKey()

    async def scenario() -> None:
        async with _bare(node) as c:
            sent = await c.post(
                "/api/v1/messages", json={"to": ["RU"], "body": "hello"}, headers=node.auth
            )
            assert sent.status_code == 201
            unknown = await c.post(
                "/api/v1/messages", json={"to": ["ZZ"], "body": "hello"}, headers=node.auth
            )
            assert unknown.status_code == 422
            assert (await c.get("/api/v1/messages", headers=node.auth)).status_code == 200
            refused = await c.post(
                "/api/v1/messages", json={"to": ["RU"], "body": "x"}, headers=bearer(translator)
            )
            assert refused.status_code == 403
            forged = await c.get("/api/v1/messages", headers=bearer("mlk_forged-token"))
            assert forged.status_code == 401
            busy = await c.post(
                "/api/v1/channels/nope/events",
                json={"action": "suspend", "reason": "r"},
                headers=bearer(auditor),
            )
            assert busy.status_code == 403
            await c.post("/api/v1/terminals", json=key.enrolment("US"))
            await c.post(f"/api/v1/terminals/{key.id}/approve", headers=bearer(admin))
            failed = await c.post("/api/v1/terminals/trm-nope/approve", headers=bearer(admin))
            assert failed.status_code == 404

            r = await c.get("/api/v1/audit", headers=bearer(auditor))
            assert r.status_code == 200
            items = r.json()["items"]
            summary = [(i["operator"], i["action"], i["outcome"], i["status"]) for i in items]
            assert summary == [
                (f"duty-{node.party}", "message.send", "ok", 201),  # in the send's own commit
                (f"duty-{node.party}", "message.send", "failed", 422),
                ("translator-US", "message.send", "refused", 403),
                (None, "message.read", "refused", 401),
                ("auditor-US", "channel.change", "refused", 403),
                (None, "terminal.enrol", "ok", 202),
                ("administrator-US", "terminal.manage", "ok", 200),
                ("administrator-US", "terminal.manage", "failed", 404),
            ]  # the successful GET is not recorded: reads change nothing
            translator_refusal = items[2]
            assert translator_refusal["role"] == "translator"
            assert translator_refusal["terminal"] == "cli"
            assert "permission 'message.send' is required" in translator_refusal["detail"]
            assert items[0]["terminal"] == f"console-{node.party}"
            assert items[6]["target"] == key.id
            assert items[5]["terminal"] == key.id

            only = await c.get(
                "/api/v1/audit?outcome=refused&action=message.*", headers=bearer(auditor)
            )
            assert [i["status"] for i in only.json()["items"]] == [403, 401]
            mine = await c.get("/api/v1/audit?operator=auditor-US", headers=bearer(auditor))
            assert [i["action"] for i in mine.json()["items"]] == ["channel.change"]
            page = await c.get("/api/v1/audit?limit=3", headers=bearer(auditor))
            nxt = page.json()["next"]
            rest = await c.get(f"/api/v1/audit?cursor={nxt}", headers=bearer(auditor))
            ids = [i["id"] for i in page.json()["items"] + rest.json()["items"]]
            assert ids == [i["id"] for i in items]
            nope = await c.get("/api/v1/audit", headers=bearer(translator))
            assert nope.status_code == 403

            logged = _audit_entries(node)
            assert [e["id"] for e in logged][: len(items)] == [i["id"] for i in items]
            for entry in logged:
                assert set(entry) == LOG_KEYS  # metadata only: no detail, no address
            assert all(i["log_index"] is not None for i in items)
            assert "hello" not in json.dumps(logged)

    run(scenario())


def test_a_flood_of_bad_credentials_is_cut_off_and_recorded_once(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    node = net["US"]
    auditor = role_token(node, "auditor")

    async def scenario() -> None:
        async with _bare(node) as c:
            for n in range(60):
                r = await c.get("/api/v1/status", headers=bearer(f"mlk_guess{n}"))
                assert r.status_code == 401
            for n in range(5):
                r = await c.get("/api/v1/status", headers=bearer(f"mlk_more{n}"))
                assert r.status_code == 429
                assert "too many refused credentials" in r.json()["detail"]
            records = [e for e in _audit_entries(node) if e["status"] in (401, 429)]
            assert [e["status"] for e in records].count(401) == 60
            assert [e["action"] for e in records if e["status"] == 429] == ["auth.flood"]
            node.runtime.ctx.clock.advance(timedelta(seconds=61))
            ok = await c.get("/api/v1/status", headers=bearer(auditor))
            assert ok.status_code == 200

    run(scenario())
