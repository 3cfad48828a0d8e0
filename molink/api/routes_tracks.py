"""Operator API: live tracks (``POST /api/v1/tracks`` is a contract) and exports of volumes,
sites, conflicts, alerts and tracks as GeoJSON, KML and CoT."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic_core import from_json
from starlette.concurrency import run_in_threadpool

from molink.api.deps import RuntimeDep, require
from molink.core.track_input import parse_points
from molink.errors import InvalidInput
from molink.services.export import FORMATS, WHAT
from molink.storage.operators import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["tracks"])
Reader = Annotated[Principal, require("notification.read")]
Submitter = Annotated[Principal, require("track.submit")]


@router.post(
    "/tracks",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["points"],
                        "properties": {
                            "points": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["track_id", "time", "lat", "lon", "alt_m"],
                                },
                            },
                            "party": {"type": "string", "description": "attributed party"},
                        },
                    }
                }
            },
        }
    },
)
async def submit_tracks(request: Request, runtime: RuntimeDep, who: Submitter) -> JSONResponse:
    """Track points ``{"points": [{"track_id", "time", "lat", "lon", "alt_m"}...]}``, with an
    optional ``party`` the tracks are attributed to (default: this node's party). Intrusions
    into protected zones, other parties' active volumes and national boundaries are alerted
    before the answer, which lists them."""
    body = await request.body()

    def work() -> dict[str, Any]:
        try:
            # pydantic-core's parser (FastAPI's own dependency): the same values as json.loads
            # for any JSON text, three times faster on a batch; refuses lone surrogates
            doc = from_json(body)
        except ValueError as exc:
            raise InvalidInput("body: not JSON") from exc
        cols = parse_points(doc)
        party = doc.get("party")
        if party is not None and (not isinstance(party, str) or not 0 < len(party) <= 16):
            raise InvalidInput("party: a party code")
        return runtime.tracks.ingest(
            cols,
            party=party,
            source="api",
            digest=hashlib.sha256(body).hexdigest(),
            operator=who.pseudonym,
        )

    result: dict[str, Any] = await run_in_threadpool(work)
    return JSONResponse(result)  # plain JSON values: no need for FastAPI's encoder


@router.get("/tracks")
def list_tracks(runtime: RuntimeDep, _: Reader) -> dict[str, Any]:
    """Recent tracks as GeoJSON LineStrings (one time per vertex in ``properties.times``)."""
    return {"type": "FeatureCollection", "features": runtime.exporter.features("tracks")}


@router.get("/tracks/status")
def track_status(runtime: RuntimeDep, _: Reader) -> dict[str, Any]:
    """Ingest counters, and the CoT listener's (accepted, refused, connections)."""
    cot = runtime.cot
    return {
        **runtime.tracks.counters,
        "cot": None if cot is None else {"port": cot.port, **cot.stats.to_json()},
    }


@router.get("/export/{name}")
def export(name: str, runtime: RuntimeDep, _: Reader) -> Response:
    """``{what}.{format}``: what is volumes, sites, conflicts, alerts or tracks; format is
    geojson, kml or cot (a stream of CoT events, one per line)."""
    what, _sep, fmt = name.partition(".")
    if what not in WHAT or fmt not in FORMATS:
        raise InvalidInput(f"export: {{{'|'.join(WHAT)}}}.{{{'|'.join(FORMATS)}}}")
    body, media = runtime.exporter.export(what, fmt)
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="molink-{what}.{fmt}"'},
    )
