"""Secrets never appear in logs: run real nodes, log in and send, then grep everything.

Two real nodes run; on US an administrator creates an operator, a console terminal
enrols and is approved, the operator fails one login and then logs in (password,
TOTP, terminal signature), sends messages with the session token, RU acknowledges,
and the operator logs out. Then every node's process output (``PARTY.log``) and the
database's logs - the Merkle log entries, checkpoints, cosignatures, the audit
trail, alerts, deliveries' errors, channel events, and the token table (hashes
only) - are searched for every secret in every usual encoding:

* the key-file passphrase; the TLS private key;
* both parties' Ed25519 and X25519 private seeds (hex, base64, base64url);
* every bearer token and session token (whole, and their first 16 secret chars);
* the operator's password and TOTP secret, the terminal's private seed.

The operators table is left out on purpose: it holds the TOTP secret, which the
node needs to check codes (and a password hash).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyotp
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from molink.services.admin import add_operator, issue_token
from molink.storage.db import Database, micros
from molink.storage.files import load_keys
from molink.storage.operators import token_hash
from molink.storage.schema import (
    alerts,
    audit,
    channel_events,
    checkpoints,
    cosignatures,
    deliveries,
    log_entries,
    tokens,
)
from molink.transport.http import pinned_context
from tests.support.access import TerminalKey, bearer, enrol_and_approve, login
from tests.support.procnet import ProcNet, ProcNode, wait_until

pytestmark = pytest.mark.integration

PASSWORD = "watch-officer correct horse 42"
_LOGGED_TABLES = (log_entries, checkpoints, cosignatures, audit, alerts, deliveries, tokens)


def _encodings(raw: bytes) -> set[str]:
    return {
        raw.hex(),
        raw.hex().upper(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


def _seed(key: object) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


def _provision_admin(node: ProcNode) -> str:
    config = node.config
    db = Database(config.database_url, base=config.home)
    try:
        now_us = micros(datetime.now(UTC))
        add_operator(db, operator_id="admin-US", role="administrator", now_us=now_us)
        return issue_token(db, operator_id="admin-US", terminal="cli", now_us=now_us)
    finally:
        db.dispose()


async def _operate(net: ProcNet, admin: str, secrets: set[str]) -> None:
    us, ru = net["US"], net["RU"]
    async with httpx.AsyncClient(
        base_url=us.url, verify=pinned_context(us.cert), timeout=30
    ) as client:
        made = await client.post(
            "/api/v1/operators",
            json={"id": "watch-1", "role": "duty_officer", "password": PASSWORD},
            headers=bearer(admin),
        )
        assert made.status_code == 201, made.text
        totp_secret = made.json()["totp_secret"]
        secrets.add(totp_secret)
        key = TerminalKey()
        secrets |= _encodings(_seed(key.private))
        await enrol_and_approve(client, key, "US", admin)
        code = pyotp.TOTP(totp_secret).now()
        wrong = await login(client, key, "watch-1", password=PASSWORD + "x", code=code)
        assert wrong.status_code == 401, wrong.text
        session = await login(client, key, "watch-1", password=PASSWORD, code=code)
        assert session.status_code == 201, session.text
        token = session.json()["token"]
        secrets.add(token)
        for n in range(5):
            body = {"to": ["RU"], "precedence": "FLASH", "subject": f"s{n}", "body": "b"}
            sent = await client.post("/api/v1/messages", json=body, headers=bearer(token))
            assert sent.status_code == 201, sent.text
        bad = await client.get("/api/v1/messages", headers=bearer(token[:-2] + "zz"))
        assert bad.status_code == 401
        out = await client.delete("/api/v1/session", headers=bearer(token))
        assert out.status_code == 200, out.text
    with ru.client() as client:
        inbox = wait_until(
            lambda: (
                len(client.get("/api/v1/messages?box=inbox").json()["items"]) == 5
                and client.get("/api/v1/messages?box=inbox").json()["items"]
            ),
            timeout=30,
            what="5 messages at RU",
        )
        for item in inbox:
            assert client.post(f"/api/v1/messages/{item['id']}/ack").status_code == 200


def _node_secrets(net: ProcNet) -> set[str]:
    found: set[str] = set()
    for node in net.nodes.values():
        config = node.config
        passphrase = config.passphrase()
        found.add(passphrase)
        keys = load_keys(config.path(config.keys.file), passphrase)
        found |= _encodings(_seed(keys.sig_private)) | _encodings(_seed(keys.enc_private))
        found.add(node.token)
        pem = config.path(config.api.tls_key).read_text(encoding="utf-8").splitlines()
        found |= {line for line in pem if line and not line.startswith("-----")}
    return found


def _haystacks(net: ProcNet) -> Iterable[tuple[str, str]]:
    for party, node in net.nodes.items():
        yield f"{party}.log", node.log_path.read_text(encoding="utf-8", errors="replace")
        config = node.config
        db = Database(config.database_url, base=config.home)
        try:
            with db.read() as conn:
                for table in (*_LOGGED_TABLES, channel_events):
                    rows = conn.execute(select(table)).all()
                    text = "\n".join(
                        repr(tuple(bytes(v).decode("utf-8", "replace") if isinstance(v, bytes |
                                   memoryview) else v for v in row)) for row in rows
                    )  # fmt: skip
                    yield f"{party} db:{table.name} ({len(rows)} rows)", text
        finally:
            db.dispose()


def _needles(secrets: set[str]) -> set[str]:
    out = set()
    for secret in secrets:
        if len(secret) < 12:
            continue
        out.add(secret)
        if secret.startswith("mlk_"):
            out.add(secret[4:20])
    return out


def test_no_secret_reaches_process_output_or_the_logs(
    procnet: Callable[..., ProcNet], tmp_path: Path
) -> None:
    net = procnet(["US", "RU"])
    admin = _provision_admin(net["US"])
    net.start()
    secrets = {admin, PASSWORD}
    asyncio.run(_operate(net, admin, secrets))
    net.stop("US")
    net.stop("RU")
    secrets |= _node_secrets(net)
    needles = _needles(secrets)
    assert len(needles) >= 20
    searched, hashes_seen = 0, False
    for where, text in _haystacks(net):
        searched += len(text)
        leaked = [n[:6] + "…" for n in needles if n in text]
        assert not leaked, f"secrets found in {where}: {leaked}"
        hashes_seen |= token_hash(admin) in text
    assert searched > 10_000, "the logs were not searched (empty?)"
    print(f"\nsecrets: {len(needles)} needles, {searched} characters searched, none found")
    assert hashes_seen, "the token table was searched: it holds the token's hash, not the token"
