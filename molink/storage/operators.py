"""Operators and their bearer tokens (hashed at rest)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from molink.errors import InvalidInput, NotAuthenticated, NotFound
from molink.storage.schema import operators, tokens

__all__ = ["ROLES", "OperatorRepo", "Principal", "token_hash"]

ROLES = ("duty_officer", "supervisor", "translator", "administrator", "auditor", "mediator")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: an operator, through a terminal, with a role."""

    operator_id: str
    pseudonym: str
    role: str
    terminal: str
    scopes: tuple[str, ...]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


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
                disabled=False,
                failed_logins=0,
                created=now_us,
            )
        )

    @staticmethod
    def get(conn: Connection, operator_id: str) -> Row[Any]:
        row = conn.execute(select(operators).where(operators.c.id == operator_id)).first()
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
    def add_token(
        conn: Connection,
        *,
        token: str,
        operator_id: str,
        terminal: str,
        scopes: list[str],
        now_us: int,
        expires_us: int | None = None,
    ) -> None:
        conn.execute(
            insert(tokens).values(
                token_hash=token_hash(token),
                operator_id=operator_id,
                terminal=terminal,
                scopes=scopes,
                created=now_us,
                expires=expires_us,
                revoked=False,
            )
        )

    @staticmethod
    def authenticate(conn: Connection, token: str, now_us: int) -> Principal:
        row = conn.execute(
            select(tokens, operators.c.pseudonym, operators.c.role, operators.c.disabled)
            .join(operators, operators.c.id == tokens.c.operator_id)
            .where(tokens.c.token_hash == token_hash(token))
        ).first()
        if row is None or row.revoked or row.disabled:
            raise NotAuthenticated("unknown, revoked or disabled token")
        if row.expires is not None and row.expires < now_us:
            raise NotAuthenticated("token expired")
        return Principal(
            operator_id=row.operator_id,
            pseudonym=row.pseudonym,
            role=row.role,
            terminal=row.terminal,
            scopes=tuple(row.scopes),
        )
