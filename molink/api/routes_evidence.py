"""Operator API: evidence bundles (DESIGN.md "Log and proof")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from molink.api.deps import RuntimeDep, require
from molink.core.dtg import format_utc, parse_utc
from molink.services.evidence import MAX_EXPORT_OBJECTS, EvidenceService
from molink.storage.operators import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/evidence", tags=["evidence"])


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    ids: list[Annotated[str, Field(min_length=36, max_length=36)]] | None = Field(
        default=None, max_length=MAX_EXPORT_OBJECTS
    )
    since: str | None = Field(default=None, max_length=40)
    until: str | None = Field(default=None, max_length=40)


@router.post(
    "/export",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "The bundle."}},
)
async def export(
    req: ExportRequest,
    runtime: RuntimeDep,
    _: Annotated[Principal, require("evidence.export")],
) -> Response:
    """An evidence bundle (zip) for message ids and/or a creation-time range [since, until)."""
    since = parse_utc(req.since) if req.since else None
    until = parse_utc(req.until) if req.until else None
    service = EvidenceService(runtime.ctx, runtime.log, runtime.transport)
    data = await service.export(message_ids=req.ids, since=since, until=until)
    stamp = format_utc(runtime.ctx.clock.now()).replace(":", "").replace(".", "")
    name = f"evidence-{runtime.ctx.party}-{stamp}.zip"
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
