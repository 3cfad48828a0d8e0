"""4-D volumes: a footprint, an altitude band (metres AMSL) and a time window.

A footprint is one of:

* ``Disc``: a Point plus ``radius_m``, the true geodesic disc (never a buffered polygon);
* ``Corridor``: a LineString plus ``width_m``, every point within ``width_m / 2`` of the line;
* ``Area``: a Polygon or MultiPolygon whose edges are geodesics.

Parsing GeoJSON (RFC 7946) raises ``InvalidInput`` naming the bad field, e.g.
``geometry.coordinates[0][3]: latitude 91.0 is outside [-90, 90]``; never ``ValueError``.
Times are integer epoch seconds (UTC); aware datetimes and RFC 3339 strings are normalised.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np
import shapely

from molink.core import geo
from molink.core.dtg import parse_utc
from molink.errors import InvalidInput

__all__ = [
    "Area",
    "Corridor",
    "Disc",
    "Footprint",
    "TimeLike",
    "Volume",
    "VolumeStatus",
    "overlap_geojson",
    "parse_footprint",
    "parse_volume",
    "to_epoch",
]

Position = tuple[float, float]
Ring = tuple[Position, ...]
TimeLike = int | datetime | str
_MAX_VERTICES = 10_000
_MAX_RADIUS_M = 1_000_000.0


class VolumeStatus(StrEnum):
    """Life cycle of a notified volume. Proposed and active volumes are deconflicted."""

    PROPOSED = "proposed"
    ACTIVE = "active"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class Disc:
    """Geodesic disc: every point within ``radius_m`` of (lon, lat)."""

    lon: float
    lat: float
    radius_m: float

    def core(self) -> geo.Core:
        return geo.core_point(self.lon, self.lat)

    def to_geojson(self) -> dict[str, Any]:
        return {"type": "Point", "coordinates": [self.lon, self.lat]}


@dataclass(frozen=True, slots=True)
class Corridor:
    """Corridor: every point within ``width_m / 2`` of a polyline of geodesic segments."""

    path: tuple[Position, ...]
    width_m: float

    @property
    def radius_m(self) -> float:
        return self.width_m / 2.0

    def core(self) -> geo.Core:
        return geo.core_line([list(self.path)])

    def to_geojson(self) -> dict[str, Any]:
        return {"type": "LineString", "coordinates": [list(p) for p in self.path]}


@dataclass(frozen=True, slots=True)
class Area:
    """Polygons with geodesic edges; each polygon is its outer ring then holes.

    Rings are stored without the closing repeat.
    """

    polygons: tuple[tuple[Ring, ...], ...]

    @property
    def radius_m(self) -> float:
        return 0.0

    def core(self) -> geo.Core:
        return geo.core_from_rings([[list(r) for r in poly] for poly in self.polygons])

    def to_geojson(self) -> dict[str, Any]:
        polys = [[[list(p) for p in (*ring, ring[0])] for ring in poly] for poly in self.polygons]
        if len(polys) == 1:
            return {"type": "Polygon", "coordinates": polys[0]}
        return {"type": "MultiPolygon", "coordinates": polys}


Footprint = Disc | Corridor | Area


def _number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{path}: expected a number, got {type(value).__name__}")
    out = float(value)
    if not math.isfinite(out):
        raise InvalidInput(f"{path}: must be finite")
    return out


def _position(value: object, path: str) -> Position:
    if not isinstance(value, list | tuple) or len(value) not in (2, 3):
        raise InvalidInput(f"{path}: a position is [lon, lat] or [lon, lat, alt]")
    lon, lat = _number(value[0], f"{path}[0]"), _number(value[1], f"{path}[1]")
    if not -180.0 <= lon <= 180.0:
        raise InvalidInput(f"{path}: longitude {lon} is outside [-180, 180]")
    if not -90.0 <= lat <= 90.0:
        raise InvalidInput(f"{path}: latitude {lat} is outside [-90, 90]")
    return (float(geo.wrap_lon(lon)), lat)


def _positions(value: object, path: str, minimum: int) -> list[Position]:
    if not isinstance(value, list | tuple):
        raise InvalidInput(f"{path}: expected an array of positions")
    if len(value) > _MAX_VERTICES:
        raise InvalidInput(f"{path}: more than {_MAX_VERTICES} positions")
    out = [_position(p, f"{path}[{i}]") for i, p in enumerate(value)]
    if len(out) < minimum:
        raise InvalidInput(f"{path}: needs at least {minimum} positions")
    return out


def _ring(value: object, path: str) -> Ring:
    pts = _positions(value, path, 4)
    if pts[0] != pts[-1]:
        raise InvalidInput(f"{path}: a linear ring must end where it starts (RFC 7946 §3.1.6)")
    ring = tuple(pts[:-1])
    if len(set(ring)) < 3:
        raise InvalidInput(f"{path}: a ring needs at least 3 distinct positions")
    return ring


def _check_extent(vertices: Sequence[Position], path: str) -> None:
    """Edges shorter than MAX_EDGE_M and all vertices within MAX_EXTENT_M of the first."""
    arr = np.asarray(vertices, dtype=np.float64)
    n = len(arr)
    _, d0 = geo.inverse(np.full(n, arr[0, 0]), np.full(n, arr[0, 1]), arr[:, 0], arr[:, 1])
    far = np.flatnonzero(d0 > geo.MAX_EXTENT_M)
    if len(far):
        raise InvalidInput(
            f"{path}[{int(far[0])}]: footprint wider than {geo.MAX_EXTENT_M / 1000:.0f} km"
        )
    if n > 1:
        _, step = geo.inverse(arr[:-1, 0], arr[:-1, 1], arr[1:, 0], arr[1:, 1])
        long_edge = np.flatnonzero(step > geo.MAX_EDGE_M)
        if len(long_edge):
            raise InvalidInput(
                f"{path}[{int(long_edge[0]) + 1}]: edge longer than "
                f"{geo.MAX_EDGE_M / 1000:.0f} km; add vertices"
            )


def _length(value: object, path: str) -> float:
    out = _number(value, path)
    if not 0.0 < out <= _MAX_RADIUS_M:
        raise InvalidInput(f"{path}: must be > 0 and <= {_MAX_RADIUS_M:.0f} m")
    return out


def parse_footprint(
    geometry: object,
    *,
    radius_m: object = None,
    width_m: object = None,
    path: str = "geometry",
    props: str = "",
) -> Footprint:
    """Parse a GeoJSON geometry (RFC 7946 §3.1) into a footprint.

    A Point needs ``radius_m``; a LineString needs ``width_m``; Polygon and MultiPolygon take
    neither. Errors name the field, e.g. ``geometry.coordinates[0][3]``; ``props`` prefixes
    the names of radius and width (``properties.``).
    """
    if not isinstance(geometry, Mapping):
        raise InvalidInput(f"{path}: expected a GeoJSON geometry object")
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    cpath = f"{path}.coordinates"
    if coords is None:
        raise InvalidInput(f"{cpath}: missing")
    if kind == "Point":
        if radius_m is None:
            raise InvalidInput(f"{props}radius_m: required for a Point footprint")
        lon, lat = _position(coords, cpath)
        return Disc(lon, lat, _length(radius_m, f"{props}radius_m"))
    if kind == "LineString":
        if width_m is None:
            raise InvalidInput(f"{props}width_m: required for a LineString footprint")
        line = _positions(coords, cpath, 2)
        _check_extent(line, cpath)
        return Corridor(tuple(line), _length(width_m, f"{props}width_m"))
    if kind in ("Polygon", "MultiPolygon"):
        raw = [coords] if kind == "Polygon" else coords
        if not isinstance(raw, list | tuple) or not raw:
            raise InvalidInput(f"{cpath}: expected a non-empty array")
        polys: list[tuple[Ring, ...]] = []
        for i, poly in enumerate(raw):
            ppath = cpath if kind == "Polygon" else f"{cpath}[{i}]"
            if not isinstance(poly, list | tuple) or not poly:
                raise InvalidInput(f"{ppath}: a polygon is a non-empty array of rings")
            rings = tuple(_ring(r, f"{ppath}[{k}]") for k, r in enumerate(poly))
            for k, r in enumerate(rings):
                _check_extent([*r, r[0]], f"{ppath}[{k}]")
            polys.append(rings)
        _check_extent([p[0][0] for p in polys], cpath)
        return Area(tuple(polys))
    raise InvalidInput(f"{path}.type: unsupported geometry type {kind!r}")


def to_epoch(value: object, field: str, *, round_up: bool = False) -> int:
    """Normalise an int epoch second, aware datetime or RFC 3339 string to epoch seconds.

    Fractions of a second round down, or up with ``round_up`` (an end time), so that the
    window never shrinks.
    """
    if isinstance(value, bool):
        raise InvalidInput(f"{field}: expected a time, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            value = parse_utc(value)
        except InvalidInput as exc:
            raise InvalidInput(f"{field}: {exc.message}") from exc
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInput(f"{field}: naive datetime; give a UTC offset")
        ts = value.timestamp()
        return math.ceil(ts) if round_up else math.floor(ts)
    raise InvalidInput(f"{field}: expected epoch seconds, an aware datetime or an ISO 8601 time")


@dataclass(frozen=True, slots=True, kw_only=True)
class Volume:
    """A notified 4-D volume. Invariants: lower_m < upper_m, start < end (epoch seconds).

    The time window is half-open, [start, end).
    """

    id: str
    party: str
    footprint: Footprint
    lower_m: float
    upper_m: float
    start: int
    end: int
    kind: str = "airspace"
    status: VolumeStatus = VolumeStatus.ACTIVE

    def __post_init__(self) -> None:
        if not self.id or not self.party or not self.kind:
            raise InvalidInput("id, party and kind must be non-empty")
        _number(self.lower_m, "lower_m")
        _number(self.upper_m, "upper_m")
        if not self.lower_m < self.upper_m:
            raise InvalidInput(f"upper_m: {self.upper_m} must be above lower_m {self.lower_m}")
        if not self.start < self.end:
            raise InvalidInput(f"end: {self.end} must be after start {self.start}")

    @classmethod
    def create(
        cls,
        *,
        id: str,
        party: str,
        footprint: Footprint,
        lower_m: float,
        upper_m: float,
        start: TimeLike,
        end: TimeLike,
        kind: str = "airspace",
        status: VolumeStatus | str = VolumeStatus.ACTIVE,
    ) -> Volume:
        """Build a volume, normalising times to epoch seconds."""
        try:
            st = VolumeStatus(status)
        except ValueError as exc:
            raise InvalidInput(f"status: unknown status {status!r}") from exc
        return cls(
            id=id,
            party=party,
            footprint=footprint,
            lower_m=_number(lower_m, "lower_m"),
            upper_m=_number(upper_m, "upper_m"),
            start=to_epoch(start, "start"),
            end=to_epoch(end, "end", round_up=True),
            kind=kind,
            status=st,
        )

    @property
    def deconflicted(self) -> bool:
        """Whether the volume takes part in conflict checks (proposed or active)."""
        return self.status in (VolumeStatus.PROPOSED, VolumeStatus.ACTIVE)


def parse_volume(
    feature: object,
    *,
    id: str,
    party: str,
    status: VolumeStatus | str = "proposed",
) -> Volume:
    """Parse a GeoJSON Feature whose properties hold ``kind``, ``start``, ``end``, ``lower_m``,
    ``upper_m`` and ``radius_m`` (Point) or ``width_m`` (LineString): the notification contract
    of ``POST /api/v1/notifications``. Other properties are ignored here.
    """
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise InvalidInput("type: expected a GeoJSON Feature")
    props = feature.get("properties")
    if not isinstance(props, Mapping):
        raise InvalidInput("properties: expected an object")
    for name in ("kind", "start", "end", "lower_m", "upper_m"):
        if name not in props:
            raise InvalidInput(f"properties.{name}: missing")
    kind = props["kind"]
    if not isinstance(kind, str) or not kind:
        raise InvalidInput("properties.kind: expected a non-empty string")
    footprint = parse_footprint(
        feature.get("geometry"),
        radius_m=props.get("radius_m"),
        width_m=props.get("width_m"),
        props="properties.",
    )
    return Volume.create(
        id=id,
        party=party,
        footprint=footprint,
        lower_m=_number(props["lower_m"], "properties.lower_m"),
        upper_m=_number(props["upper_m"], "properties.upper_m"),
        start=to_epoch(props["start"], "properties.start"),
        end=to_epoch(props["end"], "properties.end", round_up=True),
        kind=kind,
        status=status,
    )


def _densify(points: Sequence[Position], step_m: float = 5000.0) -> list[Position]:
    """Insert geodesic intermediate points so that no step exceeds ``step_m``."""
    out: list[Position] = [points[0]]
    for (x1, y1), (x2, y2) in itertools.pairwise(points):
        n = int(float(geo.GEOD.inv(x1, y1, x2, y2)[2]) // step_m)
        if n > 0:
            out.extend((float(x), float(y)) for x, y in geo.GEOD.npts(x1, y1, x2, y2, n))
        out.append((x2, y2))
    return out


def _plane(fp: Footprint, lon0: float, lat0: float, grow_m: float) -> shapely.Geometry:
    """The footprint grown by ``grow_m`` as a polygon in the AEQD plane at (lon0, lat0)."""

    def proj(points: Sequence[Position]) -> np.ndarray[Any, np.dtype[np.float64]]:
        arr = np.asarray(points, dtype=np.float64)
        x, y = geo.aeqd_forward(lon0, lat0, arr[:, 0], arr[:, 1])
        return np.column_stack([x, y])

    if isinstance(fp, Disc):
        return shapely.buffer(shapely.points(proj([(fp.lon, fp.lat)])[0]), fp.radius_m + grow_m)
    if isinstance(fp, Corridor):
        line = shapely.linestrings(proj(_densify(fp.path)))
        return shapely.buffer(line, fp.radius_m + grow_m)
    polys = [
        shapely.polygons(
            proj(_densify([*poly[0], poly[0][0]])),
            holes=[proj(_densify([*h, h[0]])) for h in poly[1:]] or None,
        )
        for poly in fp.polygons
    ]
    return shapely.buffer(shapely.union_all(shapely.make_valid(np.asarray(polys))), grow_m)


def overlap_geojson(a: Footprint, b: Footprint, separation_m: float) -> dict[str, Any]:
    """Display geometry of a conflict: where ``a`` and ``b``, each grown by half the required
    separation, overlap (the line between their closest points if rounding leaves nothing).

    Approximate (planar buffering in an azimuthal equidistant plane centred on ``a``); split at
    the antimeridian as RFC 7946 §3.1.9 asks. Not used for any decision.
    """
    lon0, lat0 = (
        (a.lon, a.lat)
        if isinstance(a, Disc)
        else (a.path[0] if isinstance(a, Corridor) else a.polygons[0][0][0])
    )
    ga, gb = _plane(a, lon0, lat0, separation_m / 2.0), _plane(b, lon0, lat0, separation_m / 2.0)
    inter = shapely.intersection(ga, gb)
    if inter.is_empty:
        inter = shapely.shortest_line(ga, gb)

    def back(xy: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, np.dtype[np.float64]]:
        lon, lat = geo.aeqd_inverse(lon0, lat0, xy[:, 0], xy[:, 1])
        lon = lon0 + geo.wrap_lon(lon - lon0)
        return np.column_stack([lon, lat])

    geom = shapely.transform(inter, back)
    parts = []
    for shift in (0.0, 360.0, -360.0):
        window = shapely.box(-180.0 - shift, -90.0, 180.0 - shift, 90.0)
        piece = shapely.intersection(geom, window)
        if not piece.is_empty:
            parts.append(shapely.transform(piece, lambda xy, s=shift: xy + np.array([s, 0.0])))
    out = shapely.union_all(np.asarray(parts)) if parts else geom
    return dict(shapely.geometry.mapping(out))
