"""Helpers for access-control tests: role tokens, terminal keys, enrolment and login."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
import pyotp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from molink.core.b64 import b64url_encode
from molink.core.terminal import enrol_text, login_text, terminal_id
from molink.services.access import AccessOptions, AccessService
from molink.services.accounts import AccountService, NewOperator, cheap_hasher
from molink.services.admin import add_operator, issue_token
from tests.support.memnet import MemNode

PASSWORD = "correct horse battery"


def cheap_access(node: MemNode, **options: Any) -> AccessService:
    """Give the node's app an AccessService with test-cheap argon2 (and other options)."""
    access = AccessService(node.runtime.ctx, AccessOptions(hasher=cheap_hasher(), **options))
    node.app.state.access = access
    return access


def role_token(node: MemNode, role: str, *, operator_id: str | None = None) -> str:
    """A provisioned token (terminal ``cli``) for a new operator with ``role``."""
    ctx = node.runtime.ctx
    operator_id = operator_id or f"{role}-{node.party}"
    add_operator(ctx.db, operator_id=operator_id, role=role, now_us=ctx.now_us())
    return issue_token(ctx.db, operator_id=operator_id, terminal="cli", now_us=ctx.now_us())


def account(node: MemNode, operator_id: str, role: str, password: str = PASSWORD) -> NewOperator:
    accounts = AccountService(node.runtime.ctx, node.app.state.access.options.hasher)
    return accounts.add(operator_id=operator_id, role=role, password=password)


def totp(secret: str, node: MemNode, steps_ahead: int = 0) -> str:
    now = node.runtime.ctx.clock.now().timestamp()
    return pyotp.TOTP(secret).at(int(now) + 30 * steps_ahead)


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


@dataclass
class TerminalKey:
    private: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def raw(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def public(self) -> str:
        return b64url_encode(self.raw)

    @property
    def id(self) -> str:
        return terminal_id(self.raw)

    def sign(self, data: bytes) -> str:
        return b64url_encode(self.private.sign(data))

    def enrolment(
        self, party: str, *, unit: str = "HQ", label: str = "Watch desk", kind: str = "console"
    ) -> dict[str, str]:
        return {
            "public_key": self.public,
            "kind": kind,
            "unit": unit,
            "label": label,
            "proof": self.sign(enrol_text(party, self.raw, kind, unit, label)),
        }


async def enrol_and_approve(
    client: httpx.AsyncClient, key: TerminalKey, party: str, admin: str, **kw: str
) -> None:
    r = await client.post("/api/v1/terminals", json=key.enrolment(party, **kw))
    assert r.status_code == 202, r.text
    r = await client.post(f"/api/v1/terminals/{key.id}/approve", headers=bearer(admin))
    assert r.status_code == 200, r.text


async def login(
    client: httpx.AsyncClient,
    key: TerminalKey,
    operator: str,
    *,
    password: str,
    code: str,
    headers: dict[str, str] | None = None,
    signer: TerminalKey | None = None,
) -> httpx.Response:
    """Challenge, sign, log in; returns the login response."""
    got = await client.post(
        "/api/v1/session/challenge", json={"terminal": key.id}, headers=headers or {}
    )
    if got.status_code != 201:
        return got
    challenge = got.json()["challenge"]
    text = login_text(got.json()["party"], key.id, operator, challenge)
    body = {
        "operator": operator,
        "password": password,
        "totp": code,
        "terminal": key.id,
        "challenge": challenge,
        "signature": (signer or key).sign(text),
    }
    return await client.post("/api/v1/session", json=body, headers=headers or {})


WAIT_S = 10.0  # an upper bound for a stream to react, never a sleep


class Stream:
    """An SSE request driven straight through the ASGI app (httpx would buffer it)."""

    def __init__(self, app: Any, token: str, query: str = "") -> None:
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._gone = asyncio.Event()
        self._first = True
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/api/v1/events",
            "raw_path": b"/api/v1/events",
            "root_path": "",
            "query_string": f"token={token}{query}".encode(),
            "headers": [(b"host", b"node")],
            "client": ("127.0.0.1", 40000),
            "server": ("node", 80),
        }
        self.task = asyncio.create_task(app(scope, self._receive, self.messages.put))

    async def _receive(self) -> dict[str, Any]:
        if self._first:
            self._first = False
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.messages.get(), WAIT_S)

    async def body_until_end(self) -> bytes:
        chunks = []
        while True:
            message = await self.next()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def close(self) -> None:
        self._gone.set()
        await asyncio.wait_for(self.task, WAIT_S)
