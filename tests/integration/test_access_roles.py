"""Every role × every operator endpoint over HTTP: allowed, or 403 naming the permission.

The permission table itself (every role × every action, incl. actions with no endpoint
yet) is pinned in ``tests/unit/test_authz.py``; this test checks that each endpoint
enforces it.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

import molink.api
from molink.core import authz
from molink.core.authz import ROLES
from tests.support import roles_doc
from tests.support.access import bearer, cheap_access, role_token
from tests.support.memnet import MemNode, build_memnet, run

STREAMING = {"GET /api/v1/events"}
# What each endpoint must require, written out by hand (a change must change this too).
EXPECTED: dict[str, tuple[str, ...]] = {
    "GET /api/v1/alerts": ("alert.read",),
    "GET /api/v1/audit": ("audit.read",),
    "GET /api/v1/catalogue": ("channel.read",),
    "GET /api/v1/channels": ("channel.read",),
    "GET /api/v1/channels/{channel_id}": ("channel.read",),
    "GET /api/v1/channels/{channel_id}/catalogue": ("channel.read",),
    "POST /api/v1/channels/{channel_id}/catalogue/agree": ("catalogue.agree",),
    "POST /api/v1/channels/{channel_id}/events": ("channel.change",),
    "GET /api/v1/conflicts": ("notification.read",),
    "POST /api/v1/courier/export": ("courier.export",),
    "POST /api/v1/courier/import": ("courier.import",),
    "GET /api/v1/events": ("events.read",),
    "POST /api/v1/evidence/export": ("evidence.export",),
    "GET /api/v1/export/{name}": ("notification.read",),
    "GET /api/v1/incidents": ("incident.read",),
    "POST /api/v1/incidents": ("incident.file",),
    "POST /api/v1/incidents/attachments": ("incident.file",),
    "GET /api/v1/incidents/attachments/{sha256}": ("incident.read",),
    "GET /api/v1/incidents/{incident_id}": ("incident.read",),
    "POST /api/v1/incidents/{incident_id}/events": ("incident.file",),
    "GET /api/v1/incidents/{incident_id}/timeline": ("incident.read",),
    "GET /api/v1/ledger": ("incident.read",),
    "POST /api/v1/ledger": ("ledger.sign", "ledger.witness"),
    "GET /api/v1/ledger/{agreement_id}": ("incident.read",),
    "POST /api/v1/ledger/{agreement_id}/agree": ("ledger.sign", "ledger.witness"),
    "GET /api/v1/ledger/{agreement_id}/export": ("incident.read",),
    "POST /api/v1/ledger/{agreement_id}/handover": ("ledger.sign",),
    "POST /api/v1/ledger/{agreement_id}/lists": ("ledger.sign",),
    "POST /api/v1/ledger/{agreement_id}/sign": ("ledger.sign", "ledger.witness"),
    "GET /api/v1/log": ("log.read",),
    "GET /api/v1/messages": ("message.read",),
    "POST /api/v1/messages": ("message.send",),
    "GET /api/v1/messages/{message_id}": ("message.read",),
    "POST /api/v1/messages/{message_id}/ack": ("message.ack",),
    "POST /api/v1/messages/{message_id}/defer": ("message.ack",),
    "GET /api/v1/messages/{message_id}/jws": ("message.read",),
    "GET /api/v1/messages/{message_id}/receipt": ("message.read",),
    "GET /api/v1/messages/{message_id}/translations": ("message.read",),
    "POST /api/v1/messages/{message_id}/translations": ("translation.add",),
    "GET /api/v1/notifications": ("notification.read",),
    "POST /api/v1/notifications": ("notification.file",),
    "GET /api/v1/notifications/schema": ("notification.read",),
    "GET /api/v1/notifications/templates": ("notification.read",),
    "GET /api/v1/notifications/{notification_id}": ("notification.read",),
    "PUT /api/v1/notifications/{notification_id}": ("notification.file",),
    "POST /api/v1/notifications/{notification_id}/cancel": ("notification.file",),
    "POST /api/v1/notifications/{notification_id}/resolve": ("notification.file",),
    "GET /api/v1/notifications/{notification_id}/text": ("notification.read",),
    "GET /api/v1/operators": ("operator.manage",),
    "POST /api/v1/operators": ("operator.manage",),
    "POST /api/v1/operators/{operator_id}/disable": ("operator.manage",),
    "POST /api/v1/operators/{operator_id}/enable": ("operator.manage",),
    "POST /api/v1/operators/{operator_id}/reset": ("operator.manage",),
    "POST /api/v1/operators/{operator_id}/unlock": ("operator.manage",),
    "GET /api/v1/quotas": ("terminal.manage",),
    "PUT /api/v1/quotas/{unit}": ("terminal.manage",),
    "DELETE /api/v1/session": ("session.manage",),
    "GET /api/v1/session": ("session.manage",),
    "GET /api/v1/sites": ("notification.read",),
    "POST /api/v1/sites": ("notification.file",),
    "GET /api/v1/sites/{site_id}": ("notification.read",),
    "POST /api/v1/sites/{site_id}/confirm": ("notification.file",),
    "GET /api/v1/status": ("status.read",),
    "GET /api/v1/terminals": ("terminal.manage",),
    "GET /api/v1/terminals/{terminal_id}": ("terminal.manage",),
    "POST /api/v1/terminals/{terminal_id}/approve": ("terminal.manage",),
    "PUT /api/v1/terminals/{terminal_id}/geofence": ("terminal.manage",),
    "POST /api/v1/terminals/{terminal_id}/reject": ("terminal.manage",),
    "POST /api/v1/terminals/{terminal_id}/revoke": ("terminal.manage",),
    "GET /api/v1/tokens": ("token.manage",),
    "POST /api/v1/tokens": ("token.manage",),
    "DELETE /api/v1/tokens/{token_id}": ("token.manage",),
    "GET /api/v1/tracks": ("notification.read",),
    "POST /api/v1/tracks": ("track.submit",),
    "GET /api/v1/tracks/status": ("notification.read",),
    "GET /log/checkpoint": ("log.read",),
    "GET /log/tile/{path:path}": ("log.read",),
}


def _cases() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(key, method, path, expected actions) for every endpoint that needs a permission."""
    cases = []
    for key, route in roles_doc.operator_routes():
        actions = tuple(
            a.strip("` ") for cell in roles_doc.required_actions(route) for a in cell.split(" or ")
        )
        if not actions and key in roles_doc.IN_HANDLER:
            actions = (roles_doc.IN_HANDLER[key],)
        if not actions:
            continue
        actions = EXPECTED.get(key, actions)
        method, path = key.split(" ", 1)
        concrete = re.sub(r"\{[^}:]+:path\}", "0/x", path)
        concrete = re.sub(r"\{[^}]+\}", "x", concrete)
        cases.append((key, method, concrete, actions))
    return cases


CASES = _cases()


def _mount_everything(node: MemNode) -> None:
    """Routers that exist but are not in create_app yet are mounted for the test."""
    mounted = {(r.path, m) for r in node.app.routes for m in getattr(r, "methods", ())}
    for info in pkgutil.iter_modules(molink.api.__path__):
        if not info.name.startswith("routes_"):
            continue
        router = importlib.import_module(f"molink.api.{info.name}").router
        wanted = {(r.path, m) for r in router.routes for m in getattr(r, "methods", ())}
        if wanted - mounted:
            node.app.include_router(router)
            mounted |= wanted


async def _stream_status(app: Any, path: str, token: str) -> tuple[int, bytes]:
    """Status (and body, if not streaming) of a request, straight through ASGI."""
    sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    gone = asyncio.Event()
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"node"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("node", 80),
    }
    task = asyncio.create_task(app(scope, receive, sent.put))
    start = await asyncio.wait_for(sent.get(), 10)
    body = b""
    if start["status"] != 200:
        while True:
            message = await asyncio.wait_for(sent.get(), 10)
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
    gone.set()
    await asyncio.wait_for(task, 10)
    return int(start["status"]), body


@pytest.mark.parametrize("role", ROLES)
def test_role_against_every_endpoint(tmp_path: Path, role: str) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    node = net["US"]
    cheap_access(node)
    _mount_everything(node)
    mismatches: list[str] = []

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=node.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as c:
            for n, (key, method, path, actions) in enumerate(CASES):
                token = role_token(node, role, operator_id=f"{role}-{n}")
                if key in STREAMING:
                    status, raw = await _stream_status(node.app, path, token)
                    body = {} if status == 200 else json.loads(raw)
                else:
                    content = b"{}" if method in ("POST", "PUT") else None
                    r = await c.request(
                        method,
                        path,
                        content=content,
                        headers=bearer(token, **{"content-type": "application/json"}),
                    )
                    status = r.status_code
                    body = r.json() if status == 403 else {}
                allowed = any(authz.check(role, ["*"], a).allowed for a in actions)
                if allowed and status in (401, 403):
                    mismatches.append(f"{key}: {role} should be allowed, got {status}")
                elif not allowed:
                    wanted = actions[0] if len(actions) == 1 else list(actions)
                    if status != 403:
                        mismatches.append(f"{key}: {role} should be refused, got {status}")
                    elif body.get("permission") != wanted or actions[0] not in body["detail"]:
                        mismatches.append(f"{key}: unclear refusal {body}")
                    elif not body["type"].endswith("/forbidden") or body.get("role") != role:
                        mismatches.append(f"{key}: not a forbidden problem: {body}")

    run(scenario())
    assert mismatches == []


def test_every_endpoint_is_pinned() -> None:
    keys = {key for key, *_ in CASES}
    guarded = {
        key
        for key, route in roles_doc.operator_routes()
        if roles_doc.required_actions(route) or key in roles_doc.IN_HANDLER
    }
    assert keys == guarded
    new = {key: actions for key, _, _, actions in CASES if key not in EXPECTED}
    assert new == {}, "pin the new endpoints in EXPECTED above:\n" + "\n".join(
        f'    "{key}": {actions!r},' for key, actions in sorted(new.items())
    )
    assert sorted(set(EXPECTED) - guarded) == [], "these pinned endpoints are gone"
