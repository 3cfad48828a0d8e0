"""Live events as Server-Sent Events (``GET /api/v1/events``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from molink.api.deps import RuntimeDep
from molink.errors import NotAuthenticated
from molink.storage.operators import OperatorRepo

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["events"])
KEEPALIVE_S = 15.0


@router.get("/events")
async def events(
    request: Request,
    runtime: RuntimeDep,
    token: Annotated[str | None, Query(max_length=200)] = None,
) -> StreamingResponse:
    """New messages, deliveries, acknowledgements, alerts and link changes, as they happen.

    Browsers' EventSource cannot send headers, so the token may come as ``?token=``.
    """
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
    secret = bearer or token
    if not secret:
        raise NotAuthenticated("send a bearer token (header or ?token=)")
    ctx = runtime.ctx

    def _auth() -> None:
        with ctx.db.read() as conn:
            OperatorRepo.authenticate(conn, secret, ctx.now_us())

    await run_in_threadpool(_auth)

    async def stream() -> AsyncIterator[bytes]:
        yield b": molink event stream\n\n"
        async with ctx.events.subscribe() as queue:
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield b": keepalive\n\n"
                    continue
                data = json.dumps({"kind": event.kind, **event.data}, default=str)
                yield f"event: {event.kind}\ndata: {data}\n\n".encode()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
