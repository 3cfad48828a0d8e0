"""The audit trail middleware: every operator API attempt that changes state or is refused.

What is recorded (``molink.services.audit``), for requests under ``/api/v1/``:

* every request that is not ``GET``/``HEAD``/``OPTIONS``, whatever its outcome;
* every request refused with 401, 403 or 429, reads included.

The record names the operator, role and terminal (when the credential was valid), the
action (the permission the endpoint requires, or the endpoint's own name), the target
(the path parameter, e.g. a message or terminal id), the outcome (``ok``, ``refused``,
``failed``), the HTTP status and, for errors, the problem's ``detail``. It is written
before the response leaves, so a client that saw success can rely on the record.

A source that collects many 401s is answered 429 without touching the application for
the rest of the window; only the first such answer per window is recorded, so that
garbage credentials cannot grow the log without bound.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from molink.errors import MolinkError, RateLimited
from molink.services.access import SourceLimiter
from molink.services.audit import Actor, AuditService
from molink.services.events import EventBus

__all__ = ["AuditTrail", "outcome_of", "record_in_action"]

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_REFUSED = frozenset({401, 403, 429})
_UNAUDITED = frozenset({"/api/v1/health"})
_RECORDED = "molink_audit_recorded"


def outcome_of(status: int) -> str:
    if status in _REFUSED:
        return "refused"
    return "ok" if status < 400 else "failed"


def _actor(state: dict[str, Any], source: str) -> Actor:
    """Who acted: the authenticated principal, else the claimed login, else the source."""
    who = state.get("molink_principal")
    claimed = state.get("molink_claimed")  # (operator, terminal) of a login attempt
    if who is not None:
        return Actor(who.operator_id, who.role, who.terminal, source)
    if claimed is not None:
        return Actor(claimed[0], None, claimed[1], source)
    return Actor(None, None, None, source)


def record_in_action(request: Request, audit: AuditService, *, status: int) -> Any:
    """A callback that writes this request's success record in the action's own
    transaction (one commit instead of two on the busiest endpoint).

    The middleware then skips its own record for a success. If the action fails, its
    transaction (and this record) rolls back, and the middleware records the failure.
    """
    state: dict[str, Any] = request.scope.setdefault("state", {})
    source = request.client.host if request.client else "unknown"

    def write(conn: Connection) -> None:
        actor = _actor(state, source)
        action = state.get("molink_action") or request.scope["path"]
        audit.record_in(conn, actor, action=action, outcome="ok", status=status)
        state[_RECORDED] = True

    return write


class AuditTrail:
    """Pure ASGI middleware (it must see streaming responses start without buffering)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        audit: AuditService,
        events: EventBus,
        now_us: Any,
        refusal_limiter: SourceLimiter,
    ) -> None:
        self.app = app
        self._audit = audit
        self._events = events
        self._now_us = now_us
        self._refusals = refusal_limiter
        self._blocked_logged: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/api/v1/") or path in _UNAUDITED:
            await self.app(scope, receive, send)
            return
        source = scope["client"][0] if scope.get("client") else "unknown"
        if await self._blocked(scope, send, source):
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        held: list[Message] = []
        status = 0

        async def audited_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if not self._wanted(scope["method"], status):
                    status = -1  # not audited: pass everything through
                    await send(message)
                elif status < 400:
                    if not state.get(_RECORDED):  # else written with the action itself
                        await self._record(scope, state, source, status, None)
                    await send(message)
                else:
                    held.append(message)  # hold the (small) problem to record its detail
                return
            if held:
                held.append(message)
                if not message.get("more_body", False):
                    body = b"".join(m.get("body", b"") for m in held[1:])
                    await self._record(scope, state, source, status, _detail(body))
                    for m in held:
                        await send(m)
                    held.clear()
                return
            await send(message)

        try:
            await self.app(scope, receive, audited_send)
        except Exception:
            if status == 0:
                await self._record(scope, state, source, 500, "internal error")
            raise

    @staticmethod
    def _wanted(method: str, status: int) -> bool:
        return method not in _READS or status in _REFUSED

    async def _blocked(self, scope: Scope, send: Send, source: str) -> bool:
        """Answer 429 for a source that is over its 401 budget (see the module doc)."""
        try:
            self._refusals.check(source, self._now_us())
        except RateLimited as exc:
            window = self._now_us() // 60_000_000
            if self._blocked_logged.get(source) != window:
                self._blocked_logged = {source: window}
                state = scope.setdefault("state", {})
                state["molink_action"] = "auth.flood"
                await self._record(scope, state, source, 429, exc.message)
            await _send_problem(send, 429, exc.message, exc.retry_after_s)
            return True
        return False

    async def _record(
        self, scope: Scope, state: dict[str, Any], source: str, status: int, detail: str | None
    ) -> None:
        actor = _actor(state, source)
        claimed = state.get("molink_claimed")
        if status == 401:
            self._refusals.count(source, self._now_us())
        action = state.get("molink_action") or _route_name(scope)
        params = scope.get("path_params") or {}
        target = next((str(v) for v in params.values()), None) if params else None
        if target is None and claimed is not None:
            target = claimed[0]
        try:
            await anyio.to_thread.run_sync(
                lambda: self._audit.record(
                    actor,
                    action=action,
                    outcome=outcome_of(status),
                    target=target,
                    status=status,
                    detail=detail,
                )
            )
        except MolinkError as exc:  # never turn a done action into an error; say so
            self._events.publish("worker.error", error=f"audit record failed: {exc.message}")


def _route_name(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None) or scope.get("path", "")
    return f"{scope.get('method', '?')} {path}"[:64]


def _detail(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    detail = data.get("detail") if isinstance(data, dict) else None
    return detail[:2000] if isinstance(detail, str) else None


async def _send_problem(send: Send, status: int, detail: str, retry_after_s: int) -> None:
    body = json.dumps(
        {
            "type": "https://molink.dev/problems/rate-limited",
            "title": "RateLimited",
            "status": status,
            "detail": detail,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after_s).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
