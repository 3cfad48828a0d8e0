"""``molink tracks ...``: submit recorded tracks to the running node.

* ``tracks import FILE [--party RU] [--batch 1000]``: a CSV file (header naming
  ``track_id,time,lat,lon,alt_m``) or a GeoJSON FeatureCollection (Point features with
  ``properties.track_id`` and ``time``, or LineStrings with ``properties.times``, as
  ``GET /api/v1/export/tracks.geojson`` writes them). The file is validated here first, then
  posted to ``POST /api/v1/tracks`` in batches; intrusions are printed as the node reports
  them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from molink.cli.client import NodeClient
from molink.core.track_input import MAX_POINTS, PointColumns, parse_csv, parse_geojson
from molink.errors import InvalidInput

__all__ = ["read_tracks", "tracks_app"]

tracks_app = typer.Typer(help="Live tracks: import recorded tracks.", no_args_is_help=True)
console = Console()

DirOpt = Annotated[Path, typer.Option("--dir", "-d", help="The node's folder.")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="Bearer token (or MOLINK_TOKEN).")]
_MAX_FILE = 200 * 1024 * 1024


def read_tracks(path: Path, fmt: str = "auto") -> PointColumns:
    """Read a CSV or GeoJSON track file (``fmt``: auto, csv or geojson)."""
    try:
        if path.stat().st_size > _MAX_FILE:
            raise InvalidInput(f"{path}: larger than {_MAX_FILE // 1024 // 1024} MiB")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read ({exc})") from exc
    if fmt == "auto":
        fmt = "geojson" if path.suffix.lower() in (".json", ".geojson") else "csv"
    if fmt == "csv":
        return parse_csv(text)
    if fmt != "geojson":
        raise InvalidInput("--format: auto, csv or geojson")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{path}: not JSON") from exc
    return parse_geojson(doc)


@tracks_app.command("import")
def import_tracks(
    file: Annotated[Path, typer.Argument(help="CSV or GeoJSON file of track points.")],
    directory: DirOpt = Path(),
    token: TokenOpt = None,
    party: Annotated[
        str | None, typer.Option(help="Party the tracks are attributed to (default: ours).")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, max=MAX_POINTS, help="Points per request.")] = 1000,
    fmt: Annotated[str, typer.Option("--format", help="auto, csv or geojson.")] = "auto",
) -> None:
    """Submit a recorded track file; print the intrusions the node alerted."""
    cols = read_tracks(file, fmt)
    rows = cols.rows()
    client = NodeClient(directory, token=token)
    intrusions: list[dict[str, Any]] = []
    try:
        for i in range(0, len(rows), batch):
            body: dict[str, Any] = {"points": rows[i : i + batch]}
            if party:
                body["party"] = party
            answer = client.call("POST", "/api/v1/tracks", json=body)
            intrusions += answer.get("intrusions", [])
    finally:
        client.close()
    console.print(f"{len(rows)} points from {file} submitted; {len(intrusions)} intrusion(s)")
    for item in intrusions:
        console.print(
            f"  {item['time']}  track {item['track_id']} ({item['party']}) entered "
            f"{item['target_kind']} {item['target_name']}"
        )
