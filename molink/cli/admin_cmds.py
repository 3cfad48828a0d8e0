"""``molink operator ...``, ``molink terminal ...`` and ``molink audit``: administration.

These commands work on the node's database directly (like ``molink peer add``), so they
need the node's folder and work whether or not the node runs. Every state-changing
command is recorded in the audit trail and the node's log as operator ``local:<user>``
from terminal ``local-cli``, refusals and failures included (``docs/roles.md``).
``terminal login`` is the exception: it talks to the running node's API.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.table import Table

from molink.config import NodeConfig
from molink.core.b64 import b64url_encode
from molink.core.dtg import parse_utc
from molink.core.terminal import enrol_text, login_text
from molink.errors import ConfigError, InvalidInput, MolinkError, NotAuthenticated
from molink.services.accounts import AccountService, NewOperator
from molink.services.audit import Actor, AuditService
from molink.services.clock import SystemClock, system_random
from molink.services.context import NodeContext
from molink.services.registry import TerminalService, terminal_view
from molink.storage.audit import AuditFilter
from molink.storage.db import Database, micros
from molink.storage.files import load_keys, write_private
from molink.transport.http import pinned_context

__all__ = ["audit_app", "operator_app", "terminal_app"]

operator_app = typer.Typer(
    help="Operators: add, list, disable, reset, tokens.", no_args_is_help=True
)
terminal_app = typer.Typer(
    help="Terminals: enrol, list, approve, reject, revoke, geofences, quotas, login.",
    no_args_is_help=True,
)
audit_app = typer.Typer(help="The audit trail.", invoke_without_command=True)
console = Console()

DirOpt = Annotated[Path, typer.Option("--dir", "-d", help="The node's folder.")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (kept in the registry).")]
T = TypeVar("T")


def _context(directory: Path) -> NodeContext:
    config = NodeConfig.load(directory / "node.toml")
    keys = load_keys(config.path(config.keys.file), config.passphrase())
    db = Database(config.database_url, base=config.home, pool_size=1)
    return NodeContext(
        keys=keys, db=db, clock=SystemClock(), random=system_random, log_origin=config.log_origin
    )


def _actor() -> Actor:
    return Actor(f"local:{getpass.getuser()}", None, "local-cli", "cli")


@contextmanager
def _node(directory: Path) -> Iterator[NodeContext]:
    ctx = _context(directory)
    try:
        yield ctx
    finally:
        ctx.db.dispose()


def _audited(ctx: NodeContext, action: str, target: str | None, work: Callable[[], T]) -> T:
    """Run ``work`` and record the attempt, whatever its outcome."""
    audit = AuditService(ctx)
    try:
        result = work()
    except MolinkError as exc:
        audit.record(_actor(), action=action, outcome="failed", target=target, detail=exc.message)
        raise
    audit.record(_actor(), action=action, outcome="ok", target=target)
    return result


def _accounts(ctx: NodeContext) -> AccountService:
    from argon2 import PasswordHasher

    return AccountService(ctx, PasswordHasher())


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password (12 characters or more)", hide_input=True,
                            confirmation_prompt=True))  # fmt: skip


def _show_enrolment(done: NewOperator) -> None:
    console.print(f"operator [bold]{done.operator_id}[/bold] ({done.role})")
    console.print("TOTP secret (enter it in an authenticator app; shown once):")
    console.print(f"  {done.totp_secret}")
    console.print(f"  {done.totp_uri}", soft_wrap=True)


@operator_app.command("add")
def operator_add(
    operator_id: Annotated[str, typer.Argument(help="The operator's id, e.g. duty-us-2.")],
    role: Annotated[str, typer.Option(help="duty_officer, supervisor, translator, ...")],
    directory: DirOpt = Path(),
    display_name: Annotated[str | None, typer.Option("--display-name")] = None,
    pseudonym: Annotated[str | None, typer.Option(help="Name shown to other parties.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="Token-only (automation) operator.")
    ] = False,
) -> None:
    """Add an operator with a password (argon2id) and a TOTP secret."""
    password = None if no_password else _read_password(password_stdin)
    with _node(directory) as ctx:
        done = _audited(
            ctx,
            "operator.manage",
            operator_id,
            lambda: _accounts(ctx).add(
                operator_id=operator_id,
                role=role,
                password=password,
                display_name=display_name,
                pseudonym=pseudonym,
            ),
        )
    _show_enrolment(done)


@operator_app.command("list")
def operator_list(
    directory: DirOpt = Path(), as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Operators with their role and state."""
    with _node(directory) as ctx:
        items = _accounts(ctx).listing()
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    table = Table("id", "role", "pseudonym", "state", "password", "TOTP", title="operators")
    for op in items:
        state = "disabled" if op["disabled"] else "active"
        if op["locked_until"]:
            state += f", locked until {op['locked_until']}"
        table.add_row(
            op["id"],
            op["role"],
            op["pseudonym"],
            state,
            "set" if op["password_set"] else "-",
            "set" if op["totp_set"] else "-",
        )
    console.print(table)


def _set_state(directory: Path, operator_id: str, what: str) -> None:
    with _node(directory) as ctx:
        accounts = _accounts(ctx)
        work: dict[str, Callable[[], Any]] = {
            "disable": lambda: accounts.set_disabled(operator_id, True),
            "enable": lambda: accounts.set_disabled(operator_id, False),
            "unlock": lambda: accounts.unlock(operator_id),
        }
        _audited(ctx, "operator.manage", operator_id, work[what])
    console.print(f"{what}d {operator_id}")


@operator_app.command("disable")
def operator_disable(operator_id: str, directory: DirOpt = Path()) -> None:
    """Disable an operator: every session and token of it stops working."""
    _set_state(directory, operator_id, "disable")


@operator_app.command("enable")
def operator_enable(operator_id: str, directory: DirOpt = Path()) -> None:
    _set_state(directory, operator_id, "enable")


@operator_app.command("unlock")
def operator_unlock(operator_id: str, directory: DirOpt = Path()) -> None:
    """Lift a lockout after failed logins."""
    _set_state(directory, operator_id, "unlock")


@operator_app.command("reset")
def operator_reset(
    operator_id: str,
    directory: DirOpt = Path(),
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """A new password and a new TOTP secret; the operator's sessions end."""
    password = _read_password(password_stdin)
    with _node(directory) as ctx:
        done = _audited(
            ctx, "operator.manage", operator_id, lambda: _accounts(ctx).reset(operator_id, password)
        )
    _show_enrolment(done)


@operator_app.command("token")
def operator_token(
    operator_id: str,
    terminal: Annotated[str, typer.Option(help="An approved terminal id.")],
    scope: Annotated[list[str], typer.Option("--scope", help="An action or family.* (repeat).")],
    directory: DirOpt = Path(),
    expires_in: Annotated[int | None, typer.Option("--expires-in", help="Seconds.")] = None,
    label: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Issue a scoped API token for automation (printed once)."""
    with _node(directory) as ctx:
        done = _audited(
            ctx,
            "token.manage",
            operator_id,
            lambda: _accounts(ctx).issue_token(
                operator_id=operator_id,
                terminal=terminal,
                scopes=scope,
                expires_in_s=expires_in,
                label=label,
            ),
        )
    console.print(
        f"token {done.id} for {done.operator} on {done.terminal}: {', '.join(done.scopes)}"
    )
    typer.echo(done.token)


@operator_app.command("revoke-token")
def operator_revoke_token(token_id: str, directory: DirOpt = Path()) -> None:
    """Revoke a token by its id (tok-...)."""
    with _node(directory) as ctx:
        _audited(ctx, "token.manage", token_id, lambda: _accounts(ctx).revoke_token(token_id))
    console.print(f"revoked {token_id}")


@terminal_app.command("list")
def terminal_list(
    directory: DirOpt = Path(),
    status: Annotated[str | None, typer.Option(help="pending, approved, rejected, revoked")] = None,
    unit: Annotated[str | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Terminals with their unit, state and fingerprint."""
    with _node(directory) as ctx:
        items = [terminal_view(t) for t in TerminalService(ctx).listing(status=status, unit=unit)]
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    table = Table("id", "kind", "unit", "label", "status", "fingerprint", "geofence")
    for t in items:
        table.add_row(
            t["id"],
            t["kind"],
            t["unit"],
            t["label"],
            t["status"],
            t["fingerprint"] or "-",
            "yes" if t["geofence"] else "-",
        )
    console.print(table)


def _decide(directory: Path, terminal_id: str, status: str, reason: str | None) -> None:
    with _node(directory) as ctx:
        done = _audited(
            ctx,
            "terminal.manage",
            terminal_id,
            lambda: TerminalService(ctx).decide(
                terminal_id, status, by=_actor().operator or "local", reason=reason
            ),
        )
    extra = f" ({done['revoked_tokens']} token(s) revoked)" if status == "revoked" else ""
    console.print(f"{terminal_id} is {status}{extra}")


@terminal_app.command("approve")
def terminal_approve(
    terminal_id: str, directory: DirOpt = Path(), reason: ReasonOpt = None
) -> None:
    """Approve a pending terminal (compare its fingerprint first)."""
    _decide(directory, terminal_id, "approved", reason)


@terminal_app.command("reject")
def terminal_reject(terminal_id: str, directory: DirOpt = Path(), reason: ReasonOpt = None) -> None:
    _decide(directory, terminal_id, "rejected", reason)


@terminal_app.command("revoke")
def terminal_revoke(terminal_id: str, directory: DirOpt = Path(), reason: ReasonOpt = None) -> None:
    """Revoke a terminal: its sessions and tokens end now (final)."""
    _decide(directory, terminal_id, "revoked", reason)


@terminal_app.command("geofence")
def terminal_geofence(
    terminal_id: str,
    geojson: Annotated[Path | None, typer.Argument(help="A GeoJSON Polygon/MultiPolygon.")] = None,
    directory: DirOpt = Path(),
    clear: Annotated[bool, typer.Option("--clear")] = False,
) -> None:
    """Set (or --clear) the area the terminal must report its location inside."""
    if clear == (geojson is not None):
        raise InvalidInput("give a GeoJSON file or --clear")
    area: Any = None
    if geojson is not None:
        try:
            area = json.loads(geojson.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InvalidInput(f"{geojson}: not JSON") from exc
        if isinstance(area, dict) and area.get("type") == "Feature":
            area = area.get("geometry")
    with _node(directory) as ctx:
        _audited(
            ctx,
            "terminal.manage",
            terminal_id,
            lambda: TerminalService(ctx).set_geofence(
                terminal_id, area, by=_actor().operator or ""
            ),
        )
    console.print(f"{terminal_id}: geofence {'cleared' if clear else 'set'}")


@terminal_app.command("quota")
def terminal_quota(
    unit: Annotated[str, typer.Argument(help="A unit, or * for the default.")],
    max_terminals: Annotated[int, typer.Argument(help="Approved terminals allowed.")],
    directory: DirOpt = Path(),
) -> None:
    """Set how many approved terminals a unit may hold."""
    with _node(directory) as ctx:
        _audited(
            ctx,
            "terminal.manage",
            unit,
            lambda: TerminalService(ctx).set_quota(unit, max_terminals, by=_actor().operator or ""),
        )
    console.print(f"quota of {unit}: {max_terminals}")


def _key_path(directory: Path, key: Path | None) -> Path:
    return key if key is not None else directory / "terminal" / "terminal.key"


def _load_terminal_key(path: Path) -> Ed25519PrivateKey:
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the terminal key {path}: {exc}") from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 key")
    return loaded


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@terminal_app.command("enrol")
def terminal_enrol(
    label: Annotated[str, typer.Option(help="The device, e.g. 'ops laptop 3'.")],
    unit: Annotated[str, typer.Option(help="The unit it belongs to.")],
    directory: DirOpt = Path(),
    key: Annotated[Path | None, typer.Option(help="Key file (default DIR/terminal/…).")] = None,
    kind: Annotated[str, typer.Option(help="cli or automation.")] = "cli",
) -> None:
    """Create this CLI terminal's Ed25519 key and enrol it (pending until approved)."""
    path = _key_path(directory, key)
    if path.exists():
        private = _load_terminal_key(path)
    else:
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private(path, pem)
    raw = _raw_public(private)
    with _node(directory) as ctx:
        proof = b64url_encode(private.sign(enrol_text(ctx.party, raw, kind, unit, label)))
        done = _audited(
            ctx,
            "terminal.enrol",
            None,
            lambda: TerminalService(ctx).enrol(
                public_key=b64url_encode(raw), kind=kind, unit=unit, label=label, proof=proof
            ),
        )
    console.print(f"terminal [bold]{done['id']}[/bold] is {done['status']}; key in {path}")
    console.print(f"fingerprint: [bold]{done['fingerprint']}[/bold]")


@terminal_app.command("login")
def terminal_login(
    operator: Annotated[str, typer.Option(help="Your operator id.")],
    directory: DirOpt = Path(),
    key: Annotated[Path | None, typer.Option(help="Key file (default DIR/terminal/…).")] = None,
    terminal_id: Annotated[str | None, typer.Option("--terminal")] = None,
    location: Annotated[str | None, typer.Option(help="lat,lon if geofenced.")] = None,
) -> None:
    """Log in from this CLI terminal; the session token goes to DIR/tokens/session.token."""
    from molink.core.terminal import terminal_id as id_of

    private = _load_terminal_key(_key_path(directory, key))
    terminal = terminal_id or id_of(_raw_public(private))
    config = NodeConfig.load(directory / "node.toml")
    base = config.api.public_url or f"https://{config.api.host}:{config.api.port}"
    cert = config.path(config.api.tls_cert).read_text(encoding="utf-8")
    password = str(typer.prompt("Password", hide_input=True))
    totp = str(typer.prompt("TOTP code"))
    headers = {"X-Molink-Location": location} if location else {}
    with httpx.Client(base_url=base, verify=pinned_context(cert), timeout=10.0) as http:
        got = _post(http, "/api/v1/session/challenge", {"terminal": terminal}, headers)
        text = login_text(got["party"], terminal, operator, got["challenge"])
        body = {
            "operator": operator,
            "password": password,
            "totp": totp,
            "terminal": terminal,
            "challenge": got["challenge"],
            "signature": b64url_encode(private.sign(text)),
        }
        session = _post(http, "/api/v1/session", body, headers)
    write_private(directory / "tokens" / "session.token", session["token"].encode() + b"\n")
    console.print(
        f"logged in as {session['operator']} ({session['role']}) until {session['expires']}"
    )


def _post(http: httpx.Client, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    try:
        answer = http.post(path, json=body, headers=headers)
    except httpx.TransportError as exc:
        raise NotAuthenticated(f"the node is not answering ({exc})") from exc
    if answer.status_code >= 400:
        try:
            detail = answer.json().get("detail", answer.text)
        except ValueError:
            detail = answer.text
        raise NotAuthenticated(f"HTTP {answer.status_code}: {detail}")
    return answer.json()


@audit_app.callback()
def audit(
    directory: DirOpt = Path(),
    operator: Annotated[str | None, typer.Option(help="Only this operator.")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. message.send, or terminal.*")] = None,
    outcome: Annotated[str | None, typer.Option(help="ok, refused or failed")] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601 UTC.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the audit trail (oldest first), filtered."""
    if outcome is not None and outcome not in ("ok", "refused", "failed"):
        raise InvalidInput("--outcome is ok, refused or failed")
    filt = AuditFilter(
        operator=operator,
        action=action,
        outcome=outcome,
        since_us=micros(parse_utc(since)) if since else None,
    )
    with _node(directory) as ctx:
        items = AuditService(ctx).listing(filt, limit=limit, cursor=None)["items"]
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    table = Table("time", "operator", "role", "terminal", "action", "target", "outcome", "status")
    for r in items:
        table.add_row(
            r["time"],
            r["operator"] or "-",
            r["role"] or "-",
            r["terminal"] or "-",
            r["action"],
            r["target"] or "-",
            r["outcome"],
            str(r["status"] or "-"),
        )
    console.print(table)
