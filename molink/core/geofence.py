"""Terminal geofences: a GeoJSON Polygon a terminal must report a location inside.

A geofence is an area on the lon/lat plane (RFC 7946 §3.1.6 Polygon, or MultiPolygon);
containment is planar and includes the boundary. Geofences must not cross the
antimeridian (split them into a MultiPolygon instead). A reported location is the
``X-Molink-Location`` header, ``"<lat>,<lon>"`` in decimal degrees (WGS84).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import shapely
import shapely.geometry

from molink.errors import InvalidInput

__all__ = ["MAX_VERTICES", "Geofence", "parse_geofence", "parse_location"]

MAX_VERTICES = 10_000


@dataclass(frozen=True, slots=True)
class Geofence:
    """A validated geofence. ``geojson`` is the normalised GeoJSON geometry."""

    geojson: Mapping[str, Any]
    _shape: Any

    def contains(self, lat: float, lon: float) -> bool:
        return bool(self._shape.covers(shapely.Point(lon, lat)))


def _position(value: Any) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) not in (2, 3):
        raise InvalidInput("geofence: a position is [lon, lat]")
    lon, lat = value[0], value[1]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lon, lat)):
        raise InvalidInput("geofence: coordinates must be numbers")
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidInput("geofence: coordinates must be finite")
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise InvalidInput("geofence: lon must be in [-180, 180] and lat in [-90, 90]")
    return float(lon), float(lat)


def _rings(value: Any) -> list[list[tuple[float, float]]]:
    if not isinstance(value, list) or not value:
        raise InvalidInput("geofence: a polygon is a non-empty list of rings")
    rings = []
    for ring in value:
        if not isinstance(ring, list) or len(ring) < 4:
            raise InvalidInput("geofence: a ring needs at least 4 positions")
        points = [_position(p) for p in ring]
        if points[0] != points[-1]:
            raise InvalidInput("geofence: a ring must be closed (first == last position)")
        rings.append(points)
    return rings


def parse_geofence(data: Any) -> Geofence:
    """Validate a GeoJSON Polygon or MultiPolygon geometry; raises ``InvalidInput``."""
    if not isinstance(data, Mapping):
        raise InvalidInput("geofence must be a GeoJSON geometry object")
    kind = data.get("type")
    coords = data.get("coordinates")
    if kind == "Polygon":
        polygons = [_rings(coords)]
    elif kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            raise InvalidInput("geofence: a MultiPolygon needs at least one polygon")
        polygons = [_rings(p) for p in coords]
    else:
        raise InvalidInput("geofence must be a GeoJSON Polygon or MultiPolygon")
    if sum(len(r) for p in polygons for r in p) > MAX_VERTICES:
        raise InvalidInput(f"geofence: at most {MAX_VERTICES} vertices")
    shape = shapely.MultiPolygon([shapely.Polygon(p[0], p[1:]) for p in polygons])
    if not shape.is_valid or shape.area <= 0:
        raise InvalidInput("geofence: the polygon is invalid (self-intersecting or empty)")
    geojson: dict[str, Any] = {
        "type": kind,
        "coordinates": (
            [[list(pt) for pt in r] for r in polygons[0]]
            if kind == "Polygon"
            else [[[list(pt) for pt in r] for r in p] for p in polygons]
        ),
    }
    shapely.prepare(shape)
    return Geofence(geojson=geojson, _shape=shape)


def parse_location(header: str) -> tuple[float, float]:
    """Parse ``"<lat>,<lon>"`` (decimal degrees) into ``(lat, lon)``."""
    parts = header.split(",")
    if len(parts) != 2 or len(header) > 64:
        raise InvalidInput("X-Molink-Location must be '<lat>,<lon>' in decimal degrees")
    try:
        lat, lon = float(parts[0].strip()), float(parts[1].strip())
    except ValueError as exc:
        raise InvalidInput("X-Molink-Location must be '<lat>,<lon>' in decimal degrees") from exc
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        raise InvalidInput("X-Molink-Location: lat must be in [-90, 90] and lon in [-180, 180]")
    return lat, lon
