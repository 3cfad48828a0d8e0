"""Incidents (dual accounts, timeline, RFE deadlines) and the ledger (the prisoner
exchange reconciles to 157 + 3 and 150 + 7 and completes with signatures)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import insert

from molink.core.envelope import verify_signed
from molink.services.scenario import CHANNELS
from molink.storage.db import micros
from molink.storage.schema import channels
from tests.support.memnet import MemNet, build_memnet, run

US_ACCOUNT = {
    "time_start": "2023-03-14T06:03:00Z",
    "location": {"type": "Point", "coordinates": [32.0, 44.5]},
    "assets": ["MQ-9 Reaper", "2 x Su-27"],
    "narrative": "Two Su-27s dumped fuel on the MQ-9, then one struck its propeller.",
}
RU_ACCOUNT = {
    "time_start": "2023-03-14T06:30:00Z",
    "location": {"type": "Point", "coordinates": [32.1, 44.6]},
    "assets": ["MQ-9 Reaper"],
    "narrative": "Без контакта. Беспилотник упал при резком манёвре в зоне временного режима.",
}


def _install(net: MemNet) -> None:
    for node in net.nodes.values():
        with node.runtime.ctx.db.write() as conn:
            for ch in CHANNELS:
                conn.execute(
                    insert(channels).values(
                        id=ch.id,
                        name=ch.name,
                        members=[m for m in ch.members if m in net.nodes],
                        mediator=ch.mediator,
                        state="active",
                        emergency=ch.emergency,
                        ack_deadlines=None,
                        created=micros(net.clock.now()),
                    )
                )


def test_mq9_incident_keeps_both_accounts_side_by_side(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    _install(net)

    async def scenario() -> None:
        async with net["US"].client() as us, net["RU"].client() as ru:
            up = await us.post(
                "/api/v1/incidents/attachments",
                content=b"track,data\n1,2\n",
                headers={"X-Filename": "mq9-track.csv", "Content-Type": "text/csv"},
            )
            assert up.status_code == 201, up.text
            filed = await us.post(
                "/api/v1/incidents",
                json={
                    "channel": "us-ru-emergency",
                    "title": "MQ-9 over the Black Sea",
                    "precedence": "FLASH",
                    "account": {**US_ACCOUNT, "attachments": [up.json()]},
                },
            )
            assert filed.status_code == 201, filed.text
            iid = filed.json()["id"]
            await net.settle()
            r = await ru.post(
                f"/api/v1/incidents/{iid}/events",
                json={"type": "incident.account", "fields": RU_ACCOUNT},
            )
            assert r.status_code == 200, r.text
            await net.settle()
            for client in (us, ru):
                view = (await client.get(f"/api/v1/incidents/{iid}")).json()
                assert view["status"] == "under_discussion"
                assert view["accounts"]["US"]["time_start"] == "2023-03-14T06:03:00Z"
                assert view["accounts"]["RU"]["time_start"] == "2023-03-14T06:30:00Z"
            # RU cannot alter the US account: anything RU signs is RU's own account.
            await ru.post(
                f"/api/v1/incidents/{iid}/events",
                json={
                    "type": "incident.account",
                    "fields": {**RU_ACCOUNT, "narrative": "Revised."},
                },
            )
            await net.settle()
            view = (await us.get(f"/api/v1/incidents/{iid}")).json()
            assert view["accounts"]["US"]["narrative"] == US_ACCOUNT["narrative"]
            assert view["accounts"]["RU"]["version"] == 2
            timeline = (await us.get(f"/api/v1/incidents/{iid}/timeline")).json()["items"]
            kinds = [(i["kind"], i["party"]) for i in timeline][:2]
            assert kinds == [("account", "US"), ("account", "RU")]  # 06:03 before 06:30
            # closing follows the channel rule: both must ask
            await us.post(
                f"/api/v1/incidents/{iid}/events",
                json={"type": "incident.status", "fields": {"status": "closed"}},
            )
            await net.settle()
            assert (await ru.get(f"/api/v1/incidents/{iid}")).json()["status"] != "closed"
            await ru.post(
                f"/api/v1/incidents/{iid}/events",
                json={"type": "incident.status", "fields": {"status": "closed"}},
            )
            await net.settle()
            assert (await us.get(f"/api/v1/incidents/{iid}")).json()["status"] == "closed"
            got = await us.get(f"/api/v1/incidents/attachments/{up.json()['sha256']}")
            assert got.content == b"track,data\n1,2\n"

    run(scenario())


def test_request_for_explanation_deadline_escalates_and_reply_links(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    _install(net)

    async def scenario() -> None:
        async with net["US"].client() as us, net["RU"].client() as ru:
            iid = (
                await us.post(
                    "/api/v1/incidents",
                    json={"channel": "us-ru-emergency", "title": "MQ-9", "account": US_ACCOUNT},
                )
            ).json()["id"]
            await net.settle()
            await us.post(
                f"/api/v1/incidents/{iid}/events",
                json={
                    "type": "incident.rfe",
                    "fields": {"question": "Explain the contact at 06:03Z."},
                },
            )
            await net.settle()
            net.advance(47 * 3600)
            assert net["US"].runtime.incidents.scan_rfe_deadlines(net.clock.now()) == 0
            net.advance(3601)
            assert net["US"].runtime.incidents.scan_rfe_deadlines(net.clock.now()) == 1
            view = (await ru.get(f"/api/v1/incidents/{iid}")).json()
            rfe = view["rfes"][0]
            assert rfe["reply"] is None
            r = await ru.post(
                f"/api/v1/incidents/{iid}/events",
                json={
                    "type": "incident.rfe_reply",
                    "fields": {"rfe": rfe["id"], "text": "There was no contact."},
                },
            )
            assert r.status_code == 200, r.text
            await net.settle()
            view = (await us.get(f"/api/v1/incidents/{iid}")).json()
            assert view["rfes"][0]["reply"]["text"] == "There was no contact."
            own = await us.post(
                f"/api/v1/incidents/{iid}/events",
                json={"type": "incident.rfe_reply", "fields": {"rfe": rfe["id"], "text": "x"}},
            )
            assert own.status_code == 403

    run(scenario())


def _records(n: int, category: str, to: str, prefix: str) -> list[dict[str, str]]:
    return [
        {"pid": f"{prefix}-{category}-{i:04d}", "category": category, "to": to} for i in range(n)
    ]


def test_prisoner_exchange_reconciles_and_completes(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU", "UA", "AE"], mediator="AE")
    _install(net)
    terms = {
        "title": "Exchange of 5 February 2026",
        "kind": "prisoner_exchange",
        "parties": ["RU", "UA"],
        "mediators": ["US", "AE"],
        "terms": {
            "RU": {"servicemen": 157, "civilians": 3},
            "UA": {"servicemen": 150, "civilians": 7},
        },
    }

    async def scenario() -> None:
        async with (
            net["AE"].client() as ae,
            net["RU"].client() as ru,
            net["UA"].client() as ua,
            net["US"].client() as us,
        ):
            aid = (
                await ae.post("/api/v1/ledger", json={"channel": "trilateral", "terms": terms})
            ).json()["id"]
            await net.settle()
            for client in (ru, ua):
                assert (await client.post(f"/api/v1/ledger/{aid}/agree")).status_code == 200
            await net.settle()
            # UA hands over 157 + 3 to RU, one civilian short at first
            short = _records(157, "servicemen", "RU", "ua") + _records(2, "civilians", "RU", "ua")
            await ua.post(f"/api/v1/ledger/{aid}/lists", json={"records": short})
            named = _records(150, "servicemen", "UA", "ru") + _records(7, "civilians", "UA", "ru")
            named[0]["name"] = "Optional name, sealed to UA"
            await ru.post(f"/api/v1/ledger/{aid}/lists", json={"records": named})
            await net.settle()
            view = (await us.get(f"/api/v1/ledger/{aid}")).json()
            assert view["in_force"] is True
            gaps = view["reconciliation"]["discrepancies"]
            assert [(d["receiver"], d["category"], d["expected"], d["actual"]) for d in gaps] == [
                ("RU", "civilians", 3, 2)
            ]
            await ua.post(
                f"/api/v1/ledger/{aid}/lists",
                json={
                    "records": _records(157, "servicemen", "RU", "ua")
                    + _records(3, "civilians", "RU", "ua")
                },
            )
            await ru.post(
                f"/api/v1/ledger/{aid}/handover",
                json={
                    "handed_over": {"servicemen": 150, "civilians": 7},
                    "received": {"servicemen": 157, "civilians": 3},
                },
            )
            await ua.post(
                f"/api/v1/ledger/{aid}/handover",
                json={
                    "handed_over": {"servicemen": 157, "civilians": 3},
                    "received": {"servicemen": 150, "civilians": 7},
                },
            )
            await net.settle()
            view = (await ae.get(f"/api/v1/ledger/{aid}")).json()
            assert view["reconciliation"]["listed"] == {
                "RU": {"servicemen": 157, "civilians": 3},
                "UA": {"servicemen": 150, "civilians": 7},
            }
            assert view["reconciliation"]["complete"] is True
            for client in (ru, ua, ae):
                r = await client.post(f"/api/v1/ledger/{aid}/sign")
                assert r.status_code == 200, r.text
            await net.settle()
            for client in (ru, ua, ae, us):
                done = (await client.get(f"/api/v1/ledger/{aid}")).json()["completion"]
                assert done["complete"] is True
                assert done["signatures"]["AE"]["role"] == "witness"
            export = (await us.get(f"/api/v1/ledger/{aid}/export")).json()
            directory = net["US"].runtime.ctx.directory()
            signers = {
                verify_signed(o["jws"], directory).sender
                for o in export["signed_objects"]
                if o["type"] == "ledger.sign"
            }
            assert signers == {"RU", "UA", "AE"}
            listed = next(
                o
                for o in export["signed_objects"]
                if o["type"] == "ledger.list" and o["from"] == "RU"
            )
            payload = verify_signed(listed["jws"], directory).payload
            assert "name" not in payload["records"][0]
            assert "name_jwe" in payload["records"][0]

    run(scenario())
