"""Operator API: incidents (accounts side by side, timeline, RFEs, evidence files)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from molink.api.deps import RuntimeDep, require
from molink.core.precedence import Precedence
from molink.storage.operators import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
Reader = Annotated[Principal, require("incident.read")]
Filer = Annotated[Principal, require("incident.file")]


class FileIncident(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=300)
    precedence: str = "IMMEDIATE"
    account: dict[str, Any] = Field(
        description="time_start, time_end, location (GeoJSON), assets, narrative, attachments"
    )


class IncidentChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern=r"^incident\.(account|comment|status|rfe|rfe_reply)$")
    fields: dict[str, Any]


@router.get("")
def list_incidents(runtime: RuntimeDep, _: Reader) -> dict[str, Any]:
    return {"items": runtime.incidents.listing()}


@router.post("", status_code=201)
def file_incident(req: FileIncident, runtime: RuntimeDep, who: Filer) -> dict[str, Any]:
    """File an incident on a channel with this party's account."""
    return runtime.incidents.file(
        channel=req.channel,
        title=req.title,
        precedence=Precedence.parse(req.precedence),
        account=req.account,
        operator=who.pseudonym,
    )


@router.get("/{incident_id}")
def get_incident(incident_id: str, runtime: RuntimeDep, _: Reader) -> dict[str, Any]:
    """The incident with every party's latest account side by side."""
    return runtime.incidents.view(incident_id)


@router.post("/{incident_id}/events")
def change_incident(
    incident_id: str, req: IncidentChange, runtime: RuntimeDep, who: Filer
) -> dict[str, Any]:
    """Add our account, a comment, a status change, a request for explanation or a reply."""
    return runtime.incidents.add(incident_id, req.type, req.fields, operator=who.pseudonym)


@router.get("/{incident_id}/timeline")
def timeline(incident_id: str, runtime: RuntimeDep, _: Reader) -> dict[str, Any]:
    return {"items": runtime.incidents.timeline(incident_id)}


@router.post("/attachments", status_code=201)
async def upload(
    request: Request,
    runtime: RuntimeDep,
    _: Filer,
    x_filename: Annotated[str, Header(max_length=200)],
    content_type: Annotated[str, Header()] = "application/octet-stream",
    x_incident: Annotated[str | None, Header(max_length=36)] = None,
) -> dict[str, Any]:
    """Store an evidence file encrypted; returns the reference to put in an account."""
    data = await request.body()
    result: dict[str, Any] = await run_in_threadpool(
        lambda: runtime.incidents.store_attachment(
            data, name=x_filename, media_type=content_type, incident_id=x_incident
        )
    )
    return result


@router.get("/attachments/{sha256}")
def download(sha256: str, runtime: RuntimeDep, _: Reader) -> Response:
    data, name, media_type = runtime.incidents.read_attachment(sha256)
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
