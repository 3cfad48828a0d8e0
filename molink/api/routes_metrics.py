"""Prometheus metrics (``GET /metrics``): queues, delivery latency, links, log size.

Needs ``status.read``: queue depths and link states tell a watcher about traffic, so
Prometheus scrapes with a bearer token (an API token scoped to ``status.read``, see
docs/operations.md "Monitoring").
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from molink.api.deps import RuntimeDep, require
from molink.services.metrics import CONTENT_TYPE
from molink.storage.operators import Principal

__all__ = ["router"]

router = APIRouter(tags=["status"])


@router.get("/metrics", response_class=Response)
async def metrics(runtime: RuntimeDep, _: Annotated[Principal, require("status.read")]) -> Response:
    """The node's metrics in the Prometheus text format."""
    return Response(await run_in_threadpool(runtime.metrics.render), media_type=CONTENT_TYPE)
