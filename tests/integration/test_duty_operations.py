"""Duty operations on an in-memory network with a fake clock: deadlines, escalation,
catalogue, translation, channel lifecycle, line tests, relay and courier."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import insert, select

from molink.services.scenario import CHANNELS
from molink.storage.db import micros
from molink.storage.schema import channels, messages
from tests.support.memnet import MemNet, build_memnet, run


def _install(net: MemNet) -> None:
    for node in net.nodes.values():
        with node.runtime.ctx.db.write() as conn:
            for ch in CHANNELS:
                members = [m for m in ch.members if m in net.nodes]
                conn.execute(
                    insert(channels).values(
                        id=ch.id,
                        name=ch.name,
                        members=members,
                        mediator=ch.mediator,
                        state="active",
                        emergency=ch.emergency,
                        ack_deadlines=None,
                        created=micros(net.clock.now()),
                    )
                )


def test_flash_overdue_realerts_then_escalates_and_ack_stops_it(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])

    async def scenario() -> None:
        async with net["US"].client() as us, net["RU"].client() as ru:
            mid = (
                await us.post(
                    "/api/v1/messages",
                    json={"to": ["RU"], "precedence": "FLASH", "subject": "Hold", "body": "x"},
                )
            ).json()["id"]
            await net.settle()
            net.advance(9 * 60)
            assert net["RU"].runtime.duty.scan() == 0
            net.advance(61)
            assert net["RU"].runtime.duty.scan() == 1  # receiving side: our own officers
            assert net["US"].runtime.duty.scan() == 1  # sending side: overdue
            view = (await us.get(f"/api/v1/messages/{mid}")).json()
            assert view["status_text"].startswith("delivered, not acknowledged, overdue since")
            assert view["overdue_since"] is not None
            assert net["RU"].runtime.duty.scan() == 0  # deduplicated within the round
            net.advance(5 * 60)
            assert net["RU"].runtime.duty.scan() == 1  # re-alert after 5 minutes
            net.advance(5 * 60)  # 20 min: a second deadline period late
            net["RU"].runtime.duty.scan()
            kinds = [a["kind"] for a in (await ru.get("/api/v1/alerts")).json()["items"]]
            assert kinds.count("overdue") == 3
            assert kinds.count("escalation") == 1
            await ru.post(f"/api/v1/messages/{mid}/ack")
            await net.settle()
            net.advance(5 * 60)
            assert net["RU"].runtime.duty.scan() == 0
            assert net["US"].runtime.duty.scan() == 0
            view = (await us.get(f"/api/v1/messages/{mid}")).json()
            assert view["status"] == "acknowledged"
            assert view["overdue_since"] is None

    run(scenario())


def test_coded_message_needs_agreement_and_renders_in_each_language(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    _install(net)

    async def scenario() -> None:
        async with net["US"].client() as us, net["RU"].client() as ru:
            coded = {
                "to": ["US"],
                "channel": "us-ru-emergency",
                "code": "DISTRESS",
                "params": {"area": "44.5N 32.0E"},
                "lang": "ru",
            }
            refused = await ru.post("/api/v1/messages", json=coded)
            assert refused.status_code == 409
            assert "not agreed" in refused.json()["detail"]
            assert (
                await ru.post("/api/v1/channels/us-ru-emergency/catalogue/agree")
            ).status_code == 200
            await net.settle()
            status = (await us.get("/api/v1/channels/us-ru-emergency/catalogue")).json()
            assert status["missing"] == ["US"]
            await us.post("/api/v1/channels/us-ru-emergency/catalogue/agree")
            await net.settle()
            sent = await ru.post("/api/v1/messages", json=coded)
            assert sent.status_code == 201, sent.text
            await net.settle()
            got = (await us.get(f"/api/v1/messages/{sent.json()['id']}")).json()
            assert got["precedence"] == "FLASH"
            assert got["lang"] == "ru"
            assert got["rendered"]["en"] == (
                "Aircraft in distress in area 44.5N 32.0E. Request you hold fire."
            )
            assert got["body"].startswith("Воздушное судно")

    run(scenario())


def test_translation_is_signed_unofficial_and_shared(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])

    async def scenario() -> None:
        async with net["US"].client() as us, net["RU"].client() as ru:
            mid = (
                await ru.post(
                    "/api/v1/messages",
                    json={
                        "to": ["US"],
                        "subject": "Запрос",
                        "body": "Просим подтвердить.",
                        "lang": "ru",
                    },
                )
            ).json()["id"]
            await net.settle()
            same = await us.post(
                f"/api/v1/messages/{mid}/translations", json={"lang": "ru", "text": "x"}
            )
            assert same.status_code == 422
            r = await us.post(
                f"/api/v1/messages/{mid}/translations",
                json={"lang": "en", "text": "Request confirmation."},
            )
            assert r.status_code == 201, r.text
            await net.settle()
            for client in (us, ru):
                view = (await client.get(f"/api/v1/messages/{mid}")).json()
                assert view["body"] == "Просим подтвердить."  # the original stays authoritative
                assert view["translations"][0]["text"] == "Request confirmation."
                assert view["translations"][0]["unofficial"] is True
                assert view["translations"][0]["translator"] == "duty-US"

    run(scenario())


def test_channel_suspend_by_either_restore_needs_both_emergency_never(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    _install(net)

    async def scenario() -> None:
        async with net["US"].client() as us, net["RU"].client() as ru:
            path = "/api/v1/channels/us-ru-dialogue/events"
            r = await ru.post(path, json={"action": "suspend", "reason": "Dialogue frozen"})
            assert r.json()["state"] == "suspended"
            await net.settle()
            assert (await us.get("/api/v1/channels/us-ru-dialogue")).json()["state"] == "suspended"
            refused = await us.post(
                "/api/v1/messages",
                json={"to": ["RU"], "channel": "us-ru-dialogue", "body": "hello"},
            )
            assert refused.status_code == 409
            assert "suspended" in refused.json()["detail"]
            r = await us.post(path, json={"action": "restore", "reason": "Abu Dhabi"})
            assert r.json()["state"] == "suspended"
            assert r.json()["pending_votes"] == ["US"]
            await net.settle()
            r = await ru.post(path, json={"action": "restore", "reason": "Abu Dhabi"})
            assert r.json()["state"] == "restored"
            await net.settle()
            view = (await us.get("/api/v1/channels/us-ru-dialogue")).json()
            assert view["state"] == "restored"
            assert [h["action"] for h in view["history"]] == ["suspend", "restore", "restore"]
            ok = await us.post(
                "/api/v1/messages",
                json={"to": ["RU"], "channel": "us-ru-dialogue", "body": "hello again"},
            )
            assert ok.status_code == 201
            never = await us.post(
                "/api/v1/channels/us-ru-emergency/events",
                json={"action": "suspend", "reason": "no"},
            )
            assert never.status_code == 409
            assert "never suspended" in never.json()["detail"]

    run(scenario())


def test_line_test_is_human_readable_and_acknowledged_automatically(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])

    async def scenario() -> None:
        net["US"].runtime.outbox.refresh_peers()
        assert net["US"].runtime.duty.line_tests() == []  # the first one goes after an hour
        net.advance(3600)
        sent = net["US"].runtime.duty.line_tests()
        assert len(sent) == 1
        assert net["US"].runtime.duty.line_tests() == []  # hourly, not again now
        await net.settle()
        view = net["US"].runtime.queries.get(sent[0])
        assert view["status"] == "acknowledged"
        assert view["recipients"][0]["acknowledged_by"] == "auto"
        assert "Scheduled line test" in view["body"]
        net.advance(3601)
        assert len(net["US"].runtime.duty.line_tests()) == 1

    run(scenario())


def test_direct_route_down_delivers_through_the_mediator(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU", "AE"], mediator="AE")
    net.network.partition("US", "RU")

    async def scenario() -> None:
        async with net["US"].client() as us:
            mid = (
                await us.post(
                    "/api/v1/messages", json={"to": ["RU"], "precedence": "FLASH", "body": "via AE"}
                )
            ).json()["id"]
            await net.settle()
            view = (await us.get(f"/api/v1/messages/{mid}")).json()
            assert view["status"] == "delivered"
            assert view["recipients"][0]["route"] == "relay:AE"
            assert net["US"].runtime.outbox.links["RU"].state.status == "degraded"
        with net["AE"].runtime.ctx.db.read() as conn:  # AE carried it but cannot read it
            assert conn.execute(select(messages).where(messages.c.id == mid)).first() is None
            logged = net["AE"].runtime.ctx.log.entries(conn, 0, 100)
        assert any(b'"relay.forwarded"' in bytes(r.data) for r in logged)

    run(scenario())


def test_courier_file_carries_messages_and_receipts_back(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    net.network.partition("US", "RU")

    async def scenario() -> None:
        async with net["US"].client() as us, net["RU"].client() as ru:
            ids = [
                (await us.post("/api/v1/messages", json={"to": ["RU"], "body": f"m{i}"})).json()[
                    "id"
                ]
                for i in range(3)
            ]
            outbound = await us.post("/api/v1/courier/export", json={"peer": "RU"})
            assert len(outbound.json()["envelopes"]) == 3
            first = (await ru.post("/api/v1/courier/import", content=outbound.content)).json()
            assert first["stored"] == 3
            again = (await ru.post("/api/v1/courier/import", content=outbound.content)).json()
            assert again["duplicates"] == 3  # duplicates do no harm
            back = await ru.post("/api/v1/courier/export", json={"peer": "US"})
            assert len(back.json()["receipts"]) == 3
            result = (await us.post("/api/v1/courier/import", content=back.content)).json()
            assert result["receipts_applied"] == 3
            for mid in ids:
                assert (await us.get(f"/api/v1/messages/{mid}")).json()["status"] == "delivered"
            wrong = await us.post("/api/v1/courier/import", content=outbound.content)
            assert wrong.status_code == 400

    run(scenario())


def test_flash_deferral_needs_a_reason_and_is_recorded(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])

    async def scenario() -> None:
        async with net["US"].client() as us, net["RU"].client() as ru:
            mid = (
                await us.post(
                    "/api/v1/messages", json={"to": ["RU"], "precedence": "FLASH", "body": "x"}
                )
            ).json()["id"]
            await net.settle()
            no_reason = await ru.post(f"/api/v1/messages/{mid}/defer", json={"minutes": 5})
            assert no_reason.status_code == 422
            ok = await ru.post(
                f"/api/v1/messages/{mid}/defer",
                json={"reason": "on the phone with EUCOM", "minutes": 5},
            )
            assert ok.status_code == 201, ok.text
            view = (await ru.get(f"/api/v1/messages/{mid}")).json()
            assert view["deferrals"][0]["reason"] == "on the phone with EUCOM"
            assert view["status"] == "delivered"  # still to be acknowledged
            await ru.post(f"/api/v1/messages/{mid}/ack")
            late = await ru.post(
                f"/api/v1/messages/{mid}/defer", json={"reason": "too late", "minutes": 5}
            )
            assert late.status_code == 409

    run(scenario())
