"""Request dependencies: the runtime, the authenticated operator, the signing peer."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from molink.core.httpsig import parse_signature_input, verify_request
from molink.errors import NotAuthenticated
from molink.services.runtime import NodeRuntime
from molink.storage.operators import OperatorRepo, Principal

__all__ = ["OperatorDep", "RuntimeDep", "authenticate_peer", "get_runtime"]


def get_runtime(request: Request) -> NodeRuntime:
    runtime: NodeRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[NodeRuntime, Depends(get_runtime)]


def current_operator(request: Request, runtime: RuntimeDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("send 'Authorization: Bearer <token>'")
    ctx = runtime.ctx
    with ctx.db.read() as conn:
        return OperatorRepo.authenticate(conn, token.strip(), ctx.now_us())


OperatorDep = Annotated[Principal, Depends(current_operator)]


async def authenticate_peer(request: Request, runtime: NodeRuntime) -> tuple[str, bytes]:
    """Verify the RFC 9421 signature of a federation request; returns (party, body).

    Unknown keys are refused before the body is read.
    """
    params = parse_signature_input(request.headers)
    ctx = runtime.ctx
    try:
        key = ctx.directory().by_kid(params.keyid)
    except Exception:
        key = ctx.directory(refresh=True).by_kid(params.keyid)
    body = await request.body()
    verify_request(
        key.sig_public,
        method=request.method,
        path=request.url.path,
        headers=request.headers,
        body=body,
        now=ctx.clock.now(),
        max_skew_s=int(ctx.max_skew.total_seconds()),
    )
    return key.party, body
