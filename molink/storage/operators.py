"""Operators and their bearer tokens (hashed at rest), bound to terminals."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update

from molink.core.geofence import parse_geofence
from molink.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound
from molink.storage.schema import operators, terminals, tokens

__all__ = ["ROLES", "OperatorRepo", "Principal", "check_terminal", "token_hash", "token_id"]

ROLES = ("duty_officer", "supervisor", "translator", "administrator", "auditor", "mediator")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: an operator, through a terminal, with a role.

    ``kind`` is ``session`` (console login) or ``api`` (a scoped token); ``token_id``
    names the credential without revealing it.
    """

    operator_id: str
    pseudonym: str
    role: str
    terminal: str
    scopes: tuple[str, ...]
    kind: str = "api"
    token_id: str = ""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_id(hashed: str) -> str:
    """A token's public name: ``tok-`` and the first 16 hex digits of its hash."""
    return "tok-" + hashed[:16]


class OperatorRepo:
    @staticmethod
    def add(
        conn: Connection,
        *,
        operator_id: str,
        pseudonym: str,
        role: str,
        display_name: str,
        now_us: int,
        password_hash: str | None = None,
        totp_secret: str | None = None,
    ) -> None:
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        if conn.execute(select(operators.c.id).where(operators.c.id == operator_id)).first():
            raise InvalidInput(f"operator {operator_id!r} exists")
        conn.execute(
            insert(operators).values(
                id=operator_id,
                pseudonym=pseudonym,
                role=role,
                display_name=display_name,
                password_hash=password_hash,
                totp_secret=totp_secret,
                disabled=False,
                failed_logins=0,
                created=now_us,
            )
        )

    @staticmethod
    def find(conn: Connection, operator_id: str) -> Row[Any] | None:
        return conn.execute(select(operators).where(operators.c.id == operator_id)).first()

    @classmethod
    def get(cls, conn: Connection, operator_id: str) -> Row[Any]:
        row = cls.find(conn, operator_id)
        if row is None:
            raise NotFound(f"no operator {operator_id!r}")
        return row

    @staticmethod
    def all(conn: Connection) -> list[Row[Any]]:
        return list(conn.execute(select(operators).order_by(operators.c.id)))

    @staticmethod
    def set_disabled(conn: Connection, operator_id: str, disabled: bool) -> None:
        conn.execute(
            update(operators).where(operators.c.id == operator_id).values(disabled=disabled)
        )

    @staticmethod
    def update(conn: Connection, operator_id: str, **values: Any) -> None:
        """Set credential or lockout columns (``password_hash``, ``failed_logins`` ...)."""
        conn.execute(update(operators).where(operators.c.id == operator_id).values(**values))

    @staticmethod
    def count_failure(
        conn: Connection, operator_id: str, *, max_failures: int, lock_until: int
    ) -> None:
        """One more failed login (atomic); at ``max_failures`` lock until ``lock_until``."""
        conn.execute(
            update(operators)
            .where(operators.c.id == operator_id)
            .values(failed_logins=operators.c.failed_logins + 1)
        )
        row = conn.execute(
            select(operators.c.failed_logins).where(operators.c.id == operator_id)
        ).first()
        if row is not None and row.failed_logins >= max_failures:
            conn.execute(
                update(operators)
                .where(operators.c.id == operator_id)
                .values(failed_logins=0, locked_until=lock_until)
            )

    @staticmethod
    def add_token(
        conn: Connection,
        *,
        token: str,
        operator_id: str,
        terminal: str,
        scopes: list[str],
        now_us: int,
        expires_us: int | None = None,
        kind: str | None = None,
        label: str | None = None,
    ) -> str:
        """Store a token's hash; returns the token's public id."""
        hashed = token_hash(token)
        conn.execute(
            insert(tokens).values(
                token_hash=hashed,
                operator_id=operator_id,
                terminal=terminal,
                scopes=scopes,
                created=now_us,
                expires=expires_us,
                revoked=False,
                kind=kind,
                label=label,
            )
        )
        return token_id(hashed)

    @staticmethod
    def tokens_of(conn: Connection, operator_id: str | None = None) -> list[Row[Any]]:
        query = select(tokens)
        if operator_id is not None:
            query = query.where(tokens.c.operator_id == operator_id)
        return list(conn.execute(query.order_by(tokens.c.created)))

    @staticmethod
    def revoke_token(conn: Connection, public_id: str) -> int:
        """Revoke the token(s) whose public id is ``public_id``; returns how many."""
        if not public_id.startswith("tok-") or len(public_id) != 20:
            raise InvalidInput("a token id looks like tok-<16 hex digits>")
        prefix = public_id[4:]
        result = conn.execute(
            update(tokens)
            .where(tokens.c.token_hash.startswith(prefix, autoescape=True))
            .values(revoked=True)
        )
        return int(result.rowcount or 0)

    @staticmethod
    def revoke_by_hash(conn: Connection, hashed: str) -> None:
        conn.execute(update(tokens).where(tokens.c.token_hash == hashed).values(revoked=True))

    @staticmethod
    def authenticate(
        conn: Connection, token: str, now_us: int, *, location: tuple[float, float] | None = None
    ) -> Principal:
        """The principal behind a bearer token, checked end to end on every request.

        The token must be known, unrevoked and unexpired; its operator enabled; its
        terminal enrolled and approved; and, if the terminal has a geofence, the
        reported ``location`` (lat, lon) inside it.
        """
        hashed = token_hash(token)
        row = conn.execute(_BY_TOKEN, {"b_hash": hashed}).first()
        if row is None:
            raise NotAuthenticated("unknown bearer token")
        if row.terminal_status != "approved":  # first: it explains a revoked token
            check_terminal(row.terminal, row.terminal_status, None, None)
        if row.disabled:
            raise NotAuthenticated(f"operator {row.operator_id!r} is disabled")
        if row.revoked:
            raise NotAuthenticated("this session or token was revoked")
        if row.expires is not None and row.expires < now_us:
            raise NotAuthenticated("this session or token has expired")
        check_terminal(row.terminal, row.terminal_status, row.geofence, location)
        return Principal(
            operator_id=row.operator_id,
            pseudonym=row.pseudonym,
            role=row.role,
            terminal=row.terminal,
            scopes=tuple(row.scopes),
            kind=row.kind or "api",
            token_id=token_id(hashed),
        )


# Every request authenticates: the statement is built once.
_BY_TOKEN = (
    select(
        tokens,
        operators.c.pseudonym,
        operators.c.role,
        operators.c.disabled,
        terminals.c.status.label("terminal_status"),
        terminals.c.geofence,
    )
    .join(operators, operators.c.id == tokens.c.operator_id)
    .outerjoin(terminals, terminals.c.id == tokens.c.terminal)
    .where(tokens.c.token_hash == bindparam("b_hash"))
)


def check_terminal(
    terminal: str,
    status: str | None,
    geofence: Any,
    location: tuple[float, float] | None,
) -> None:
    """Refuse an unenrolled or unapproved terminal, or one outside its geofence."""
    if status is None:
        raise NotAuthenticated(f"terminal {terminal!r} is not enrolled; it can do nothing")
    if status != "approved":
        raise NotAuthenticated(f"terminal {terminal!r} is {status}; it can do nothing")
    if geofence is None:
        return
    if location is None:
        raise Forbidden(
            f"terminal {terminal!r} has a geofence: report its location in X-Molink-Location"
        )
    if not parse_geofence(geofence).contains(*location):
        raise Forbidden(f"terminal {terminal!r} reported a location outside its geofence")
