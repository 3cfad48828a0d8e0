"""Federation endpoints: what peer nodes call (RFC 9421-signed requests only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from molink.api.deps import RuntimeDep, authenticate_peer
from molink.core.canonical import parse_json
from molink.errors import InvalidInput, MalformedData

__all__ = ["MAX_BATCH", "router"]

router = APIRouter(prefix="/federation/v1", tags=["federation"])
MAX_BATCH = 256


@router.get("/keys")
def keys(runtime: RuntimeDep) -> dict[str, Any]:
    """The party's public JWKS: the Ed25519 signing key and the X25519 encryption key."""
    return runtime.ctx.keys.public.jwks()


@router.get("/ping")
async def ping(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    party, _ = await authenticate_peer(request, runtime)
    return {"party": runtime.ctx.party, "peer": party, "time": runtime.ctx.clock.now().isoformat()}


@router.post("/envelopes")
async def envelopes(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Receive a batch of sealed envelopes; answers one result (receipt or error) each."""
    _party, body = await authenticate_peer(request, runtime)
    data = parse_json(body)
    batch = data.get("envelopes") if isinstance(data, dict) else None
    if not isinstance(batch, list) or not all(isinstance(e, dict) for e in batch):
        raise MalformedData('body must be {"envelopes": [ {...}, ... ]}')
    if len(batch) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} envelopes per batch")
    if await request.is_disconnected():
        # The sender gave up waiting (its request timed out while this node was frozen
        # or overloaded) and counts the batch as failed: it sends it again, in precedence
        # order with what has queued since. Storing it now would let a stale ROUTINE
        # jump ahead of that backlog's FLASH; nothing is lost by not storing it.
        return {"results": []}
    results = await run_in_threadpool(runtime.inbound.receive, batch)
    return {"results": [r.to_json() for r in results]}


@router.post("/relay")
async def relay(request: Request, runtime: RuntimeDep) -> Response:
    """Forward a peer's sealed envelopes to another party (mediator nodes)."""
    party, body = await authenticate_peer(request, runtime)
    status, answer = await runtime.relay.forward(party, parse_json(body))
    return Response(answer, status_code=status, media_type="application/json")
