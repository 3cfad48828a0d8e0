"""Console login and terminal enrolment (``docs/roles.md`` "Login contract").

* ``POST /api/v1/terminals``: a terminal enrols its Ed25519 public key (unauthenticated,
  rate-limited); it stays ``pending`` until an administrator approves it.
* ``POST /api/v1/session/challenge``: a one-time challenge for an approved terminal.
* ``POST /api/v1/session``: operator, password, TOTP, terminal, challenge and the
  terminal's signature; answers a session token bound to the terminal.
* ``GET /api/v1/session``: who am I, and what may I do.
* ``DELETE /api/v1/session``: log out (revokes the presented token).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from molink.api.deps import LOCATION_HEADER, bearer_token, get_access, require, source_of
from molink.core import authz
from molink.services.registry import TerminalService
from molink.storage.operators import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["session"])


class EnrolRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    public_key: str = Field(min_length=43, max_length=43, description="raw Ed25519, base64url")
    kind: str = Field(pattern="^(console|cli|automation)$")
    unit: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=200)
    proof: str = Field(min_length=86, max_length=86, description="signature, base64url")


class ChallengeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    terminal: str = Field(min_length=1, max_length=64)


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    operator: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    totp: str = Field(min_length=1, max_length=16)
    terminal: str = Field(min_length=1, max_length=64)
    challenge: str = Field(min_length=1, max_length=64)
    signature: str = Field(min_length=1, max_length=128)


@router.post("/terminals", status_code=202)
def enrol(req: EnrolRequest, request: Request) -> dict[str, Any]:
    """Enrol a terminal (pending until an administrator approves it)."""
    request.state.molink_action = "terminal.enrol"
    access = get_access(request)
    access.throttle(source_of(request))
    view = TerminalService(request.app.state.runtime.ctx).enrol(
        public_key=req.public_key, kind=req.kind, unit=req.unit, label=req.label, proof=req.proof
    )
    request.state.molink_claimed = (None, view["id"])
    return view


@router.post("/session/challenge", status_code=201)
def challenge(req: ChallengeRequest, request: Request) -> dict[str, Any]:
    """A one-time login challenge for an approved terminal (valid two minutes)."""
    request.state.molink_action = "session.challenge"
    request.state.molink_claimed = (None, req.terminal)
    access = get_access(request)
    access.throttle(source_of(request))
    return access.challenge(req.terminal)


@router.post("/session", status_code=201)
async def login(req: LoginRequest, request: Request) -> dict[str, Any]:
    """Log in: password + TOTP + the terminal's signature over the challenge."""
    request.state.molink_action = "session.login"
    request.state.molink_claimed = (req.operator, req.terminal)
    access = get_access(request)
    access.throttle(source_of(request))
    answer: dict[str, Any] = await run_in_threadpool(
        lambda: access.login(
            operator=req.operator,
            password=req.password,
            totp=req.totp,
            terminal=req.terminal,
            challenge=req.challenge,
            signature=req.signature,
            location=request.headers.get(LOCATION_HEADER),
        )
    )
    request.state.molink_principal = Principal(  # for the audit trail
        operator_id=answer["operator"],
        pseudonym=answer["operator"],
        role=answer["role"],
        terminal=answer["terminal"],
        scopes=("*",),
        kind="session",
    )
    return answer


@router.get("/session")
def whoami(who: Annotated[Principal, require("session.manage")]) -> dict[str, Any]:
    """The operator behind this credential, and the actions it may perform."""
    granted = [a for a in authz.ACTIONS if authz.check(who.role, who.scopes, a).allowed]
    return {
        "operator": who.operator_id,
        "pseudonym": who.pseudonym,
        "role": who.role,
        "terminal": who.terminal,
        "kind": who.kind,
        "scopes": list(who.scopes),
        "permissions": sorted(granted),
    }


@router.delete("/session")
def logout(
    request: Request, who: Annotated[Principal, require("session.manage")]
) -> dict[str, Any]:
    """End this session (or revoke this token): it stops working at once."""
    token = bearer_token(request)
    if token is not None:
        get_access(request).logout(token)
    return {"ended": who.token_id}
