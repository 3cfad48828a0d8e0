"""Live events as Server-Sent Events (``GET /api/v1/events``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from molink.api.deps import LOCATION_HEADER, RuntimeDep, authorize, bearer_token, get_access
from molink.core import authz
from molink.errors import MolinkError, NotAuthenticated

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["events"])
KEEPALIVE_S = 15.0
_REVOKED = b'event: revoked\ndata: {"kind": "revoked"}\n\n'


@router.get("/events")
async def events(
    request: Request,
    runtime: RuntimeDep,
    token: Annotated[str | None, Query(max_length=200)] = None,
    location: Annotated[str | None, Query(max_length=64, description="lat,lon")] = None,
) -> StreamingResponse:
    """New messages, deliveries, acknowledgements, alerts and link changes, as they happen.

    Browsers' EventSource cannot send headers, so the token may come as ``?token=`` (and
    a geofenced terminal's location as ``?location=lat,lon``).
    Needs ``events.read``. The stream re-checks its credential on every keepalive and
    at once when access is revoked anywhere on the node; once revoked it sends
    ``event: revoked`` and closes.
    """
    secret = bearer_token(request) or token
    if not secret:
        request.state.molink_action = "events.read"
        raise NotAuthenticated("send a bearer token (header or ?token=)")
    ctx = runtime.ctx
    location = request.headers.get(LOCATION_HEADER) or location
    await run_in_threadpool(
        lambda: authorize(request, "events.read", token=secret, location=location)
    )

    def _still_allowed() -> bool:
        """Revocation reaches open streams: re-check the credential and its terminal."""
        try:
            who = get_access(request).authenticate(secret, location)
        except MolinkError:
            return False
        return authz.check(who.role, who.scopes, "events.read").allowed

    async def stream() -> AsyncIterator[bytes]:
        yield b": molink event stream\n\n"
        async with ctx.events.subscribe() as queue:
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    if not await run_in_threadpool(_still_allowed):
                        yield _REVOKED
                        return
                    yield b": keepalive\n\n"
                    continue
                if event.kind == "access.revoked":
                    if not await run_in_threadpool(_still_allowed):
                        yield _REVOKED
                        return
                    continue
                data = json.dumps({"kind": event.kind, **event.data}, default=str)
                yield f"event: {event.kind}\ndata: {data}\n\n".encode()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
