"""Notifications through the API on an in-memory network: every node reaches the same
conflict set, schema errors name the field, late filings are flagged, a suggested resolution
really clears its conflict, and protected sites carry provenance and confirmations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from molink.core.separation import Resolution, SeparationPolicy, apply_resolution, rule_conflicts
from molink.core.sites import ZAPORIZHZHIA_NPP
from tests.support.decon import decon_net, feature
from tests.support.memnet import (
    MemNet,
    build_memnet,  # noqa: F401 - runs this module on both engines
    run,
)

DAY1 = ("2026-02-06T10:00:00Z", "2026-02-06T12:00:00Z")
DAY1_LATER = ("2026-02-06T11:00:00Z", "2026-02-06T13:00:00Z")


async def _conflicts(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    answer = await client.get("/api/v1/conflicts", params={"geometry": "false"})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def _file(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post("/api/v1/notifications", json=body)
    assert answer.status_code == 201, answer.text
    out: dict[str, Any] = answer.json()
    return out


async def _alerts(client: httpx.AsyncClient, kind: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (
        await client.get("/api/v1/alerts", params={"kind": kind})
    ).json()["items"]
    return items


def test_every_node_reaches_the_same_conflict_set(tmp_path: Path) -> None:
    net = decon_net(tmp_path, ["US", "RU", "UA", "AE"], with_boundaries=False)

    async def scenario() -> None:
        clients = {p: net[p].client() for p in net.nodes}
        try:
            us, ru, ua = clients["US"], clients["RU"], clients["UA"]
            # filed before anyone hears of the others: each node sees them in another order
            a = await _file(us, feature("US patrol", *DAY1))
            b = await _file(ru, feature("RU exercise", *DAY1_LATER, lon=32.2))
            c = await _file(ua, feature("UA drones", *DAY1, lon=32.1, lat=44.6, upper=3000.0))
            assert a["conflicts"] == b["conflicts"] == c["conflicts"] == []
            net.advance(30)
            await net.settle()
            d = await _file(ru, feature("RU far away", *DAY1, lon=40.0, lat=44.0))
            assert d["conflicts"] == []
            await net.settle()
            sets = {p: await _conflicts(cl) for p, cl in clients.items()}
            assert sets["US"] == sets["RU"] == sets["UA"] == sets["AE"]
            pairs = {frozenset((x["volume_id"], x["other_id"])) for x in sets["US"]}
            assert pairs == {
                frozenset((a["id"], b["id"])),
                frozenset((a["id"], c["id"])),
                frozenset((b["id"], c["id"])),
            }
            # a change and a cancellation travel too, and every node drops the same pairs
            moved = feature("UA drones", "2026-02-07T10:00:00Z", "2026-02-07T11:00:00Z")
            assert (await ua.put(f"/api/v1/notifications/{c['id']}", json=moved)).status_code == 200
            assert (await ru.post(f"/api/v1/notifications/{b['id']}/cancel")).status_code == 200
            await net.settle()
            sets = {p: await _conflicts(cl) for p, cl in clients.items()}
            assert sets["US"] == sets["RU"] == sets["UA"] == sets["AE"] == []
            for p, cl in clients.items():
                assert len(await _alerts(cl, "conflict")) == 3, p
        finally:
            for cl in clients.values():
                await cl.aclose()

    run(scenario())


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("radius", {"radius_m": -5}, "properties.radius_m"),
    (
        "latitude",
        {"geometry": {"type": "Point", "coordinates": [32.0, 95.0]}},
        "geometry.coordinates",
    ),
    ("kind", {"kind": "picnic"}, "properties.kind"),
    ("start", {"start": "yesterday"}, "properties.start"),
    ("band", {"upper_m": -100.0}, "upper_m"),
    ("unknown", {"colour": "red"}, "properties.colour"),
    ("particular", {"kind": "laser_use"}, "properties.laser_class"),
    ("title", {"title": ""}, "properties.title"),
    ("to", {"to": [5]}, "properties.to"),
]


@pytest.mark.parametrize(("case", "change", "field"), BAD, ids=[b[0] for b in BAD])
def test_schema_errors_name_the_field(
    tmp_path: Path, case: str, change: dict[str, Any], field: str
) -> None:
    net = decon_net(tmp_path, ["US", "RU"], with_boundaries=False)
    body = feature("US patrol", *DAY1)
    for key, value in change.items():
        if key == "geometry":
            body["geometry"] = value
        else:
            body["properties"][key] = value

    async def scenario() -> None:
        async with net["US"].client() as us:
            answer = await us.post("/api/v1/notifications", json=body)
            assert answer.status_code == 422, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.json()["detail"].startswith(field), (case, answer.json())

    run(scenario())


def test_a_late_notification_is_accepted_and_flagged_on_both_nodes(tmp_path: Path) -> None:
    net = decon_net(tmp_path, ["US", "RU"], with_boundaries=False)
    # memnet's clock is 2026-02-05T10:00Z: a launch at 12:00Z is 22 h short of 24 h notice
    launch = feature(
        "Test launch",
        "2026-02-05T12:00:00Z",
        "2026-02-05T13:00:00Z",
        lon=45.9,
        lat=48.6,
        radius=5000.0,
        kind="ballistic_missile_launch",
    )

    async def scenario() -> None:
        async with net["RU"].client() as ru, net["US"].client() as us:
            filed = await _file(ru, launch)
            assert filed["late"] is True
            assert filed["late_s"] == 22 * 3600
            await net.settle()
            view = (await us.get(f"/api/v1/notifications/{filed['id']}")).json()
            assert view["properties"]["late"] is True
            assert view["properties"]["late_s"] == 22 * 3600
            assert "LATE NOTIFICATION" in view["rendered"]["en"]
            assert "ПОЗДНЕЕ УВЕДОМЛЕНИЕ" in view["rendered"]["ru"]
            assert "ПІЗНЄ ПОВІДОМЛЕННЯ" in view["rendered"]["uk"]
            on_time = feature("Next", "2026-02-07T12:00:00Z", "2026-02-07T13:00:00Z")
            assert (await _file(us, on_time))["late"] is False

    run(scenario())


@pytest.mark.parametrize("option", ["suggested", "time", "altitude"])
def test_the_resolution_really_clears_the_conflict_end_to_end(tmp_path: Path, option: str) -> None:
    net = decon_net(tmp_path, ["US", "RU", "AE"], with_boundaries=False)

    async def scenario() -> None:
        async with net["US"].client() as us, net["RU"].client() as ru:
            a = await _file(us, feature("US patrol", *DAY1))
            await net.settle()
            net.advance(60)
            b = await _file(ru, feature("RU exercise", *DAY1_LATER, lon=32.2))
            [conflict] = b["conflicts"]
            assert conflict["volume_id"] == b["id"]  # the later filing is asked to move
            assert conflict["move"] == "RU"
            assert conflict["overlap"]["type"] in ("Polygon", "MultiPolygon")
            await net.settle()
            # US cannot move RU's volume, and its own is not the one asked to move
            assert (
                await us.post(f"/api/v1/notifications/{a['id']}/resolve", json={})
            ).status_code == 409
            # the rule itself agrees that the suggestion clears the pair
            us_state = net["US"].runtime.deconfliction.snapshot()
            va, vb = us_state.item(a["id"]), us_state.item(b["id"])
            chosen = (
                conflict["suggested"]
                if option == "suggested"
                else next(
                    o
                    for o in conflict["options"]
                    if (o["time_shift_s"] if option == "time" else o["altitude_shift_m"])
                )
            )
            moved = apply_resolution(
                vb, Resolution(chosen["time_shift_s"], chosen["altitude_shift_m"])
            )  # type: ignore[arg-type]
            assert rule_conflicts(moved, va, SeparationPolicy()) is None  # type: ignore[arg-type]
            answer = await ru.post(
                f"/api/v1/notifications/{b['id']}/resolve", json={"option": option}
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["conflicts"] == []
            assert answer.json()["rev"] == 1
            await net.settle()
            for node in ("US", "RU", "AE"):
                async with net[node].client() as cl:
                    assert await _conflicts(cl) == [], node
                    view = (await cl.get(f"/api/v1/notifications/{b['id']}")).json()
                    assert view["properties"]["rev"] == 1
                    assert view["conflicts"] == []

    run(scenario())


def test_protected_site_with_provenance_confirmations_and_a_violating_notification(
    tmp_path: Path,
) -> None:
    net = decon_net(tmp_path, ["US", "RU", "UA", "AE"], with_boundaries=False)
    z = ZAPORIZHZHIA_NPP.zone
    site = {
        "name": ZAPORIZHZHIA_NPP.name,
        "kind": "nuclear",
        "geometry": {"type": "Point", "coordinates": [z.lon, z.lat]},  # type: ignore[union-attr]
        "radius_m": z.radius_m,
        "source": ZAPORIZHZHIA_NPP.provenance.source,
    }

    async def scenario() -> None:
        clients = {p: net[p].client() for p in net.nodes}
        try:
            declared = await clients["AE"].post("/api/v1/sites", json=site)
            assert declared.status_code == 201, declared.text
            sid = declared.json()["id"]
            await net.settle()
            for p in ("UA", "US"):
                answer = await clients[p].post(f"/api/v1/sites/{sid}/confirm")
                assert answer.status_code == 200, answer.text
                await net.settle()
            again = await clients["AE"].post(f"/api/v1/sites/{sid}/confirm")
            assert again.status_code == 409  # the declarer cannot vouch for itself
            for p, cl in clients.items():
                props = (await cl.get(f"/api/v1/sites/{sid}")).json()["properties"]
                assert props["declared_by"] == "AE", p
                assert props["confirmed_by"] == ["UA", "US"], p
                assert props["verification"] == "confirmed by 2 parties", p
            drones = feature(
                "Drone operations near Enerhodar",
                *DAY1,
                lon=34.62,
                lat=47.50,
                radius=3000.0,
                upper=1500.0,
                kind="drone_operations",
            )
            filed = await _file(clients["RU"], drones)
            [c] = filed["conflicts"]
            assert (c["kind"], c["other_id"]) == ("site", sid)
            assert c["separation_m"] == 0.0
            assert c["suggested"] is None  # a permanent site at every altitude: move the area
            await net.settle()
            for p, cl in clients.items():
                [alert] = await _alerts(cl, "conflict")
                assert alert["severity"] == "FLASH", p
                assert alert["parties"] == ["AE", "RU"], p
                assert alert["refs"] == [filed["id"], sid], p
        finally:
            for cl in clients.values():
                await cl.aclose()

    run(scenario())


def test_templates_and_rendering_in_three_languages(tmp_path: Path) -> None:
    net = decon_net(tmp_path, ["US", "RU"], with_boundaries=False)

    async def scenario() -> None:
        async with net["US"].client() as us:
            items = (await us.get("/api/v1/notifications/templates")).json()["items"]
            assert len(items) == 9
            for item in items:
                assert set(item["rendered"]) == {"en", "ru", "uk"}
                answer = await us.post("/api/v1/notifications", json={**item["feature"]})
                assert answer.status_code == 201, (item["kind"], answer.text)
                assert answer.json()["late"] is False, item["kind"]
            schema = (await us.get("/api/v1/notifications/schema")).json()
            assert schema["$id"].endswith("/v1.json")
            nid = answer.json()["id"]
            text = await us.get(f"/api/v1/notifications/{nid}/text", params={"lang": "uk"})
            assert text.text.startswith("ПОВІДОМЛЕННЯ")
            listing = (await us.get("/api/v1/notifications")).json()["items"]
            assert len(listing) == 9
            assert all(f["type"] == "Feature" for f in listing)

    run(scenario())


def test_a_rolled_back_transaction_drops_the_cache(tmp_path: Path) -> None:
    net: MemNet = decon_net(tmp_path, ["US", "RU"], with_boundaries=False)
    svc = net["US"].runtime.deconfliction
    db = net["US"].runtime.ctx.db

    async def scenario() -> None:
        async with net["US"].client() as us:
            await _file(us, feature("US patrol", *DAY1))

    run(scenario())
    before = svc.snapshot()
    assert len(before.notes) == 1

    def roll_back() -> None:
        with db.write() as conn:
            svc.on_object(conn, _FakeOpened("nothing"), 0)  # type: ignore[arg-type]
            conn.info["molink.deconfliction.changed"] = True  # as if it had changed the cache
            raise _Abort

    with pytest.raises(_Abort):
        roll_back()
    after = svc.snapshot()
    assert after is not before  # rebuilt from the database
    assert set(after.notes) == set(before.notes)


class _Abort(Exception):
    pass


class _FakeOpened:
    def __init__(self, id_: str) -> None:
        self.signed = type("S", (), {"id": id_})()
