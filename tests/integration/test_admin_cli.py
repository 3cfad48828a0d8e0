"""``molink operator|terminal|audit`` on a node's folder, and the 0002 -> 0003 migration."""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from molink.api.app import create_app
from molink.cli import admin_cmds
from molink.config import NodeConfig
from molink.errors import InvalidInput, NotAuthenticated, NotFound, StateConflict
from molink.services.access import AccessOptions
from molink.services.accounts import cheap_hasher
from molink.services.provision import create_node
from molink.services.runtime import NodeRuntime
from molink.storage.db import Database
from molink.storage.migrate import migrate
from molink.storage.operators import OperatorRepo

# Exactly the lines molink/cli/main.py carries (see docs/roles.md "Command line").
app = typer.Typer()
app.add_typer(admin_cmds.operator_app, name="operator")
app.add_typer(admin_cmds.terminal_app, name="terminal")
app.add_typer(admin_cmds.audit_app, name="audit")
PASSWORD = "a long enough password"


@pytest.fixture
def node(tmp_path: Path) -> Path:
    home = tmp_path / "US"
    create_node(home, party="US", port=18999, now=datetime.now(UTC), scrypt_n=2**14)
    return home


def cli(*args: str, input: str | None = None) -> Any:
    result = CliRunner().invoke(app, list(args), input=input, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def _db(home: Path) -> Database:
    config = NodeConfig.load(home / "node.toml")
    return Database(config.database_url, base=config.home)


def _authenticates(home: Path, token: str) -> str:
    db = _db(home)
    try:
        with db.read() as conn:
            now = int(datetime.now(UTC).timestamp() * 1_000_000)
            return OperatorRepo.authenticate(conn, token, now).operator_id
    except NotAuthenticated as exc:
        return exc.message
    finally:
        db.dispose()


def test_operators_terminals_tokens_and_audit(node: Path) -> None:
    d = str(node)
    out = cli("operator", "add", "duty-2", "--role", "duty_officer", "--password-stdin", "-d", d,
              input=PASSWORD + "\n")  # fmt: skip
    assert "otpauth://totp/" in out
    listed = json.loads(cli("operator", "list", "--json", "-d", d))
    assert {o["id"]: o["role"] for o in listed}["duty-2"] == "duty_officer"
    assert next(o for o in listed if o["id"] == "duty-2")["password_set"] is True
    with pytest.raises(InvalidInput):
        cli("operator", "add", "duty-3", "--role", "general", "--no-password", "-d", d)

    out = cli("terminal", "enrol", "--label", "ops laptop", "--unit", "HQ", "-d", d)
    terminal = re.search(r"terminal (trm-[0-9a-f]{20}) is pending", out)
    assert terminal is not None, out
    tid = terminal.group(1)
    assert (node / "terminal" / "terminal.key").stat().st_mode & 0o077 == 0
    pending = json.loads(cli("terminal", "list", "--status", "pending", "--json", "-d", d))
    assert [t["id"] for t in pending] == [tid]
    cli("terminal", "quota", "HQ", "5", "-d", d)
    cli("terminal", "approve", tid, "-d", d)
    with pytest.raises(StateConflict):
        cli("terminal", "approve", tid, "-d", d)
    with pytest.raises(NotFound):
        cli("terminal", "approve", "trm-nope", "-d", d)

    out = cli("operator", "token", "duty-2", "--terminal", tid, "--scope", "message.read",
              "-d", d)  # fmt: skip
    token = out.strip().splitlines()[-1]
    assert _authenticates(node, token) == "duty-2"
    cli("operator", "disable", "duty-2", "-d", d)
    assert "is disabled" in _authenticates(node, token)
    cli("operator", "enable", "duty-2", "-d", d)
    assert _authenticates(node, token) == "duty-2"

    duty = (node / "tokens" / "duty.token").read_text().strip()
    assert _authenticates(node, duty) == "duty-us"
    out = cli("terminal", "revoke", "cli", "--reason", "rotate", "-d", d)
    assert "3 token(s) revoked" in out  # duty, supervisor and admin
    assert "terminal 'cli' is revoked" in _authenticates(node, duty)

    trail = json.loads(cli("audit", "--json", "-d", d))
    me = f"local:{getpass.getuser()}"
    assert {r["operator"] for r in trail} == {me}
    assert all(r["terminal"] == "local-cli" for r in trail)
    summary = [(r["action"], r["target"], r["outcome"]) for r in trail]
    assert summary == [
        ("operator.manage", "duty-2", "ok"),
        ("operator.manage", "duty-3", "failed"),
        ("terminal.enrol", None, "ok"),
        ("terminal.manage", "HQ", "ok"),
        ("terminal.manage", tid, "ok"),
        ("terminal.manage", tid, "failed"),
        ("terminal.manage", "trm-nope", "failed"),
        ("token.manage", "duty-2", "ok"),
        ("operator.manage", "duty-2", "ok"),
        ("operator.manage", "duty-2", "ok"),
        ("terminal.manage", "cli", "ok"),
    ]
    failed = json.loads(cli("audit", "--json", "--outcome", "failed", "--action", "terminal.*",
                            "-d", d))  # fmt: skip
    assert [r["target"] for r in failed] == [tid, "trm-nope"]
    assert "cannot become approved" in failed[0]["detail"]
    table = cli("audit", "-d", d)
    assert len(re.findall(r"(?m)^│ \d", table)) == len(trail)


class _SyncAsgi(httpx.BaseTransport):
    """A synchronous transport into an ASGI app (one event loop per request)."""

    def __init__(self, api: Any) -> None:
        self._inner = httpx.ASGITransport(app=api)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()

        async def go() -> httpx.Response:
            answer = await self._inner.handle_async_request(request)
            body = await answer.aread()
            return httpx.Response(answer.status_code, headers=answer.headers, content=body)

        return asyncio.run(go())


@pytest.fixture
def served(node: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    """The node's app in-process; the CLI's HTTPS client is pointed at it."""
    config = NodeConfig.load(node / "node.toml")
    runtime = NodeRuntime.from_config(config)
    api = create_app(runtime, run_workers=False, access=AccessOptions(hasher=cheap_hasher()))
    real = httpx.Client
    client = real(transport=_SyncAsgi(api), base_url="https://node")
    monkeypatch.setattr(admin_cmds.httpx, "Client", lambda **_: real(transport=_SyncAsgi(api),
                        base_url="https://node"))  # fmt: skip
    yield client
    client.close()
    runtime.ctx.db.dispose()


def test_cli_terminal_logs_in(node: Path, served: httpx.Client) -> None:
    d = str(node)
    out = cli("operator", "add", "sup-2", "--role", "supervisor", "--password-stdin", "-d", d,
              input=PASSWORD + "\n")  # fmt: skip
    secret = re.search(r"secret=([A-Z2-7]+)", out)
    assert secret is not None
    out = cli("terminal", "enrol", "--label", "ops laptop", "--unit", "HQ", "-d", d)
    tid = re.findall(r"trm-[0-9a-f]{20}", out)[0]
    cli("terminal", "approve", tid, "-d", d)
    code = pyotp.TOTP(secret.group(1)).now()
    out = cli("terminal", "login", "--operator", "sup-2", "-d", d, input=f"{PASSWORD}\n{code}\n")
    assert "logged in as sup-2 (supervisor)" in out
    session = (node / "tokens" / "session.token").read_text().strip()
    me = served.get("/api/v1/session", headers={"Authorization": f"Bearer {session}"}).json()
    assert (me["operator"], me["terminal"], me["kind"]) == ("sup-2", tid, "session")
    with pytest.raises(NotAuthenticated, match="401"):
        cli("terminal", "login", "--operator", "sup-2", "-d", d, input=f"wrong password!\n{code}\n")


def test_migration_keeps_earlier_tokens_working(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(db, "0002")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO operators (id, pseudonym, role, display_name, disabled, "
                "failed_logins, created) VALUES ('duty-us', 'duty-us', 'duty_officer', "
                "'US duty officer', 0, 0, 5)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO tokens (token_hash, operator_id, terminal, scopes, created, revoked) "
                "VALUES (:h, 'duty-us', 'cli', '[\"*\"]', 5, 0)"
            ),
            {"h": hashlib.sha256(b"mlk_old").hexdigest()},
        )
    migrate(db)
    with db.read() as conn:
        who = OperatorRepo.authenticate(conn, "mlk_old", 10)
        row = conn.execute(text("SELECT kind, status, unit FROM terminals WHERE id='cli'")).one()
    assert (who.operator_id, who.terminal, who.role) == ("duty-us", "cli", "duty_officer")
    assert tuple(row) == ("provisioned", "approved", "node")
    db.dispose()
