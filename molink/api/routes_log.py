"""The log's read endpoints (C2SP tlog-tiles under ``/log``) and the witness endpoint."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from molink.api.deps import RuntimeDep, authenticate_peer, authorize
from molink.api.problems import problem_response
from molink.core.witness import OldSizeMismatch, format_size_conflict
from molink.errors import Equivocation, NotAuthenticated

__all__ = ["router"]

router = APIRouter(tags=["log"])
_IMMUTABLE = "public, max-age=31536000, immutable"


async def _reader(request: Request, runtime: RuntimeDep) -> None:
    """Log reads accept an operator's bearer token or a signed peer request."""
    if request.headers.get("signature-input"):
        await authenticate_peer(request, runtime)
        return
    if not request.headers.get("authorization"):
        raise NotAuthenticated("send a bearer token or a signed peer request")
    await run_in_threadpool(authorize, request, "log.read")


@router.get("/log/checkpoint", response_class=PlainTextResponse)
async def checkpoint(request: Request, runtime: RuntimeDep) -> PlainTextResponse:
    """The latest signed checkpoint (C2SP tlog-checkpoint) with the peers' cosignatures."""
    await _reader(request, runtime)
    note = await run_in_threadpool(runtime.log.checkpoint_note)
    return PlainTextResponse(note, headers={"Cache-Control": "no-cache"})


@router.get("/log/tile/{path:path}")
async def tile(path: str, request: Request, runtime: RuntimeDep) -> Response:
    """A hash tile or an entry bundle (C2SP tlog-tiles, height 8)."""
    await _reader(request, runtime)
    cached = runtime.log.cached_tile(f"tile/{path}")  # no worker-thread hop for a hit
    if cached is not None:
        content, immutable = cached, True
    else:
        content, immutable = await run_in_threadpool(runtime.log.tile, f"tile/{path}")
    return Response(
        content,
        media_type="application/octet-stream",
        headers={"Cache-Control": _IMMUTABLE if immutable else "no-cache"},
    )


@router.get("/api/v1/log")
async def log_status(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Log size, latest checkpoint, witnesses that cosigned, logs this node witnesses."""
    await run_in_threadpool(authorize, request, "log.read")
    view = await run_in_threadpool(runtime.log.status)
    view["witnessing"] = await run_in_threadpool(runtime.witness.witnessed_view)
    view["witness_vkey"] = runtime.witness.vkey
    return view


@router.post("/federation/v1/witness/add-checkpoint")
async def add_checkpoint(request: Request, runtime: RuntimeDep) -> Response:
    """C2SP tlog-witness ``add-checkpoint``, for pinned peers only."""
    _party, body = await authenticate_peer(request, runtime)
    try:
        answer = await run_in_threadpool(runtime.witness.add_checkpoint, body)
    except OldSizeMismatch as exc:
        return Response(
            format_size_conflict(exc.known_size), status_code=409, media_type="text/x.tlog.size"
        )
    except Equivocation as exc:
        status = 409 if exc.evidence.get("reason") == "same-size-different-root" else 422
        return problem_response(
            status, exc.code, "Equivocation", exc.message, evidence=exc.evidence
        )
    return Response(answer, media_type="text/plain; charset=utf-8")
