"""Cursor-on-Target over TCP into a node (hostile input refused and counted, never a crash),
and ``molink tracks import`` of CSV and GeoJSON files."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from molink.cli import tracks_cmds
from molink.core.cot import render_event
from molink.core.track_input import parse_points
from molink.services.cot_listener import CotListener
from molink.services.scenario_deconfliction import ESTONIA_ZONE, mig31_tracks
from tests.support.decon import decon_net
from tests.support.memnet import (
    MemNode,
    build_memnet,  # noqa: F401 - runs this module on both engines
    run,
)

BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
    b'<event uid="x" type="a-h-A" time="2025-09-19T07:00:00Z">'
    b'<point lat="59.8" lon="26.4" hae="1"/>'
    b"<detail><remarks>&b;</remarks></detail></event>"
)


def _cot_events() -> list[bytes]:
    cols = parse_points({"points": mig31_tracks()})
    return [
        render_event(uid=k, type="a-h-A-M-F", time=t, lat=la, lon=lo, hae=a, party="RU")
        for k, t, la, lo, a in zip(
            cols.track,
            cols.time.tolist(),
            cols.lat.tolist(),
            cols.lon.tolist(),
            cols.alt_m.tolist(),
            strict=True,
        )
    ]


def test_cot_over_tcp_raises_intrusions_and_survives_hostile_clients(tmp_path: Path) -> None:
    net = decon_net(tmp_path, ["US", "RU"])

    async def scenario() -> None:
        async with net["US"].client() as us:
            assert (await us.post("/api/v1/sites", json=ESTONIA_ZONE)).status_code == 201
        listener = CotListener(net["US"].runtime.tracks, own_party="US", port=0, flush_s=0.05)
        net["US"].runtime.cot = listener
        await listener.start()
        try:
            host, port = "127.0.0.1", listener.port
            # a hostile client: a bomb, garbage, then a stream that never ends an event
            _, w = await asyncio.open_connection(host, port)
            w.write(BOMB + b"\n<event><point/></event>\n" + b"<not-xml" * 5 + b"</event>")
            w.write(b"<event " + b"x" * 70_000)
            await w.drain()
            w.close()
            # a protobuf (TAK protocol version 1) client
            _, w = await asyncio.open_connection(host, port)
            w.write(b"\xbf\x01\xbf" + b"\x00" * 10)
            await w.drain()
            w.close()
            # a good client, in odd chunks
            _, w = await asyncio.open_connection(host, port)
            data = b"\n".join(_cot_events())
            for i in range(0, len(data), 1000):
                w.write(data[i : i + 1000])
                await w.drain()
            w.close()
            for _ in range(200):
                await asyncio.sleep(0.02)
                if listener.stats.accepted == 333 and listener.stats.open == 0:
                    break
            await listener.flush()
            stats = listener.stats
            assert stats.accepted == 333
            assert stats.refused == 5  # bomb, no point, garbage, unframed stream, protobuf
            assert stats.closed_unframed == 2
            async with net["US"].client() as us:
                status = (await us.get("/api/v1/tracks/status")).json()
                assert status["cot"]["accepted"] == 333
                alerts = (await us.get("/api/v1/alerts", params={"kind": "intrusion"})).json()
                assert sorted(a["data"]["track_id"] for a in alerts["items"]) == [
                    "MIG31-1",
                    "MIG31-2",
                    "MIG31-3",
                ]
                assert {a["data"]["party"] for a in alerts["items"]} == {"RU"}
        finally:
            await listener.stop()
            net["US"].runtime.cot = None

    run(scenario())


class _Client:
    """``NodeClient`` stand-in: the node's ASGI app, one event loop per call."""

    def __init__(self, node: MemNode) -> None:
        self._node = node
        self.posted: list[dict[str, Any]] = []

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        async def send() -> httpx.Response:
            async with self._node.client() as http:
                return await http.request(method, path, **kwargs)

        answer = asyncio.run(send())
        assert answer.status_code == 200, answer.text
        self.posted.append(kwargs["json"])
        return answer.json()

    def close(self) -> None:
        pass


@pytest.mark.parametrize("fmt", ["csv", "geojson"])
def test_tracks_import_from_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    net = decon_net(tmp_path, ["US", "RU"])
    node = net["US"]

    async def declare() -> None:
        async with node.client() as us:
            assert (await us.post("/api/v1/sites", json=ESTONIA_ZONE)).status_code == 201

    run(declare())
    points = mig31_tracks()
    path = tmp_path / f"migs.{fmt}"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=["track_id", "time", "lat", "lon", "alt_m"])
        writer.writeheader()
        writer.writerows(points)
        path.write_text(out.getvalue(), encoding="utf-8")
    else:
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"], p["alt_m"]]},
                "properties": {"track_id": p["track_id"], "time": p["time"]},
            }
            for p in points
        ]
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    client = _Client(node)
    monkeypatch.setattr(tracks_cmds, "NodeClient", lambda *_a, **_k: client)
    cli = typer.Typer()
    cli.add_typer(tracks_cmds.tracks_app, name="tracks")
    result = CliRunner().invoke(
        cli, ["tracks", "import", str(path), "--party", "RU", "--batch", "100"]
    )
    assert result.exit_code == 0, result.output
    assert "333 points" in result.output
    assert "3 intrusion(s)" in result.output
    assert len(client.posted) == 4
    assert all(body["party"] == "RU" for body in client.posted)
