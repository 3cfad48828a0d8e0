"""The audit trail, for auditors and administrators (``GET /api/v1/audit``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from molink.api.deps import require
from molink.core.dtg import parse_utc
from molink.services.audit import AuditService
from molink.storage.audit import AuditFilter
from molink.storage.db import micros
from molink.storage.operators import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get("/audit")
def audit(
    request: Request,
    _: Annotated[Principal, require("audit.read")],
    operator: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64, description="e.g. message.send")] = None,
    outcome: Annotated[str | None, Query(pattern="^(ok|refused|failed)$")] = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """Attempts oldest first: who, role, terminal, action, target, outcome, status, detail."""
    filt = AuditFilter(
        operator=operator,
        action=action,
        outcome=outcome,
        since_us=micros(parse_utc(since)) if since else None,
        until_us=micros(parse_utc(until)) if until else None,
    )
    return AuditService(request.app.state.runtime.ctx).listing(filt, limit=limit, cursor=cursor)
