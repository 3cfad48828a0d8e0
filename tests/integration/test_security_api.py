"""Attacks on the operator API: each refused with a clear RFC 9457 problem.

* CSRF: the API authenticates ONLY ``Authorization: Bearer``; a browser's ambient
  credentials (cookies) never authenticate, so a cross-site form cannot act.
* A revoked terminal's token and a role without the permission are refused, naming why.
* Oversized and malformed bodies are refused before anything is stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlalchemy import func, select

from molink.services.incidents import MAX_ATTACHMENT_BYTES
from molink.storage.schema import attachments, messages
from tests.support.access import role_token
from tests.support.memnet import MemNet, MemNode, build_memnet, run

MESSAGE = {"to": ["RU"], "precedence": "FLASH", "subject": "s", "body": "b", "lang": "en"}


def _bare(node: MemNode) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=node.app), base_url="http://node")


def _outbox_size(net: MemNet, party: str) -> int:
    """Stored messages (the log also holds audit entries of refusals: those are wanted)."""
    with net[party].runtime.ctx.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(messages)).scalar_one())


def test_a_cookie_alone_never_authenticates(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    node = net["US"]
    token = node.token

    async def scenario() -> None:
        async with _bare(node) as client:
            for name in ("session", "token", "molink_session", "Authorization", "access_token"):
                client.cookies.clear()
                client.cookies.set(name, token)
                cookie = f"{name}={token}"
                for method, path, body in (
                    ("GET", "/api/v1/messages", None),
                    ("POST", "/api/v1/messages", MESSAGE),
                ):
                    answer = await client.request(
                        method,
                        path,
                        json=body,
                        headers={"Cookie": cookie, "Origin": "https://evil"},
                    )
                    assert answer.status_code == 401, (name, path, answer.text)
                    assert answer.headers["content-type"].startswith("application/problem+json")
                    assert "Bearer" in answer.json()["detail"]
                    assert answer.headers["www-authenticate"] == "Bearer"
            client.cookies.clear()
            ok = await client.get("/api/v1/messages", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200

    before = _outbox_size(net, "US")
    run(scenario())
    assert _outbox_size(net, "US") == before, "a cookie-only request stored something"


def test_a_revoked_terminal_can_do_nothing(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    node = net["US"]
    admin = role_token(node, "administrator")

    async def scenario() -> None:
        async with _bare(node) as client:
            duty = {"Authorization": f"Bearer {node.token}"}
            assert (await client.get("/api/v1/messages", headers=duty)).status_code == 200
            revoke = await client.post(
                "/api/v1/terminals/console-US/revoke",
                json={"reason": "terminal lost"},
                headers={"Authorization": f"Bearer {admin}"},
            )
            assert revoke.status_code == 200, revoke.text
            for method, path, body in (
                ("GET", "/api/v1/messages", None),
                ("POST", "/api/v1/messages", MESSAGE),
            ):
                answer = await client.request(method, path, json=body, headers=duty)
                assert answer.status_code == 401, answer.text
                assert "revoked" in answer.json()["detail"]

    run(scenario())


def test_a_role_without_the_permission_is_refused_naming_it(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    node = net["US"]
    translator = role_token(node, "translator")
    auditor = role_token(node, "auditor")

    async def scenario() -> None:
        async with _bare(node) as client:
            for token in (translator, auditor):
                answer = await client.post(
                    "/api/v1/messages", json=MESSAGE, headers={"Authorization": f"Bearer {token}"}
                )
                assert answer.status_code == 403, answer.text
                problem = answer.json()
                assert problem["permission"] == "message.send", problem
                assert "message.send" in problem["detail"]

    before = _outbox_size(net, "US")
    run(scenario())
    assert _outbox_size(net, "US") == before


def test_oversized_and_malformed_operator_bodies_store_nothing(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    node = net["US"]
    limit = node.runtime.max_body_bytes

    async def scenario() -> None:
        async with node.client() as client:
            big = {**MESSAGE, "body": "x" * (limit + 1)}
            answer = await client.post("/api/v1/messages", json=big)
            assert answer.status_code == 413, answer.text
            assert "nothing was stored" in answer.json()["detail"]

            # streamed without a Content-Length: counted while read
            async def chunks() -> object:
                for _ in range(limit // 1000 + 2):
                    yield b"x" * 1000

            streamed = await client.post("/api/v1/messages", content=chunks())  # type: ignore[arg-type]
            assert streamed.status_code == 413, streamed.text
            for body in (b"", b"{", b"[]", b'{"to": "RU"}', b"\xff\xfe", b'{"to": ["RU"], "x": 1}'):
                answer = await client.post(
                    "/api/v1/messages", content=body, headers={"Content-Type": "application/json"}
                )
                assert answer.status_code in (400, 422), (body, answer.status_code, answer.text)
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert answer.json()["detail"]

    before = _outbox_size(net, "US")
    run(scenario())
    assert _outbox_size(net, "US") == before


BAD_FEATURES: list[object] = [
    [],
    "Feature",
    {"type": "Feature"},
    {"type": "FeatureCollection", "features": []},
    {"type": "Feature", "geometry": None, "properties": {}},
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1e308, 0]}, "properties": {}},
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": ["a", "b"]}, "properties": {}},
    {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]},
        "properties": {"kind": "air-exercise", "start": "yesterday", "end": 5, "lower_m": "x"},
    },
    {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [34.58, 47.51, 0, 0, 0]},
        "properties": {"kind": "?", "radius_m": -1, "to": "RU"},
    },
    {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[0, 0]]},
        "properties": {"width_m": 1e12},
    },
]
BAD_TRACKS: list[object] = [
    {},
    {"points": "many"},
    {"points": [{"track_id": "t"}]},
    {"points": [{"track_id": "t", "time": "noon", "lat": 95, "lon": 0, "alt_m": 0}]},
    {
        "points": [
            {"track_id": "", "time": "2026-02-05T10:00:00Z", "lat": 0, "lon": 0, "alt_m": "high"}
        ]
    },
    {"points": [], "party": 7},
    [1, 2, 3],
]


def test_malformed_geojson_and_tracks_are_refused_and_store_nothing(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    node = net["US"]

    async def scenario() -> None:
        async with node.client() as client:
            for feature in BAD_FEATURES:
                answer = await client.post("/api/v1/notifications", json=feature)
                assert 400 <= answer.status_code < 500, (feature, answer.status_code, answer.text)
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert answer.json()["detail"], feature
            listed = await client.get("/api/v1/notifications")
            assert listed.status_code == 200
            assert listed.json()["items"] == []
            for tracks in (*BAD_TRACKS, b"{not json", b"\xff"):
                body = tracks if isinstance(tracks, bytes) else json.dumps(tracks).encode()
                answer = await client.post(
                    "/api/v1/tracks", content=body, headers={"Content-Type": "application/json"}
                )
                assert 400 <= answer.status_code < 500, (tracks, answer.status_code, answer.text)
                assert answer.json()["detail"], tracks

    before = _outbox_size(net, "US")
    run(scenario())
    assert _outbox_size(net, "US") == before


def test_oversized_attachment_is_413_and_stores_nothing(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    node = net["US"]
    limit = max(node.runtime.max_body_bytes, MAX_ATTACHMENT_BYTES)

    async def scenario() -> None:
        async with node.client() as client:
            answer = await client.post(
                "/api/v1/incidents/attachments",
                content=b"\0" * (limit + 1),
                headers={"X-Filename": "photo.jpg", "Content-Type": "image/jpeg"},
            )
            assert answer.status_code == 413, answer.text
            assert answer.json()["detail"]

    run(scenario())
    with node.runtime.ctx.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(attachments)).scalar_one() == 0
