"""Geodesy on the WGS84 ellipsoid: exact distances between footprint cores.

Every distance here is an ellipsoidal geodesic distance (pyproj ``Geod``, i.e. GeographicLib,
Karney 2013); raw degrees are never compared as distances. Longitudes may be given in any
range; the antimeridian and the poles need no special casing because every predicate is
built from geodesic azimuths and lengths, not from planar lon/lat.

A *core* is the skeleton of a footprint (``volume.Footprint``): a point (a disc's centre), a
polyline of geodesic segments (a corridor's centre line) or polygons with geodesic edges. The
footprint is the set of points within ``radius`` of the core, so the distance between two
footprints is ``max(0, core_distance(a, b) - ra - rb)``, exact for geodesic discs.

Invariants relied on (checked where the core is built, see ``volume.py``): edges are shorter
than ``MAX_EDGE_M`` and a core fits within ``MAX_EXTENT_M`` of its first vertex, far below
the distances at which geodesics from one point meet again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyproj
from numpy.typing import NDArray

__all__ = [
    "GEOD",
    "MAX_EDGE_M",
    "MAX_EXTENT_M",
    "WGS84_A",
    "WGS84_F",
    "Core",
    "aeqd_forward",
    "aeqd_inverse",
    "bounding_disc",
    "core_bboxes",
    "core_distance",
    "core_from_rings",
    "core_line",
    "core_point",
    "disc_bboxes",
    "ecef",
    "flight_level_to_m",
    "inverse",
    "point_in_core",
    "point_segment_distance",
    "vertices_disc",
    "wrap_lon",
]

Array = NDArray[np.float64]

WGS84_A = 6378137.0
WGS84_F = 1.0 / 298.257223563
_E2 = WGS84_F * (2.0 - WGS84_F)
#: Smallest radius of curvature on WGS84 (meridional, at the equator): a lower bound that
#: turns metres into a safe upper bound of angle.
R_MIN = WGS84_A * (1.0 - _E2)
MAX_EDGE_M = 2_000_000.0
MAX_EXTENT_M = 5_000_000.0
_FEET = 0.3048

#: The WGS84 geodesic solver. ``pyproj.Geod`` holds no mutable state.
GEOD = pyproj.Geod(ellps="WGS84")


def wrap_lon(lon: Array | float) -> Array:
    """Wrap longitudes into [-180, 180); values already in range are returned unchanged."""
    arr = np.asarray(lon, dtype=np.float64)
    inside = (arr >= -180.0) & (arr < 180.0)
    return np.asarray(np.where(inside, arr, (arr + 180.0) % 360.0 - 180.0))


def flight_level_to_m(fl: float) -> float:
    """Flight level (hundreds of feet, ISA standard pressure) to metres: FL350 -> 10668.0.

    A flight level is a pressure altitude, not an altitude above mean sea level; molink
    treats it as its nominal ISA height, which is what airspace reservations (LARA) book.
    """
    return float(fl) * 100.0 * _FEET


def ecef(lon: Array, lat: Array) -> tuple[Array, Array, Array]:
    """Earth-centred, Earth-fixed coordinates (metres) of points on the WGS84 surface."""
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    sphi = np.sin(phi)
    n = WGS84_A / np.sqrt(1.0 - _E2 * sphi * sphi)
    cphi = np.cos(phi)
    return n * cphi * np.cos(lam), n * cphi * np.sin(lam), n * (1.0 - _E2) * sphi


def inverse(lon1: Array, lat1: Array, lon2: Array, lat2: Array) -> tuple[Array, Array]:
    """Forward azimuth at point 1 (degrees) and geodesic distance (metres), vectorised."""
    az, _, dist = GEOD.inv(
        np.asarray(lon1, dtype=np.float64),
        np.asarray(lat1, dtype=np.float64),
        np.asarray(lon2, dtype=np.float64),
        np.asarray(lat2, dtype=np.float64),
    )
    return np.asarray(az), np.asarray(dist)


def _forward(lon: Array, lat: Array, az: Array, dist: Array) -> tuple[Array, Array, Array]:
    """Endpoint and forward azimuth there (degrees) of geodesics from (lon, lat)."""
    lon2, lat2, back = GEOD.fwd(lon, lat, az, dist)
    return np.asarray(lon2), np.asarray(lat2), np.asarray(back) + 180.0


def point_segment_distance(
    plon: Array, plat: Array, alon: Array, alat: Array, blon: Array, blat: Array
) -> tuple[Array, Array, Array]:
    """Exact distance from points P to geodesic segments AB (element-wise).

    The foot of the perpendicular is found by Newton steps in the tangent plane at the current
    foot (the ellipsoidal analogue of Karney's interception, 2011 §8): each step moves the
    foot by ``d cos(angle)``; the error shrinks by about (d/R)^2 per step. The distance along
    a geodesic to a fixed point is unimodal at these scales, so a foot outside the segment
    means the nearer endpoint is closest.

    Returns:
        (distance m, foot lon, foot lat); the foot is A or B when an endpoint is nearest.
    """
    az_ab, len_ab = inverse(alon, alat, blon, blat)
    az_ap, d_ap = inverse(alon, alat, plon, plat)
    _, d_bp = inverse(blon, blat, plon, plat)
    s = d_ap * np.cos(np.radians(az_ap - az_ab))
    for _ in range(8):
        flon, flat, az_f = _forward(alon, alat, az_ab, s)
        az_fp, d_fp = inverse(flon, flat, plon, plat)
        step = d_fp * np.cos(np.radians(az_fp - az_f))
        s = s + step
        if float(np.max(np.abs(step), initial=0.0)) < 1e-7:
            break
    inside = (s > 0.0) & (s < len_ab)
    sc = np.clip(s, 0.0, len_ab)
    flon, flat, _ = _forward(alon, alat, az_ab, sc)
    _, d_fp = inverse(flon, flat, plon, plat)
    use_a = d_ap <= d_bp
    dist = np.where(inside, d_fp, np.where(use_a, d_ap, d_bp))
    foot_lon = np.where(inside, flon, np.where(use_a, alon, blon))
    foot_lat = np.where(inside, flat, np.where(use_a, alat, blat))
    return dist, foot_lon, foot_lat


@dataclass(frozen=True, slots=True, eq=False)
class Core:
    """Skeleton of a footprint: ``dim`` 0 (one point), 1 (polylines) or 2 (polygons).

    Vertices of all parts are concatenated in ``lon``/``lat`` (rings without the closing
    repeat). ``seg_i``/``seg_j`` index the segment endpoints. For polygons, ``ring_off`` splits
    the vertices into rings, ``ring_poly`` names each ring's polygon and ``ring_hole`` marks
    holes. Ring orientation is not relied on: the interior is the smaller side (RFC 7946 §3.1.6
    asks parsers not to reject the wrong winding).
    """

    dim: int
    lon: Array
    lat: Array
    seg_i: NDArray[np.intp]
    seg_j: NDArray[np.intp]
    ring_off: NDArray[np.intp]
    ring_poly: NDArray[np.intp]
    ring_hole: NDArray[np.bool_]


def _frozen(a: NDArray[np.generic]) -> NDArray[np.generic]:
    a.setflags(write=False)
    return a


def _make_core(
    dim: int,
    lon: list[float],
    lat: list[float],
    segs: list[tuple[int, int]],
    rings: list[tuple[int, int, bool]],
) -> Core:
    seg = np.asarray(segs, dtype=np.intp).reshape(-1, 2)
    off = [0] + [stop for _, stop, _ in rings]
    return Core(
        dim=dim,
        lon=_frozen(np.asarray(lon, dtype=np.float64)),  # type: ignore[arg-type]
        lat=_frozen(np.asarray(lat, dtype=np.float64)),  # type: ignore[arg-type]
        seg_i=_frozen(np.ascontiguousarray(seg[:, 0])),  # type: ignore[arg-type]
        seg_j=_frozen(np.ascontiguousarray(seg[:, 1])),  # type: ignore[arg-type]
        ring_off=_frozen(np.asarray(off, dtype=np.intp)),  # type: ignore[arg-type]
        ring_poly=_frozen(np.asarray([r[0] for r in rings], dtype=np.intp)),  # type: ignore[arg-type]
        ring_hole=_frozen(np.asarray([r[2] for r in rings], dtype=np.bool_)),  # type: ignore[arg-type]
    )


def core_point(lon: float, lat: float) -> Core:
    """A point core (the centre of a geodesic disc)."""
    return _make_core(0, [lon], [lat], [], [])


def core_line(parts: list[list[tuple[float, float]]]) -> Core:
    """Polylines of geodesic segments; each part is a list of (lon, lat) with >= 2 vertices."""
    lon: list[float] = []
    lat: list[float] = []
    segs: list[tuple[int, int]] = []
    for part in parts:
        base = len(lon)
        for x, y in part:
            lon.append(x)
            lat.append(y)
        segs.extend((base + k, base + k + 1) for k in range(len(part) - 1))
    return _make_core(1, lon, lat, segs, [])


def core_from_rings(polygons: list[list[list[tuple[float, float]]]]) -> Core:
    """Polygons (each: outer ring, then holes) of (lon, lat) rings without the closing repeat."""
    lon: list[float] = []
    lat: list[float] = []
    segs: list[tuple[int, int]] = []
    rings: list[tuple[int, int, bool]] = []
    for p, polygon in enumerate(polygons):
        for r, ring in enumerate(polygon):
            base = len(lon)
            for x, y in ring:
                lon.append(x)
                lat.append(y)
            n = len(ring)
            segs.extend((base + k, base + (k + 1) % n) for k in range(n))
            rings.append((p, len(lon), r > 0))
    return _make_core(2, lon, lat, segs, rings)


def _winding(plon: Array, plat: Array, rlon: Array, rlat: Array) -> Array:
    """Signed number of turns (in 360-degree units) of ring R around each point P.

    The azimuth from P sweeps monotonically along a geodesic edge that does not pass through
    P, and an edge subtends less than 180 degrees unless P is on it, so summing the wrapped
    azimuth differences is exact for geodesic rings.
    """
    m = len(rlon)
    az, _ = inverse(
        np.repeat(plon, m), np.repeat(plat, m), np.tile(rlon, len(plon)), np.tile(rlat, len(plon))
    )
    az = az.reshape(len(plon), m)
    d = np.diff(np.concatenate([az, az[:, :1]], axis=1), axis=1)
    d = (d + 180.0) % 360.0 - 180.0
    return np.asarray(np.sum(d, axis=1) / 360.0)


def point_in_core(core: Core, plon: Array, plat: Array) -> NDArray[np.bool_]:
    """Whether points lie inside (or on) a polygon core; always False for dim < 2.

    A point is inside a polygon when an odd number of turns of its outer ring surround it and
    none of its holes does. A point farther than ``MAX_EXTENT_M`` from the ring's first vertex
    is outside (the winding test cannot tell a point from its antipode).
    """
    plon = np.atleast_1d(np.asarray(plon, dtype=np.float64))
    plat = np.atleast_1d(np.asarray(plat, dtype=np.float64))
    out = np.zeros(len(plon), dtype=np.bool_)
    if core.dim < 2 or len(plon) == 0:
        return out
    _, d0 = inverse(plon, plat, np.full(len(plon), core.lon[0]), np.full(len(plon), core.lat[0]))
    near = d0 <= 2.0 * MAX_EXTENT_M
    n_poly = int(core.ring_poly.max()) + 1
    inside_poly = np.zeros((n_poly, len(plon)), dtype=np.bool_)
    in_hole = np.zeros((n_poly, len(plon)), dtype=np.bool_)
    for k in range(len(core.ring_poly)):
        a, b = int(core.ring_off[k]), int(core.ring_off[k + 1])
        turns = np.abs(_winding(plon, plat, core.lon[a:b], core.lat[a:b]))
        hit = (np.rint(turns).astype(np.int64) % 2 == 1) & near
        target = in_hole if core.ring_hole[k] else inside_poly
        target[core.ring_poly[k]] |= hit
    out |= np.any(inside_poly & ~in_hole, axis=0)
    return out


def _side(alon: Array, alat: Array, az_ab: Array, plon: Array, plat: Array) -> Array:
    """Sign of P relative to the geodesic from A with azimuth az_ab: -1 left, +1 right."""
    az_ap, _ = inverse(alon, alat, plon, plat)
    return np.asarray(np.sign(np.sin(np.radians(az_ap - az_ab))))


def _any_crossing(a: Core, b: Core) -> bool:
    """Whether a segment of ``a`` properly crosses a segment of ``b``."""
    na, nb = len(a.seg_i), len(b.seg_i)
    a1 = (np.repeat(a.lon[a.seg_i], nb), np.repeat(a.lat[a.seg_i], nb))
    a2 = (np.repeat(a.lon[a.seg_j], nb), np.repeat(a.lat[a.seg_j], nb))
    b1 = (np.tile(b.lon[b.seg_i], na), np.tile(b.lat[b.seg_i], na))
    b2 = (np.tile(b.lon[b.seg_j], na), np.tile(b.lat[b.seg_j], na))
    az_a, _ = inverse(a1[0], a1[1], a2[0], a2[1])
    az_b, _ = inverse(b1[0], b1[1], b2[0], b2[1])
    s1 = _side(a1[0], a1[1], az_a, b1[0], b1[1]) * _side(a1[0], a1[1], az_a, b2[0], b2[1])
    s2 = _side(b1[0], b1[1], az_b, a1[0], a1[1]) * _side(b1[0], b1[1], az_b, a2[0], a2[1])
    return bool(np.any((s1 < 0) & (s2 < 0)))


def _vertex_edge(p: Core, e: Core) -> float:
    """Smallest distance from a vertex of p to a segment of e."""
    nv, ns = len(p.lon), len(e.seg_i)
    d, _, _ = point_segment_distance(
        np.repeat(p.lon, ns),
        np.repeat(p.lat, ns),
        np.tile(e.lon[e.seg_i], nv),
        np.tile(e.lat[e.seg_i], nv),
        np.tile(e.lon[e.seg_j], nv),
        np.tile(e.lat[e.seg_j], nv),
    )
    return float(d.min())


def core_distance(a: Core, b: Core) -> float:
    """Exact geodesic distance (m) between two cores; 0 when they touch or overlap.

    Disjoint cores are closest at a vertex of one and a segment of the other. In the plane
    that is elementary; on the ellipsoid (Gaussian curvature K > 0 everywhere) a pair of
    interior points joined perpendicularly to both segments has second variation of length
    ``-integral(K) < 0`` when both slide in parallel, so it is never a minimum.
    """
    if a.dim == 0 and b.dim == 0:
        return float(GEOD.inv(a.lon[0], a.lat[0], b.lon[0], b.lat[0])[2])
    if (b.dim == 2 and bool(np.any(point_in_core(b, a.lon, a.lat)))) or (
        a.dim == 2 and bool(np.any(point_in_core(a, b.lon, b.lat)))
    ):
        return 0.0
    if a.dim >= 1 and b.dim >= 1 and _any_crossing(a, b):
        return 0.0
    best = math.inf
    if b.dim >= 1:
        best = min(best, _vertex_edge(a, b))
    if a.dim >= 1:
        best = min(best, _vertex_edge(b, a))
    return best


Box = tuple[float, float, float, float]


def vertices_disc(lon: Array, lat: Array, xyz: Array) -> tuple[float, float, float]:
    """A geodesic disc (lon, lat, radius m) containing the given vertices and, at these
    scales, the geodesic edges and polygons they span.

    The centre is the direction of the mean ECEF vertex; the radius is the farthest vertex.
    Along a geodesic edge the distance to a fixed point has no interior maximum, so edges,
    and the polygon they bound, lie inside too.
    """
    mx, my, mz = (float(v) for v in xyz.sum(axis=0))
    clon = math.degrees(math.atan2(my, mx))
    clat = math.degrees(math.atan2(mz, math.hypot(mx, my)))
    n = len(lon)
    _, d = inverse(np.full(n, clon), np.full(n, clat), lon, lat)
    return clon, clat, float(d.max()) * (1.0 + 1e-9) + 1e-6


def bounding_disc(core: Core, xyz: Array | None = None) -> tuple[float, float, float]:
    """A geodesic disc (lon, lat, radius m) containing the core (see ``vertices_disc``)."""
    if core.dim == 0:
        return float(core.lon[0]), float(core.lat[0]), 0.0
    if xyz is None:
        xyz = np.column_stack(ecef(core.lon, core.lat))
    return vertices_disc(core.lon, core.lat, xyz)


def disc_bboxes(lon: float, lat: float, radius_m: float) -> list[Box]:
    """Conservative lon/lat boxes (west, south, east, north) of a geodesic disc: split in two
    at the antimeridian, all longitudes when the disc may reach a pole.

    Latitude changes by at most ``radius / R_MIN`` radians along a path of that length, and
    longitude by at most ``radius / p`` with p the parallel radius at the most poleward
    latitude reached; both get a 1 % margin.
    """
    grow = math.degrees(radius_m / R_MIN) * 1.01 + 1e-9
    south, north = max(-90.0, lat - grow), min(90.0, lat + grow)
    ext = math.radians(max(abs(south), abs(north)))
    parallel = WGS84_A * math.cos(ext) / math.sqrt(1.0 - _E2 * math.sin(ext) ** 2)
    if north >= 90.0 or south <= -90.0 or parallel <= 0.0:
        return [(-180.0, south, 180.0, north)]
    dlon = math.degrees(radius_m / parallel) * 1.01 + 1e-9
    if dlon >= 180.0:
        return [(-180.0, south, 180.0, north)]
    west = (lon - dlon + 180.0) % 360.0 - 180.0
    east = west + 2.0 * dlon
    if east <= 180.0:
        return [(west, south, east, north)]
    return [(west, south, 180.0, north), (-180.0, south, east - 360.0, north)]


def core_bboxes(core: Core, expand_m: float, xyz: Array | None = None) -> list[Box]:
    """Conservative boxes covering the core grown by ``expand_m``.

    Polylines get one box per segment (the disc around its midpoint); points and polygons
    one bounding disc. ``xyz`` may pass the vertices' ECEF coordinates if already known.
    """
    if core.dim != 1:
        lon, lat, r = bounding_disc(core, xyz)
        return disc_bboxes(lon, lat, r + expand_m)
    lon1, lat1 = core.lon[core.seg_i], core.lat[core.seg_i]
    az, length = inverse(lon1, lat1, core.lon[core.seg_j], core.lat[core.seg_j])
    mlon, mlat, _ = GEOD.fwd(lon1, lat1, az, length / 2.0)
    out: list[Box] = []
    for x, y, half in zip(np.atleast_1d(mlon), np.atleast_1d(mlat), length / 2.0, strict=True):
        out.extend(disc_bboxes(float(x), float(y), float(half) * (1.0 + 1e-9) + 1e-6 + expand_m))
    return out


def aeqd_forward(lon0: float, lat0: float, lon: Array, lat: Array) -> tuple[Array, Array]:
    """Azimuthal equidistant projection centred at (lon0, lat0), computed geodesically.

    Distances and azimuths from the centre are exact; used for display geometry only.
    """
    n = len(np.atleast_1d(lon))
    az, dist = inverse(np.full(n, lon0), np.full(n, lat0), lon, lat)
    rad = np.radians(az)
    return dist * np.sin(rad), dist * np.cos(rad)


def aeqd_inverse(lon0: float, lat0: float, x: Array, y: Array) -> tuple[Array, Array]:
    """Inverse of ``aeqd_forward``: plane (m) back to (lon, lat), lon wrapped to [-180, 180)."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    y = np.atleast_1d(np.asarray(y, dtype=np.float64))
    n = len(x)
    az = np.degrees(np.arctan2(x, y))
    lon, lat, _ = GEOD.fwd(np.full(n, lon0), np.full(n, lat0), az, np.hypot(x, y))
    return wrap_lon(lon), np.asarray(lat)
