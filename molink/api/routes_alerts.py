"""Operator API: alerts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from molink.api.deps import RuntimeDep, require
from molink.core.dtg import parse_utc
from molink.storage.db import micros
from molink.storage.operators import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["alerts"])


@router.get("/alerts")
def alerts(
    runtime: RuntimeDep,
    _: Annotated[Principal, require("alert.read")],
    since: Annotated[str | None, Query(max_length=40)] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Alerts since an ISO 8601 time: conflict, intrusion, equivocation, overdue, link."""
    since_us = micros(parse_utc(since)) if since else 0
    return runtime.alerts.listing(since_us, limit, kind)
