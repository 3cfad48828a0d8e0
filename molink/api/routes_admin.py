"""Administration: terminals, quotas, operators and scoped API tokens (administrators only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from molink.api.deps import get_access, require
from molink.services.accounts import AccountService, NewOperator
from molink.services.registry import TerminalService, terminal_view
from molink.storage.operators import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["administration"])
Terminals = Annotated[Principal, require("terminal.manage")]
Operators = Annotated[Principal, require("operator.manage")]
Tokens = Annotated[Principal, require("token.manage")]


def _terminals(request: Request) -> TerminalService:
    return TerminalService(request.app.state.runtime.ctx)


def _accounts(request: Request) -> AccountService:
    return AccountService(request.app.state.runtime.ctx, get_access(request).options.hasher)


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str | None = Field(default=None, max_length=2000)


class GeofenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    geofence: dict[str, Any] | None = Field(description="GeoJSON Polygon/MultiPolygon, or null")


class QuotaRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    max_terminals: int = Field(ge=0, le=100_000)


@router.get("/terminals")
def list_terminals(
    request: Request,
    _: Terminals,
    status: Annotated[str | None, Query(pattern="^(pending|approved|rejected|revoked)$")] = None,
    unit: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    items = _terminals(request).listing(status=status, unit=unit)
    return {"items": [terminal_view(t) for t in items]}


@router.get("/terminals/{terminal_id}")
def get_terminal(terminal_id: str, request: Request, _: Terminals) -> dict[str, Any]:
    return terminal_view(_terminals(request).get(terminal_id))


@router.post("/terminals/{terminal_id}/approve")
def approve(
    terminal_id: str, request: Request, who: Terminals, body: Decision | None = None
) -> dict[str, Any]:
    """Approve a pending terminal (within its unit's quota)."""
    reason = body.reason if body else None
    return _terminals(request).decide(terminal_id, "approved", by=who.operator_id, reason=reason)


@router.post("/terminals/{terminal_id}/reject")
def reject(
    terminal_id: str, request: Request, who: Terminals, body: Decision | None = None
) -> dict[str, Any]:
    reason = body.reason if body else None
    return _terminals(request).decide(terminal_id, "rejected", by=who.operator_id, reason=reason)


@router.post("/terminals/{terminal_id}/revoke")
def revoke(
    terminal_id: str, request: Request, who: Terminals, body: Decision | None = None
) -> dict[str, Any]:
    """Revoke a terminal: its sessions, tokens and open event streams end at once."""
    reason = body.reason if body else None
    return _terminals(request).decide(terminal_id, "revoked", by=who.operator_id, reason=reason)


@router.put("/terminals/{terminal_id}/geofence")
def geofence(
    terminal_id: str, req: GeofenceRequest, request: Request, who: Terminals
) -> dict[str, Any]:
    """Set or clear the area the terminal must report its location inside."""
    return _terminals(request).set_geofence(terminal_id, req.geofence, by=who.operator_id)


@router.get("/quotas")
def quotas(request: Request, _: Terminals) -> dict[str, Any]:
    return _terminals(request).quotas()


@router.put("/quotas/{unit}")
def set_quota(unit: str, req: QuotaRequest, request: Request, who: Terminals) -> dict[str, Any]:
    """Set a unit's terminal quota (``*`` sets the default for every unit)."""
    _terminals(request).set_quota(unit, req.max_terminals, by=who.operator_id)
    return _terminals(request).quotas()


class NewOperatorRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=32)
    password: str | None = Field(default=None, min_length=12, max_length=1024)
    display_name: str | None = Field(default=None, max_length=200)
    pseudonym: str | None = Field(default=None, max_length=64)


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    password: str = Field(min_length=12, max_length=1024)


def _enrolment(done: NewOperator) -> dict[str, Any]:
    return {
        "id": done.operator_id,
        "role": done.role,
        "totp_secret": done.totp_secret,
        "totp_uri": done.totp_uri,
    }


@router.get("/operators")
def list_operators(request: Request, _: Operators) -> dict[str, Any]:
    return {"items": _accounts(request).listing()}


@router.post("/operators", status_code=201)
def add_operator(req: NewOperatorRequest, request: Request, _: Operators) -> dict[str, Any]:
    """Add an operator; the answer carries the TOTP secret once (enrol it in an app)."""
    done = _accounts(request).add(
        operator_id=req.id,
        role=req.role,
        password=req.password,
        display_name=req.display_name,
        pseudonym=req.pseudonym,
    )
    return _enrolment(done)


@router.post("/operators/{operator_id}/disable")
def disable_operator(operator_id: str, request: Request, _: Operators) -> dict[str, Any]:
    return _accounts(request).set_disabled(operator_id, True)


@router.post("/operators/{operator_id}/enable")
def enable_operator(operator_id: str, request: Request, _: Operators) -> dict[str, Any]:
    return _accounts(request).set_disabled(operator_id, False)


@router.post("/operators/{operator_id}/unlock")
def unlock_operator(operator_id: str, request: Request, _: Operators) -> dict[str, Any]:
    return _accounts(request).unlock(operator_id)


@router.post("/operators/{operator_id}/reset")
def reset_operator(
    operator_id: str, req: ResetRequest, request: Request, _: Operators
) -> dict[str, Any]:
    """A new password and TOTP secret; the operator's sessions end."""
    return _enrolment(_accounts(request).reset(operator_id, req.password))


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    operator: str = Field(min_length=1, max_length=64)
    terminal: str = Field(min_length=1, max_length=64)
    scopes: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=64
    )
    expires_in_s: int | None = Field(default=None, ge=60, le=366 * 86400)
    label: str | None = Field(default=None, max_length=200)


@router.get("/tokens")
def list_tokens(
    request: Request,
    _: Tokens,
    operator: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    return {"items": _accounts(request).tokens(operator)}


@router.post("/tokens", status_code=201)
def issue_token(req: TokenRequest, request: Request, _: Tokens) -> dict[str, Any]:
    """A scoped automation token bound to an approved terminal (shown once)."""
    done = _accounts(request).issue_token(
        operator_id=req.operator,
        terminal=req.terminal,
        scopes=req.scopes,
        expires_in_s=req.expires_in_s,
        label=req.label,
    )
    return {
        "id": done.id,
        "token": done.token,
        "operator": done.operator,
        "terminal": done.terminal,
        "scopes": list(done.scopes),
    }


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: str, request: Request, _: Tokens) -> dict[str, Any]:
    return {"revoked": _accounts(request).revoke_token(token_id)}
