"""Tracks through the API on an in-memory network: intrusion alerts exist when the request
returns, link the track segment and reach every involved node; exports parse back."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

from molink.core.cot import parse_event
from molink.core.geoexport import KML_NS
from molink.core.track_input import parse_geojson
from molink.services.scenario_deconfliction import ESTONIA_ZONE, drone_tracks, mig31_tracks
from tests.support.decon import decon_net, feature
from tests.support.memnet import (
    MemNet,
    build_memnet,  # noqa: F401 - runs this module on both engines
    run,
)


async def _alerts(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    answer = await client.get("/api/v1/alerts", params={"kind": "intrusion", "limit": 1000})
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def _post(client: httpx.AsyncClient, points: list[dict[str, Any]], **extra: Any) -> Any:
    answer = await client.post("/api/v1/tracks", json={"points": points, **extra})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _declare_estonia(net: MemNet, us: httpx.AsyncClient) -> str:
    answer = await us.post("/api/v1/sites", json=ESTONIA_ZONE)
    assert answer.status_code == 201, answer.text
    await net.settle()
    sid: str = answer.json()["id"]
    return sid


def test_the_estonian_incursion_alerts_within_the_request_and_on_every_involved_node(
    tmp_path: Path,
) -> None:
    net = decon_net(tmp_path, ["US", "RU", "UA", "AE"])

    async def scenario() -> None:
        clients = {p: net[p].client() for p in net.nodes}
        try:
            us = clients["US"]
            zone = await _declare_estonia(net, us)
            result = await _post(us, mig31_tracks(), party="RU")
            assert result["accepted"] == 333
            got = sorted((i["track_id"], i["target"]) for i in result["intrusions"])
            assert got == [(f"MIG31-{k}", zone) for k in (1, 2, 3)]
            # the alerts exist when the request returns, before any delivery
            alerts = await _alerts(us)
            assert len(alerts) == 3
            for a in alerts:
                assert a["severity"] == "FLASH"
                assert a["parties"] == ["RU", "US"]
                assert zone in a["refs"]
                segment = a["data"]["segment"]
                assert segment["type"] == "LineString"
                (lon0, _, _), (lon1, _, _) = segment["coordinates"]
                assert lon0 > 27.6 >= lon1  # from outside the zone to inside it (westbound)
                assert "Estonian airspace near Vaindloo" in a["title"]
            # the same points again raise nothing new
            await _post(us, mig31_tracks(), party="RU")
            assert len(await _alerts(us)) == 3
            await net.settle()
            for party, expected in (("RU", 3), ("AE", 3), ("UA", 0)):
                seen = await _alerts(clients[party])
                assert len(seen) == expected, party
                assert all(a["data"]["reported_by"] == "US" for a in seen)
        finally:
            for cl in clients.values():
                await cl.aclose()

    run(scenario())


def test_drones_crossing_into_poland_alert_once_each(tmp_path: Path) -> None:
    net = decon_net(tmp_path, ["US", "RU", "AE"])
    points = drone_tracks()

    async def scenario() -> None:
        async with net["US"].client() as us, net["RU"].client() as ru:
            found: list[dict[str, Any]] = []
            for i in range(0, len(points), 400):
                found += (await _post(us, points[i : i + 400], party="RU"))["intrusions"]
            assert sorted(i["track_id"] for i in found) == [f"UAV-{k:02d}" for k in range(1, 20)]
            # first seen inside Belarus or Ukraine: never seen entering them
            assert {i["target"] for i in found} == {"PL"}
            assert {i["target_kind"] for i in found} == {"boundary"}
            assert len(await _alerts(us)) == 19
            await net.settle()
            assert len(await _alerts(ru)) == 19
            status = (await us.get("/api/v1/tracks/status")).json()
            assert status["points"] == len(points)
            assert status["cot"] is None

    run(scenario())


def test_intrusion_into_another_party_active_volume_only(tmp_path: Path) -> None:
    net = decon_net(tmp_path, ["US", "RU"], with_boundaries=False)
    inside = {"lat": 44.5, "lon": 32.0, "alt_m": 3000.0}

    async def scenario() -> None:
        async with net["US"].client() as us, net["RU"].client() as ru:
            body = feature("RU regime", "2026-02-05T10:00:00Z", "2026-02-05T14:00:00Z")
            nid = (await ru.post("/api/v1/notifications", json=body)).json()["id"]
            await net.settle()
            proposed = feature("RU plan", "2026-02-05T10:00:00Z", "2026-02-05T14:00:00Z", lon=36.0)
            proposed["properties"]["status"] = "proposed"
            await ru.post("/api/v1/notifications", json=proposed)
            await net.settle()
            pts = [
                {
                    "track_id": "US-1",
                    "time": "2026-02-05T11:00:00Z",
                    "lat": 44.0,
                    "lon": 31.0,
                    "alt_m": 3000.0,
                },
                {"track_id": "US-1", "time": "2026-02-05T11:05:00Z", **inside},
                {
                    "track_id": "US-2",
                    "time": "2026-02-05T11:05:00Z",
                    "lat": 44.5,
                    "lon": 36.0,
                    "alt_m": 3000.0,
                },
                {"track_id": "US-3", "time": "2026-02-05T15:05:00Z", **inside},  # after its window
                {"track_id": "US-4", "time": "2026-02-05T11:05:00Z", **{**inside, "alt_m": 9000.0}},
            ]
            [hit] = (await _post(us, pts))["intrusions"]
            assert (hit["track_id"], hit["target"], hit["target_kind"]) == ("US-1", nid, "volume")
            assert hit["target_party"] == "RU"
            assert hit["segment"]["coordinates"][0][:2] == [31.0, 44.0]
            # a party's own track inside its own volume is no intrusion
            own = [{"track_id": "RU-1", "time": "2026-02-05T11:05:00Z", **inside}]
            assert (await _post(ru, own))["intrusions"] == []

    run(scenario())


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {
                "points": [
                    {"track_id": "a", "time": 0, "lat": 1, "lon": 1, "alt_m": 1},
                    {"track_id": "a", "time": 1, "lat": 99, "lon": 1, "alt_m": 1},
                ]
            },
            "points[1].lat",
        ),
        ({"points": [{"track_id": "a", "lat": 1, "lon": 1, "alt_m": 1}]}, "points[0].time"),
        ({"pts": []}, "points"),
        ({"points": [], "party": 7}, "party"),
    ],
)
def test_track_errors_name_the_field(tmp_path: Path, body: dict[str, Any], detail: str) -> None:
    net = decon_net(tmp_path, ["US", "RU"], with_boundaries=False)

    async def scenario() -> None:
        async with net["US"].client() as us:
            answer = await us.post("/api/v1/tracks", json=body)
            assert answer.status_code == 422, answer.text
            assert answer.json()["detail"].startswith(detail)
            bad = await us.post(
                "/api/v1/tracks", content=b"{not json", headers={"content-type": "application/json"}
            )
            assert bad.status_code == 422

    run(scenario())


def test_exports_parse_back_in_every_format(tmp_path: Path) -> None:
    net = decon_net(tmp_path, ["US", "RU", "AE"])

    async def scenario() -> None:
        async with net["US"].client() as us, net["RU"].client() as ru:
            await _declare_estonia(net, us)
            await us.post(
                "/api/v1/notifications",
                json=feature("US orbit", "2026-02-06T10:00:00Z", "2026-02-06T12:00:00Z"),
            )
            await net.settle()
            net.advance(10)
            await ru.post(
                "/api/v1/notifications",
                json=feature("RU regime", "2026-02-06T11:00:00Z", "2026-02-06T13:00:00Z", lon=32.3),
            )
            await net.settle()
            await _post(us, mig31_tracks(), party="RU")
            counts = {"volumes": 2, "sites": 1, "conflicts": 1, "alerts": 4, "tracks": 3}
            for what, n in counts.items():
                geo = await us.get(f"/api/v1/export/{what}.geojson")
                assert geo.status_code == 200, geo.text
                doc = json.loads(geo.content)
                assert doc["type"] == "FeatureCollection"
                assert len(doc["features"]) == n, what
                kml = await us.get(f"/api/v1/export/{what}.kml")
                root = ET.fromstring(kml.content)
                marks = root.findall(f"{{{KML_NS}}}Document/{{{KML_NS}}}Placemark")
                assert len(marks) == n, what
                cot = await us.get(f"/api/v1/export/{what}.cot")
                events = [
                    parse_event(line, own_party="US") for line in cot.content.splitlines() if line
                ]
                assert len(events) == (333 if what == "tracks" else n), what
            tracks = json.loads((await us.get("/api/v1/export/tracks.geojson")).content)
            back = parse_geojson(tracks)
            assert len(back) == 333
            assert sorted(set(back.track)) == ["MIG31-1", "MIG31-2", "MIG31-3"]
            assert (await us.get("/api/v1/export/tracks.shp")).status_code == 422

    run(scenario())
