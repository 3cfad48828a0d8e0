"""Authentication: bearer credentials on every request, and the console login.

Console login (documented for clients in ``docs/roles.md``):

1. ``challenge(terminal)``: a one-time 32-byte challenge for an approved terminal,
   valid ``challenge_ttl``.
2. ``login(...)``: the terminal's Ed25519 signature over
   ``core.terminal.login_text(party, terminal, operator, challenge)``, the operator's
   password (argon2id) and a TOTP code (RFC 6238). Success yields a session token bound
   to that terminal, valid ``session_ttl``.

Every failure counts against the operator; ``max_failures`` in a row lock it for
``lockout`` (even the right password is refused meanwhile). Every attempt counts
against its source address: more than ``source_limit`` per ``source_window`` are
refused with ``RateLimited``. The per-source window lives in this process's memory;
lockouts live in the database, shared by every worker.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher

from molink.core.atrest import is_sealed
from molink.core.b64 import b64url_encode
from molink.core.dtg import format_utc
from molink.core.geofence import parse_location
from molink.core.terminal import login_text, verify_proof
from molink.errors import NotAuthenticated, RateLimited, StorageError
from molink.services.accounts import check_password, check_totp, new_token, open_totp, seal_totp
from molink.services.context import NodeContext
from molink.storage.db import from_micros, micros
from molink.storage.operators import OperatorRepo, Principal, check_terminal, token_hash
from molink.storage.terminals import TerminalRepo

__all__ = ["AccessOptions", "AccessService", "SourceLimiter"]

_REFUSED = "wrong operator, password, TOTP code or terminal signature"


@dataclass(frozen=True, slots=True)
class AccessOptions:
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    session_ttl: timedelta = timedelta(hours=12)
    challenge_ttl: timedelta = timedelta(minutes=2)
    source_limit: int = 30
    source_window: timedelta = timedelta(minutes=1)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)


class SourceLimiter:
    """A sliding-window counter per source address (thread-safe, in memory)."""

    def __init__(self, limit: int, window: timedelta, *, what: str = "attempts") -> None:
        self._limit = limit
        self._window_us = int(window.total_seconds() * 1_000_000)
        self._what = what
        self._hits: dict[str, deque[int]] = {}
        self._lock = threading.Lock()

    def _recent(self, source: str, now_us: int) -> deque[int]:
        if len(self._hits) > 10_000:  # forget sources that went quiet
            horizon = now_us - self._window_us
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > horizon}
        hits = self._hits.setdefault(source, deque())
        while hits and hits[0] <= now_us - self._window_us:
            hits.popleft()
        return hits

    def check(self, source: str, now_us: int) -> None:
        """Raise ``RateLimited`` if ``source`` is at its limit (counts nothing)."""
        with self._lock:
            hits = self._recent(source, now_us)
            if len(hits) >= self._limit:
                retry = (hits[0] + self._window_us - now_us) // 1_000_000 + 1
                raise RateLimited(
                    f"too many {self._what} from {source}; try again in {retry} s",
                    retry_after_s=int(retry),
                )

    def count(self, source: str, now_us: int) -> None:
        with self._lock:
            self._recent(source, now_us).append(now_us)

    def hit(self, source: str, now_us: int) -> None:
        """Check, then count one attempt."""
        with self._lock:
            hits = self._recent(source, now_us)
            if len(hits) < self._limit:
                hits.append(now_us)
                return
        self.check(source, now_us)


class AccessService:
    def __init__(self, ctx: NodeContext, options: AccessOptions | None = None) -> None:
        self._ctx = ctx
        self.options = options or AccessOptions()
        self._sources = SourceLimiter(self.options.source_limit, self.options.source_window)

    # -- every request -------------------------------------------------------------------

    def authenticate(self, token: str, location: str | None = None) -> Principal:
        """The principal behind a bearer token (token, operator, terminal, geofence)."""
        where = None if location is None else parse_location(location)
        with self._ctx.db.read() as conn:
            return OperatorRepo.authenticate(conn, token, self._ctx.now_us(), location=where)

    def throttle(self, source: str) -> None:
        self._sources.hit(source, self._ctx.now_us())

    # -- console login -------------------------------------------------------------------

    def challenge(self, terminal: str) -> dict[str, Any]:
        ctx = self._ctx
        now_us = ctx.now_us()
        expires = now_us + int(self.options.challenge_ttl.total_seconds() * 1_000_000)
        value = b64url_encode(ctx.random(32))
        with ctx.db.write() as conn:
            found = TerminalRepo.find(conn, terminal)
            if found is None:
                raise NotAuthenticated(f"terminal {terminal!r} is not enrolled; it can do nothing")
            if found.status != "approved":
                raise NotAuthenticated(
                    f"terminal {terminal!r} is {found.status}; it can do nothing"
                )
            if found.public_key is None:
                raise NotAuthenticated(f"terminal {terminal!r} has no key: it cannot log in")
            TerminalRepo.add_challenge(conn, value, terminal, expires, now_us)
        return {
            "challenge": value,
            "terminal": terminal,
            "party": ctx.party,
            "expires": format_utc(from_micros(expires)),
        }

    def login(
        self,
        *,
        operator: str,
        password: str,
        totp: str,
        terminal: str,
        challenge: str,
        signature: str,
        location: str | None = None,
    ) -> dict[str, Any]:
        """Check everything, then open a session bound to ``terminal``."""
        ctx = self._ctx
        now = ctx.clock.now()
        now_us = micros(now)
        with ctx.db.write() as conn:
            taken = TerminalRepo.take_challenge(conn, challenge)  # one use, pass or fail
        row = self._operator(operator, now_us)
        try:
            self._check_terminal(
                taken, terminal=terminal, operator=operator, challenge=challenge,
                signature=signature, location=location, now_us=now_us,
            )  # fmt: skip
            step = self._check_secrets(row, password, totp, now)
        except NotAuthenticated:
            self._count_failure(operator, now_us)
            raise
        rehashed = None
        if self.options.hasher.check_needs_rehash(row.password_hash):
            rehashed = self.options.hasher.hash(password)
        return self._open_session(
            row, terminal=terminal, step=step, rehashed=rehashed, now_us=now_us
        )

    def _check_secrets(self, row: Any, password: str, totp: str, now: datetime) -> int:
        """Both the password and the TOTP code, always both (no early exit)."""
        ok_password = check_password(self.options.hasher, row.password_hash, password)
        try:
            secret = open_totp(self._ctx, row.id, row.totp_secret)
        except StorageError as exc:  # refused like a wrong code; the administrator is told
            self._ctx.events.publish(
                "worker.error", error=f"operator {row.id!r}: TOTP seed: {exc.message}"
            )
            secret = None
        step = check_totp(secret, totp, now, row.totp_last)
        if not ok_password or step is None:
            raise NotAuthenticated(_REFUSED)
        return step

    def _operator(self, operator: str, now_us: int) -> Any:
        with self._ctx.db.read() as conn:
            row = OperatorRepo.find(conn, operator)
        if row is None:
            check_password(self.options.hasher, None, "")  # same work as a real check
            raise NotAuthenticated(_REFUSED)
        if row.locked_until is not None and row.locked_until > now_us:
            retry = (row.locked_until - now_us) // 1_000_000 + 1
            raise RateLimited(
                f"operator {operator!r} is locked until "
                f"{format_utc(from_micros(row.locked_until))} after repeated failed logins",
                retry_after_s=int(retry),
            )
        if row.disabled:
            raise NotAuthenticated(f"operator {operator!r} is disabled")
        if row.password_hash is None or row.totp_secret is None:
            raise NotAuthenticated(
                f"operator {operator!r} has no password or TOTP set: an administrator "
                "sets them with 'molink operator reset'"
            )
        return row

    def _check_terminal(
        self,
        taken: tuple[str, int] | None,
        *,
        terminal: str,
        operator: str,
        challenge: str,
        signature: str,
        location: str | None,
        now_us: int,
    ) -> None:
        """The challenge is this terminal's and fresh; the terminal approved, inside its
        geofence, and its key signed the login text."""
        if taken is None or taken[0] != terminal:
            raise NotAuthenticated("unknown or used challenge: ask for a new one")
        if taken[1] < now_us:
            raise NotAuthenticated("the challenge expired: ask for a new one")
        ctx = self._ctx
        with ctx.db.read() as conn:
            found = TerminalRepo.find(conn, terminal)
        where = None if location is None else parse_location(location)
        check_terminal(
            terminal,
            None if found is None else found.status,
            None if found is None else found.geofence,
            where,
        )
        if found is None or found.public_key is None:
            raise NotAuthenticated(f"terminal {terminal!r} has no key: it cannot log in")
        text = login_text(ctx.party, terminal, operator, challenge)
        verify_proof(found.public_key, text, signature)

    def _count_failure(self, operator: str, now_us: int) -> None:
        lock_us = int(self.options.lockout.total_seconds() * 1_000_000)
        with self._ctx.db.write() as conn:
            OperatorRepo.count_failure(
                conn, operator, max_failures=self.options.max_failures, lock_until=now_us + lock_us
            )

    def _open_session(
        self, row: Any, *, terminal: str, step: int, rehashed: str | None, now_us: int
    ) -> dict[str, Any]:
        ctx = self._ctx
        token = new_token(ctx)
        expires = now_us + int(self.options.session_ttl.total_seconds() * 1_000_000)
        with ctx.db.write() as conn:
            values: dict[str, Any] = {"failed_logins": 0, "locked_until": None, "totp_last": step}
            if rehashed is not None:
                values["password_hash"] = rehashed
            if row.totp_secret is not None and not is_sealed(row.totp_secret):
                values["totp_secret"] = seal_totp(ctx, row.id, row.totp_secret)
            OperatorRepo.update(conn, row.id, **values)
            OperatorRepo.add_token(
                conn,
                token=token,
                operator_id=row.id,
                terminal=terminal,
                scopes=["*"],
                now_us=now_us,
                expires_us=expires,
                kind="session",
            )
        return {
            "token": token,
            "operator": row.id,
            "role": row.role,
            "terminal": terminal,
            "expires": format_utc(from_micros(expires)),
        }

    def logout(self, token: str) -> None:
        """End the session (or revoke the token) presented with the request."""
        hashed = token_hash(token)
        with self._ctx.db.write() as conn:
            OperatorRepo.revoke_by_hash(conn, hashed)
        self._ctx.events.publish("access.revoked", token=hashed[:16])
