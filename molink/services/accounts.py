"""Operator accounts: passwords (argon2id), TOTP secrets, lockout, and scoped API tokens.

Passwords are hashed with argon2id (RFC 9106; argon2-cffi's RFC 9106 low-memory
profile by default). TOTP follows RFC 6238 (30 s steps, 6 digits, SHA-1, as every
authenticator app expects); each accepted time step is remembered so a code cannot be
replayed. Secrets (passwords, TOTP secrets, tokens) are never logged: the node's log
records only who changed what.
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection

from molink.core.atrest import at_rest_key, is_sealed, open_at_rest, seal_at_rest
from molink.core.authz import parse_scopes
from molink.core.b64 import b64url_encode
from molink.errors import InvalidInput, NotFound, StateConflict
from molink.services.context import NodeContext
from molink.services.queries import iso
from molink.storage.operators import OperatorRepo, token_id
from molink.storage.terminals import TerminalRepo

__all__ = [
    "MIN_PASSWORD",
    "AccountService",
    "NewOperator",
    "NewToken",
    "add_account",
    "cheap_hasher",
    "check_password",
    "check_totp",
    "hash_password",
    "issue_api_token",
    "new_token",
    "open_totp",
    "operator_view",
    "reset_credentials",
    "seal_totp",
    "token_view",
    "totp_uri",
]

MIN_PASSWORD = 12
TOTP_STEP_S = 30
_OPERATOR_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class NewOperator:
    """What an administrator hands the new operator, once: the TOTP enrolment URI."""

    operator_id: str
    role: str
    totp_secret: str
    totp_uri: str


@dataclass(frozen=True, slots=True)
class NewToken:
    id: str
    token: str
    operator: str
    terminal: str
    scopes: tuple[str, ...]
    expires: int | None


def cheap_hasher() -> PasswordHasher:
    """argon2id with tiny costs, for tests only (never for real passwords)."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def new_token(ctx: NodeContext) -> str:
    return "mlk_" + b64url_encode(ctx.random(32))


def hash_password(hasher: PasswordHasher, password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise InvalidInput("a password has at most 1024 characters")
    return hasher.hash(password)


def check_password(hasher: PasswordHasher, stored: str | None, password: str) -> bool:
    """Verify in constant-ish time; with no stored hash, burn the same work and fail."""
    try:
        if stored is None:
            hasher.verify(_DUMMY.get(hasher), password)
            return False
        return bool(hasher.verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


class _Dummy:
    """A hash per hasher to verify against when the operator does not exist."""

    def __init__(self) -> None:
        self._hashes: dict[int, str] = {}

    def get(self, hasher: PasswordHasher) -> str:
        key = id(hasher)
        if key not in self._hashes:
            self._hashes[key] = hasher.hash("molink-no-such-operator")
        return self._hashes[key]


_DUMMY = _Dummy()


def new_totp_secret(ctx: NodeContext) -> str:
    return base64.b32encode(ctx.random(20)).decode("ascii")


def seal_totp(ctx: NodeContext, operator_id: str, secret: str) -> str:
    """The TOTP seed as stored: sealed under the party's key, bound to the operator."""
    key = at_rest_key(ctx.keys, "totp")
    return seal_at_rest(key, secret, aad=f"operator:{operator_id}", random=ctx.random)


def open_totp(ctx: NodeContext, operator_id: str, stored: str | None) -> str | None:
    """The TOTP seed of a stored value (``StorageError`` if it does not open).

    A value stored before seeds were sealed is plain base32; it is returned as it is and
    resealed at the operator's next good login (``AccessService``).
    """
    if stored is None or not is_sealed(stored):
        return stored
    keys = [at_rest_key(k, "totp") for k in (ctx.keys, *ctx.retired_keys)]
    return open_at_rest(keys, stored, aad=f"operator:{operator_id}")


def totp_uri(secret: str, operator_id: str, party: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=operator_id, issuer_name=f"molink {party}")


def check_totp(secret: str | None, code: str, now: datetime, last_step: int | None) -> int | None:
    """The accepted RFC 6238 time step (now ±1 step), or None. Steps up to ``last_step``
    were used already and are refused (no replay)."""
    if secret is None or not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // TOTP_STEP_S
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.at(step * TOTP_STEP_S), code):
            return step
    return None


def add_account(
    ctx: NodeContext,
    conn: Connection,
    hasher: PasswordHasher,
    *,
    operator_id: str,
    role: str,
    password: str | None,
    display_name: str | None = None,
    pseudonym: str | None = None,
) -> NewOperator:
    """Create an operator with a password (optional) and a fresh TOTP secret."""
    secret = new_totp_secret(ctx)
    OperatorRepo.add(
        conn,
        operator_id=operator_id,
        pseudonym=pseudonym or operator_id,
        role=role,
        display_name=display_name or operator_id,
        now_us=ctx.now_us(),
        password_hash=None if password is None else hash_password(hasher, password),
        totp_secret=seal_totp(ctx, operator_id, secret),
    )
    return NewOperator(operator_id, role, secret, totp_uri(secret, operator_id, ctx.party))


def reset_credentials(
    ctx: NodeContext, conn: Connection, hasher: PasswordHasher, operator_id: str, password: str
) -> NewOperator:
    """A new password and a new TOTP secret; the old sessions end."""
    row = OperatorRepo.get(conn, operator_id)
    secret = new_totp_secret(ctx)
    OperatorRepo.update(
        conn,
        operator_id,
        password_hash=hash_password(hasher, password),
        totp_secret=seal_totp(ctx, operator_id, secret),
        totp_last=None,
        failed_logins=0,
        locked_until=None,
    )
    for tok in OperatorRepo.tokens_of(conn, operator_id):
        if tok.kind == "session" and not tok.revoked:
            OperatorRepo.revoke_by_hash(conn, tok.token_hash)
    return NewOperator(operator_id, row.role, secret, totp_uri(secret, operator_id, ctx.party))


def issue_api_token(
    ctx: NodeContext,
    conn: Connection,
    *,
    operator_id: str,
    terminal: str,
    scopes: list[str],
    expires_us: int | None,
    label: str | None,
) -> NewToken:
    """A scoped automation token for an approved terminal (shown once)."""
    OperatorRepo.get(conn, operator_id)
    found = TerminalRepo.get(conn, terminal)
    if found.status != "approved":
        raise StateConflict(f"terminal {terminal!r} is {found.status}, not approved")
    parsed = parse_scopes(scopes)
    token = new_token(ctx)
    public_id = OperatorRepo.add_token(
        conn,
        token=token,
        operator_id=operator_id,
        terminal=terminal,
        scopes=list(parsed),
        now_us=ctx.now_us(),
        expires_us=expires_us,
        kind="api",
        label=label,
    )
    return NewToken(public_id, token, operator_id, terminal, parsed, expires_us)


def operator_view(row: Any, now_us: int) -> dict[str, Any]:
    locked = row.locked_until is not None and row.locked_until > now_us
    return {
        "id": row.id,
        "pseudonym": row.pseudonym,
        "role": row.role,
        "display_name": row.display_name,
        "disabled": bool(row.disabled),
        "password_set": row.password_hash is not None,
        "totp_set": row.totp_secret is not None,
        "failed_logins": row.failed_logins,
        "locked_until": iso(row.locked_until) if locked else None,
        "created": iso(row.created),
    }


def token_view(row: Any) -> dict[str, Any]:
    return {
        "id": token_id(row.token_hash),
        "operator": row.operator_id,
        "terminal": row.terminal,
        "kind": row.kind or "api",
        "label": row.label,
        "scopes": list(row.scopes),
        "created": iso(row.created),
        "expires": iso(row.expires),
        "revoked": bool(row.revoked),
    }


class AccountService:
    """Operator and token administration, each step in one transaction.

    Disabling an operator, resetting its credentials or revoking a token tells open
    event streams at once (``access.revoked``); every request re-checks anyway.
    """

    def __init__(self, ctx: NodeContext, hasher: PasswordHasher) -> None:
        self._ctx = ctx
        self._hasher = hasher

    def add(
        self,
        *,
        operator_id: str,
        role: str,
        password: str | None,
        display_name: str | None = None,
        pseudonym: str | None = None,
    ) -> NewOperator:
        _check_operator_id(operator_id)
        with self._ctx.db.write() as conn:
            return add_account(
                self._ctx,
                conn,
                self._hasher,
                operator_id=operator_id,
                role=role,
                password=password,
                display_name=display_name,
                pseudonym=pseudonym,
            )

    def reset(self, operator_id: str, password: str) -> NewOperator:
        with self._ctx.db.write() as conn:
            done = reset_credentials(self._ctx, conn, self._hasher, operator_id, password)
        self._ctx.events.publish("access.revoked", operator=operator_id)
        return done

    def set_disabled(self, operator_id: str, disabled: bool) -> dict[str, Any]:
        with self._ctx.db.write() as conn:
            OperatorRepo.get(conn, operator_id)
            OperatorRepo.set_disabled(conn, operator_id, disabled)
            row = OperatorRepo.get(conn, operator_id)
        if disabled:
            self._ctx.events.publish("access.revoked", operator=operator_id)
        return operator_view(row, self._ctx.now_us())

    def unlock(self, operator_id: str) -> dict[str, Any]:
        with self._ctx.db.write() as conn:
            OperatorRepo.get(conn, operator_id)
            OperatorRepo.update(conn, operator_id, failed_logins=0, locked_until=None)
            row = OperatorRepo.get(conn, operator_id)
        return operator_view(row, self._ctx.now_us())

    def listing(self) -> list[dict[str, Any]]:
        now_us = self._ctx.now_us()
        with self._ctx.db.read() as conn:
            return [operator_view(r, now_us) for r in OperatorRepo.all(conn)]

    def issue_token(
        self,
        *,
        operator_id: str,
        terminal: str,
        scopes: list[str],
        expires_in_s: int | None,
        label: str | None,
    ) -> NewToken:
        expires = None
        if expires_in_s is not None:
            expires = self._ctx.now_us() + expires_in_s * 1_000_000
        with self._ctx.db.write() as conn:
            return issue_api_token(
                self._ctx,
                conn,
                operator_id=operator_id,
                terminal=terminal,
                scopes=scopes,
                expires_us=expires,
                label=label,
            )

    def tokens(self, operator_id: str | None = None) -> list[dict[str, Any]]:
        with self._ctx.db.read() as conn:
            return [token_view(r) for r in OperatorRepo.tokens_of(conn, operator_id)]

    def revoke_token(self, public_id: str) -> int:
        with self._ctx.db.write() as conn:
            count = OperatorRepo.revoke_token(conn, public_id)
        if not count:
            raise NotFound(f"no token {public_id!r}")
        self._ctx.events.publish("access.revoked", token=public_id)
        return count


def _check_operator_id(operator_id: str) -> None:
    if not _OPERATOR_ID.fullmatch(operator_id):
        raise InvalidInput("operator id: 1-64 of a-z, A-Z, 0-9, '.', '_', '-'")
