"""Track points as submitted: ``{"points": [{"track_id", "time", "lat", "lon", "alt_m"}...]}``
(the ``POST /api/v1/tracks`` contract), CSV rows or GeoJSON Point features, into columns.

Pure. ``time`` is an ISO 8601 time with an offset or epoch seconds; ``lat``/``lon`` are WGS84
degrees; ``alt_m`` is metres above mean sea level. Errors are ``InvalidInput`` naming the
point and field (``points[12].lat``); a parser never leaks ``ValueError``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from molink.errors import InvalidInput, OversizedInput

__all__ = ["MAX_POINTS", "PointColumns", "parse_csv", "parse_geojson", "parse_points"]

MAX_POINTS = 20_000
_MAX_ID = 64
_ALT_RANGE = (-1_000.0, 100_000.0)
_TIME_RANGE = (0, 4_102_444_800)  # 1970 to 2100


@dataclass(frozen=True, slots=True, eq=False)
class PointColumns:
    """A batch of points as columns; ``track`` holds the submitted track ids (strings)."""

    track: list[str]
    time: NDArray[np.int64]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    alt_m: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.track)

    def rows(self) -> list[dict[str, Any]]:
        """The points back as JSON objects (epoch seconds)."""
        return [
            {"track_id": k, "time": t, "lat": la, "lon": lo, "alt_m": a}
            for k, t, la, lo, a in zip(
                self.track,
                self.time.tolist(),
                self.lat.tolist(),
                self.lon.tolist(),
                self.alt_m.tolist(),
                strict=True,
            )
        ]


def _time(value: object, where: str) -> int:
    kind = type(value)
    if kind is str:
        text = str(value)
        if len(text) > 40:
            raise InvalidInput(f"{where}: not an ISO 8601 time")
        try:
            when = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidInput(f"{where}: not an ISO 8601 time: {text!r}") from exc
        if when.tzinfo is None:
            raise InvalidInput(f"{where}: {text!r} has no UTC offset; write it with Z")
        try:
            return math.floor(when.timestamp())
        except (OverflowError, OSError, ValueError) as exc:
            raise InvalidInput(f"{where}: out of range") from exc
    if kind is int or kind is float:
        number = float(value)  # type: ignore[arg-type]
        if not math.isfinite(number):
            raise InvalidInput(f"{where}: must be finite")
        return math.floor(number)
    raise InvalidInput(f"{where}: an ISO 8601 time or epoch seconds")


def _track(value: object, where: str) -> str:
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str and 0 < len(str(value)) <= _MAX_ID:
        return str(value)
    raise InvalidInput(f"{where}: a string of 1 to {_MAX_ID} characters, or an integer")


def _number(value: object, where: str) -> float:
    kind = type(value)
    if kind is float or kind is int:
        return float(value)  # type: ignore[arg-type]
    raise InvalidInput(f"{where}: expected a number")


def _columns(
    track: list[str],
    time: list[int] | NDArray[np.int64],
    lat: list[float],
    lon: list[float],
    alt: list[float],
    label: str,
) -> PointColumns:
    out = PointColumns(
        track,
        np.asarray(time, dtype=np.int64),
        np.asarray(lat, dtype=np.float64),
        np.asarray(lon, dtype=np.float64),
        np.asarray(alt, dtype=np.float64),
    )
    checks = (
        ("lat", ~((out.lat >= -90.0) & (out.lat <= 90.0))),
        ("lon", ~((out.lon >= -180.0) & (out.lon <= 180.0))),
        ("alt_m", ~((out.alt_m >= _ALT_RANGE[0]) & (out.alt_m <= _ALT_RANGE[1]))),
        ("time", ~((out.time >= _TIME_RANGE[0]) & (out.time < _TIME_RANGE[1]))),
    )
    for name, bad in checks:
        where = np.flatnonzero(bad)
        if len(where):
            raise InvalidInput(f"{label}[{int(where[0])}].{name}: out of range")
    return out


def parse_points(doc: object) -> PointColumns:
    """Validate ``{"points": [...]}``. Raises InvalidInput naming the first bad field."""
    if not isinstance(doc, Mapping):
        raise InvalidInput("body: expected an object with 'points'")
    points = doc.get("points")
    if not isinstance(points, list):
        raise InvalidInput("points: expected an array")
    return _parse_list(points, "points")


def _parse_list(points: Sequence[object], label: str) -> PointColumns:
    n = len(points)
    if n > MAX_POINTS:
        raise OversizedInput(f"{label}: more than {MAX_POINTS} points in one batch")
    fast = _fast_columns(points, label)
    return fast if fast is not None else _slow_columns(points, label)


def _slow_columns(points: Sequence[object], label: str) -> PointColumns:
    """Point by point: the reference path, which names the first bad field."""
    n = len(points)
    track: list[str] = [""] * n
    time = [0] * n
    lat = [0.0] * n
    lon = [0.0] * n
    alt = [0.0] * n
    for i, p in enumerate(points):
        if type(p) is not dict:
            raise InvalidInput(f"{label}[{i}]: expected an object")
        try:
            track[i] = _track(p["track_id"], f"{label}[{i}].track_id")
            time[i] = _time(p["time"], f"{label}[{i}].time")
            lat[i] = _number(p["lat"], f"{label}[{i}].lat")
            lon[i] = _number(p["lon"], f"{label}[{i}].lon")
            alt[i] = _number(p["alt_m"], f"{label}[{i}].alt_m")
        except KeyError as exc:
            raise InvalidInput(f"{label}[{i}].{exc.args[0]}: missing") from exc
    return _columns(track, time, lat, lon, alt, label)


_NUMBERS = frozenset({int, float})


def _fast_columns(points: Sequence[object], label: str) -> PointColumns | None:
    """The common case column by column (C loops); None when any value needs a closer look,
    and the point-by-point path then finds and names it. Same results as that path."""
    try:
        track = [p["track_id"] for p in points]  # type: ignore[index]
        times = [p["time"] for p in points]  # type: ignore[index]
        lat = [p["lat"] for p in points]  # type: ignore[index]
        lon = [p["lon"] for p in points]  # type: ignore[index]
        alt = [p["alt_m"] for p in points]  # type: ignore[index]
    except (KeyError, TypeError, IndexError):
        return None
    if set(map(type, points)) - {dict}:
        return None
    if (
        set(map(type, track)) != {str}
        or not 0 < min(map(len, track), default=1) <= max(map(len, track), default=1) <= _MAX_ID
    ):
        if set(map(type, track)) - {str, int}:
            return None
        if any(type(t) is str and not 0 < len(t) <= _MAX_ID for t in track):
            return None
        track = [str(t) for t in track]
    for column in (lat, lon, alt):
        if set(map(type, column)) - _NUMBERS:
            return None
    kinds = set(map(type, times))
    if kinds <= _NUMBERS:
        t = np.asarray(times, dtype=np.float64)
        if not np.isfinite(t).all():
            return None
        stamps: list[int] | NDArray[np.int64] = np.floor(t).astype(np.int64)
    elif kinds == {str}:
        cache: dict[str, int] = {}
        try:
            stamps = [cache[x] if x in cache else cache.setdefault(x, _time(x, "")) for x in times]
        except InvalidInput:
            return None
    else:
        return None
    return _columns(track, stamps, lat, lon, alt, label)


def parse_csv(text: str) -> PointColumns:
    """CSV with a header naming ``track_id,time,lat,lon,alt_m`` (any order; more columns are
    ignored). Errors name the row as ``rows[i]`` (0 is the first data row)."""
    reader = csv.DictReader(io.StringIO(text))
    need = {"track_id", "time", "lat", "lon", "alt_m"}
    missing = sorted(need - set(reader.fieldnames or ()))
    if missing:
        raise InvalidInput(f"header: missing column(s) {', '.join(missing)}")
    rows: list[object] = []
    try:
        for i, row in enumerate(reader):
            rows.append(
                {
                    "track_id": row["track_id"],
                    "time": _csv_time(row["time"]),
                    "lat": _csv_number(row["lat"], f"rows[{i}].lat"),
                    "lon": _csv_number(row["lon"], f"rows[{i}].lon"),
                    "alt_m": _csv_number(row["alt_m"], f"rows[{i}].alt_m"),
                }
            )
    except csv.Error as exc:
        raise InvalidInput(f"csv: {exc}") from exc
    return _parse_list(rows, "rows")


def _csv_time(text: str | None) -> object:
    text = (text or "").strip()
    return float(text) if text.replace(".", "", 1).isdigit() else text


def _csv_number(text: str | None, where: str) -> float:
    try:
        value = float((text or "").strip())
    except ValueError as exc:
        raise InvalidInput(f"{where}: expected a number") from exc
    if not math.isfinite(value):
        raise InvalidInput(f"{where}: must be finite")
    return value


def parse_geojson(doc: object) -> PointColumns:
    """A FeatureCollection of Point features (``properties.track_id``, ``properties.time``,
    altitude as the third coordinate or ``properties.alt_m``) or of LineString features
    whose ``properties.times`` gives each vertex's time."""
    if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection":
        raise InvalidInput("type: expected a GeoJSON FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list):
        raise InvalidInput("features: expected an array")
    rows: list[object] = []
    for i, feat in enumerate(features):
        rows.extend(_feature_rows(feat, f"features[{i}]"))
    return _parse_list(rows, "points")


def _feature_rows(feat: object, where: str) -> list[dict[str, Any]]:
    if not isinstance(feat, Mapping):
        raise InvalidInput(f"{where}: expected a Feature")
    geom, props = feat.get("geometry"), feat.get("properties")
    if not isinstance(geom, Mapping) or not isinstance(props, Mapping):
        raise InvalidInput(f"{where}: needs a geometry and properties")
    track = props.get("track_id", feat.get("id"))
    coords = geom.get("coordinates")
    positions: Any
    times: Any
    if geom.get("type") == "Point":
        positions, times = [coords], [props.get("time")]
    elif geom.get("type") == "LineString":
        positions, times = coords, props.get("times")
        if not isinstance(positions, list) or not isinstance(times, list):
            raise InvalidInput(f"{where}.properties.times: one time per vertex")
        if len(times) != len(positions):
            raise InvalidInput(f"{where}.properties.times: one time per vertex")
    else:
        raise InvalidInput(f"{where}.geometry.type: Point or LineString")
    out = []
    for k, (pos, when) in enumerate(zip(positions, times, strict=True)):
        if not isinstance(pos, list) or len(pos) not in (2, 3):
            raise InvalidInput(f"{where}.geometry.coordinates[{k}]: [lon, lat] or [lon, lat, alt]")
        alt = pos[2] if len(pos) == 3 else props.get("alt_m", 0.0)
        out.append({"track_id": track, "time": when, "lat": pos[1], "lon": pos[0], "alt_m": alt})
    return out
