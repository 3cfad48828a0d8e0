"""Operator API: node status, links and alerts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from molink.api.deps import RuntimeDep, require
from molink.core.precedence import Precedence
from molink.storage.operators import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["status"])
_RANKS = {p.rank: p.value for p in Precedence}


@router.get("/status")
def status(runtime: RuntimeDep, _: Annotated[Principal, require("status.read")]) -> dict[str, Any]:
    """Links (up/degraded/down, RTT, last contact) and queue depth by precedence."""
    ctx = runtime.ctx
    with ctx.db.read() as conn:
        pending = ctx.messages.pending_counts(conn)
        log_size = ctx.log.size(conn)
    links = []
    for party, link in sorted(runtime.outbox.links.items()):
        queue = {_RANKS[rank]: n for rank, n in sorted(pending.get(party, {}).items())}
        links.append({**link.state.to_json(), "queue": queue, "queued_total": sum(queue.values())})
    return {"party": ctx.party, "log_origin": ctx.log_origin, "log_size": log_size, "links": links}


@router.get("/health")
def health(runtime: RuntimeDep) -> dict[str, Any]:
    return {"status": "ok", "party": runtime.ctx.party}
