"""Operator API: the offline courier (export pending envelopes, import a courier file)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from molink.api.deps import RuntimeDep, require
from molink.storage.operators import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/courier", tags=["courier"])


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    peer: str = Field(min_length=2, max_length=16)


@router.post("/export")
def export(
    req: ExportRequest, runtime: RuntimeDep, _: Annotated[Principal, require("courier.export")]
) -> Response:
    """A courier file with every envelope pending for ``peer`` and the receipts owed to it."""
    data = runtime.courier.export_for(req.peer)
    return Response(
        data,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="courier-{runtime.ctx.party}-to-'
            f'{req.peer}.json"'
        },
    )


@router.post("/import")
async def import_file(
    request: Request, runtime: RuntimeDep, _: Annotated[Principal, require("courier.import")]
) -> dict[str, Any]:
    """Ingest a courier file: same verification and receipts as the network path."""
    body = await request.body()
    result: dict[str, Any] = await run_in_threadpool(runtime.courier.import_file, body)
    runtime.outbox.wake()
    return result
