"""Track intrusions: a track point inside a protected zone, another party's active volume, or
a foreign country.

Rules (DESIGN.md "Deconfliction"; the shared workload's zone rule):

* zone: the geodesic distance from the point to a disc's centre is <= its radius, or the
  point is inside the zone's polygon; a site's ceiling and validity window, if any, apply;
* volume (4-D): another party's ACTIVE volume whose footprint holds the point, with
  ``lower_m <= alt_m <= upper_m`` and ``start <= time < end``;
* boundary: the point lies in a watched country and in none of the party's own territories
  (``boundaries.py``; land boundaries only).

An intrusion refers to the track segment from the track's previous point to this one.

Points are matched to targets through a uniform lon/lat grid (a CSR table of cell -> targets,
antimeridian-aware via split boxes), then decided exactly: for discs, the ECEF chord c between
point and centre bounds the geodesic s from below (c <= s <= c + s^3 / (12 R^2)), so only the
pairs within that sliver of the radius need a geodesic inverse.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from molink.core import geo
from molink.core.boundaries import Boundaries
from molink.core.sites import ProtectedSite
from molink.core.volume import Disc, Footprint, Volume, VolumeStatus
from molink.errors import InvalidInput

__all__ = [
    "BatchIntrusions",
    "Intrusion",
    "IntrusionDetector",
    "IntrusionKind",
    "TrackMemory",
    "TrackPoint",
]

F8 = NDArray[np.float64]
I8 = NDArray[np.int64]
_BIG_CELLS = 20_000
_NEVER = (-(2**62), 2**62)


class IntrusionKind(IntEnum):
    ZONE = 0
    VOLUME = 1
    BOUNDARY = 2


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One position report: epoch seconds, degrees, metres AMSL."""

    track_id: int
    time: int
    lat: float
    lon: float
    alt_m: float


@dataclass(frozen=True, slots=True)
class Intrusion:
    """Track ``track_id`` entered ``target`` (a site id, volume id or ISO country code) on
    the segment from ``prev`` (None for the first point seen) to ``point``."""

    kind: IntrusionKind
    target: str
    point: TrackPoint
    prev: TrackPoint | None


@dataclass(frozen=True, slots=True, eq=False)
class BatchIntrusions:
    """Intrusions of a batch as arrays, sorted by (point, kind, target).

    ``point`` indexes the batch; ``target`` indexes ``IntrusionDetector.targets`` for zones
    and volumes and ``Boundaries.codes`` for boundaries; ``prev`` indexes the batch's
    previous point of the same track, or -1 when it came from an earlier batch (then
    ``prev_time`` etc. hold it) or there is none (``prev_time`` = -1).
    """

    point: I8
    kind: NDArray[np.int8]
    target: I8
    prev: I8
    prev_time: I8
    prev_lon: F8
    prev_lat: F8

    def __len__(self) -> int:
        return len(self.point)


class TrackMemory:
    """Last point of each track, carried from batch to batch (no I/O; the caller owns it)."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[int, float, float, float]] = {}

    def __len__(self) -> int:
        return len(self._last)

    def last(self, track_id: int) -> TrackPoint | None:
        got = self._last.get(track_id)
        return None if got is None else TrackPoint(track_id, got[0], got[2], got[1], got[3])

    def _lookup(self, ids: I8) -> tuple[I8, F8, F8]:
        rows = [self._last.get(t, (-1, math.nan, math.nan, math.nan)) for t in ids.tolist()]
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
        return arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2]

    def _remember(self, ids: I8, t: I8, lon: F8, lat: F8, alt: F8) -> None:
        for k, tid in enumerate(ids.tolist()):
            old = self._last.get(tid)
            if old is None or old[0] <= t[k]:
                self._last[tid] = (int(t[k]), float(lon[k]), float(lat[k]), float(alt[k]))


@dataclass(frozen=True, slots=True)
class _Target:
    kind: IntrusionKind
    id: str
    party: str | None
    shape: Footprint
    lower: float
    upper: float
    start: int
    end: int


class IntrusionDetector:
    """Immutable intrusion checker over a set of protected sites and volumes.

    Rebuild it (``with_targets``) when the sites or the active volumes change; building costs
    O(number of grid cells covered).

    Args:
        sites: protected sites (every party is checked against them).
        volumes: notified volumes; only ACTIVE ones are kept.
        boundaries: national boundaries, or None to skip boundary checks.
        watched: country codes whose airspace is watched (default: all in ``boundaries``).
        territories: a party's own territories (default: the party code itself).
        cell_deg: grid cell size in degrees.
    """

    def __init__(
        self,
        *,
        sites: Sequence[ProtectedSite] = (),
        volumes: Sequence[Volume] = (),
        boundaries: Boundaries | None = None,
        watched: Collection[str] | None = None,
        territories: Mapping[str, Collection[str]] | None = None,
        cell_deg: float = 0.125,
    ) -> None:
        if not 0.01 <= cell_deg <= 10.0:
            raise InvalidInput("cell_deg: must be within [0.01, 10]")
        targets = [_site_target(s) for s in sites]
        targets += [_volume_target(v) for v in volumes if v.status is VolumeStatus.ACTIVE]
        self.targets: tuple[_Target, ...] = tuple(targets)
        self.boundaries = boundaries
        codes = boundaries.codes if boundaries is not None else ()
        watch = set(codes if watched is None else watched)
        self._watched = np.asarray([c in watch for c in codes], dtype=np.bool_)
        self._territories = dict(territories or {})
        self._cell = cell_deg
        self._nj = round(360.0 / cell_deg)
        self._build_columns()
        self._build_grid()

    def with_targets(
        self, *, sites: Sequence[ProtectedSite], volumes: Sequence[Volume]
    ) -> IntrusionDetector:
        """A detector with the same boundaries and settings over new sites and volumes."""
        codes = self.boundaries.codes if self.boundaries is not None else ()
        return IntrusionDetector(
            sites=sites,
            volumes=volumes,
            boundaries=self.boundaries,
            watched=[c for c, w in zip(codes, self._watched, strict=True) if w],
            territories=self._territories,
            cell_deg=self._cell,
        )

    def _build_columns(self) -> None:
        t = self.targets
        self._is_disc = np.asarray([isinstance(x.shape, Disc) for x in t], dtype=np.bool_)
        lon = [x.shape.lon if isinstance(x.shape, Disc) else 0.0 for x in t]
        lat = [x.shape.lat if isinstance(x.shape, Disc) else 0.0 for x in t]
        xyz = np.column_stack(geo.ecef(np.asarray(lon), np.asarray(lat))).reshape(-1, 3)
        self._xyz = xyz
        self._radius = np.asarray([x.shape.radius_m for x in t], dtype=np.float64)
        # squared chord thresholds of a disc: surely inside below _in2, outside above _out2
        r = self._radius
        inner = r - (r**3 / (12.0 * geo.R_MIN**2) * 2.0 + 1e-6)
        self._in2 = np.where(inner >= 0.0, inner * inner, -1.0)
        self._out2 = r * r
        self._all_disc = bool(self._is_disc.all())
        # zones at every altitude and time: the altitude, time and party filter passes all
        self._all_open = all(
            x.kind is IntrusionKind.ZONE
            and x.lower == -math.inf
            and x.upper == math.inf
            and (x.start, x.end) == _NEVER
            for x in t
        )
        self._lower = np.asarray([x.lower for x in t], dtype=np.float64)
        self._upper = np.asarray([x.upper for x in t], dtype=np.float64)
        self._start = np.asarray([x.start for x in t], dtype=np.int64)
        self._end = np.asarray([x.end for x in t], dtype=np.int64)
        self._kind = np.asarray([int(x.kind) for x in t], dtype=np.int8)
        parties = sorted({x.party for x in t if x.party is not None})
        self._party_codes = {p: k for k, p in enumerate(parties)}
        self._party = np.asarray(
            [-1 if x.party is None else self._party_codes[x.party] for x in t], dtype=np.int64
        )
        self._cores = [None if isinstance(x.shape, Disc) else x.shape.core() for x in t]
        # per target (lower, upper, start, end, party, radius) as Python scalars
        self._scalar = [
            (x.lower, x.upper, x.start, x.end, int(pc), x.shape.radius_m)
            for x, pc in zip(t, self._party.tolist(), strict=True)
        ]

    def _build_grid(self) -> None:
        c, nj = self._cell, self._nj
        keys: list[I8] = []
        owners: list[I8] = []
        big: list[int] = []
        for k, tgt in enumerate(self.targets):
            core, shape = self._cores[k], tgt.shape
            if isinstance(shape, Disc):
                boxes = geo.disc_bboxes(shape.lon, shape.lat, shape.radius_m)
            else:
                boxes = geo.core_bboxes(shape.core() if core is None else core, shape.radius_m)
            cells = []
            for w, s, e, n in boxes:
                i0, i1 = int((s + 90.0) // c), int((n + 90.0) // c)
                j0, j1 = int((w + 180.0) // c), min(int((e + 180.0) // c), nj - 1)
                ii, jj = np.meshgrid(np.arange(i0, i1 + 1), np.arange(j0, j1 + 1), indexing="ij")
                cells.append((ii * nj + jj).ravel())
            allc = np.unique(np.concatenate(cells))
            if len(allc) > _BIG_CELLS:
                big.append(k)
                continue
            keys.append(allc.astype(np.int64))
            owners.append(np.full(len(allc), k, dtype=np.int64))
        key = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
        own = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
        order = np.lexsort((own, key))
        key, own = key[order], own[order]
        self._cell_keys, first = np.unique(key, return_index=True)
        self._cell_off = np.append(first, len(key)).astype(np.int64)
        self._cell_targets = own
        self._cell_row = {int(k): r for r, k in enumerate(self._cell_keys.tolist())}
        self._big = np.asarray(big, dtype=np.int64)

    def _candidates(self, lon: F8, lat: F8) -> tuple[I8, I8]:
        """(point, target) pairs whose grid cell or big-target list may hold the point."""
        n, c = len(lon), self._cell
        i = np.clip(((lat + 90.0) // c).astype(np.int64), 0, round(180.0 / c) - 1)
        j = np.clip(((lon + 180.0) // c).astype(np.int64), 0, self._nj - 1)
        key = i * self._nj + j
        pidx: list[I8] = []
        tidx: list[I8] = []
        if len(self._cell_keys):
            pos = np.minimum(np.searchsorted(self._cell_keys, key), len(self._cell_keys) - 1)
            hit = self._cell_keys[pos] == key
            start = np.where(hit, self._cell_off[pos], 0)
            cnt = np.where(hit, self._cell_off[pos + 1] - self._cell_off[pos], 0)
            total = int(cnt.sum())
            pidx.append(np.repeat(np.arange(n, dtype=np.int64), cnt))
            base = np.repeat(start - (np.cumsum(cnt) - cnt), cnt)
            tidx.append(self._cell_targets[base + np.arange(total, dtype=np.int64)])
        if len(self._big):
            pidx.append(np.repeat(np.arange(n, dtype=np.int64), len(self._big)))
            tidx.append(np.tile(self._big, n))
        if not pidx:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(pidx), np.concatenate(tidx)

    def _inside(self, p: I8, tg: I8, lon: F8, lat: F8) -> NDArray[np.bool_]:
        """Exact horizontal test of each (point, target) pair."""
        if self._all_disc:
            return self._inside_discs(p, tg, lon, lat)
        out = np.zeros(len(p), dtype=np.bool_)
        disc = self._is_disc[tg]
        if disc.any():
            out[disc] = self._inside_discs(p[disc], tg[disc], lon, lat)
        rest = np.flatnonzero(~disc)
        for k in np.unique(tg[rest]).tolist():
            sel = rest[tg[rest] == k]
            out[sel] = self._inside_core(k, lon[p[sel]], lat[p[sel]])
        return out

    def _inside_discs(self, p: I8, tg: I8, lon: F8, lat: F8) -> NDArray[np.bool_]:
        """Point in disc: the ECEF chord decides unless within the sliver of the radius."""
        diff = np.column_stack(geo.ecef(lon, lat))[p] - self._xyz[tg]
        c2: F8 = np.einsum("ij,ij->i", diff, diff)
        res: NDArray[np.bool_] = c2 <= self._in2[tg]
        amb = np.flatnonzero(~res & (c2 <= self._out2[tg]))
        if len(amb):
            _, d = geo.inverse(lon[p[amb]], lat[p[amb]], *self._centre(tg[amb]))
            res[amb] = d <= self._radius[tg[amb]]
        return res

    def _centre(self, tg: I8) -> tuple[F8, F8]:
        shapes = [self.targets[k].shape for k in tg.tolist()]
        lon = np.asarray([s.lon for s in shapes if isinstance(s, Disc)], dtype=np.float64)
        lat = np.asarray([s.lat for s in shapes if isinstance(s, Disc)], dtype=np.float64)
        return lon, lat

    def _inside_core(self, k: int, lon: F8, lat: F8) -> NDArray[np.bool_]:
        core = self._cores[k]
        if core is None:
            return np.zeros(len(lon), dtype=np.bool_)
        inside = geo.point_in_core(core, lon, lat)
        r = float(self._radius[k])
        todo = np.flatnonzero(~inside)
        if len(todo) and len(core.seg_i) and (r > 0.0 or core.dim == 1):
            ns = len(core.seg_i)
            d, _, _ = geo.point_segment_distance(
                np.repeat(lon[todo], ns),
                np.repeat(lat[todo], ns),
                np.tile(core.lon[core.seg_i], len(todo)),
                np.tile(core.lat[core.seg_i], len(todo)),
                np.tile(core.lon[core.seg_j], len(todo)),
                np.tile(core.lat[core.seg_j], len(todo)),
            )
            inside[todo] = d.reshape(len(todo), ns).min(axis=1) <= r
        return inside

    def _boundary_hits(self, lon: F8, lat: F8, party: str) -> tuple[I8, I8]:
        if self.boundaries is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        pairs = self.boundaries.hits(lon, lat)
        codes = self.boundaries.codes
        own = {codes.index(c) for c in self._territories.get(party, (party,)) if c in codes}
        own_hit = np.isin(pairs[:, 1], list(own))
        at_home = np.zeros(len(lon), dtype=np.bool_)
        at_home[pairs[own_hit, 0]] = True
        keep = self._watched[pairs[:, 1]] & ~own_hit & ~at_home[pairs[:, 0]]
        return pairs[keep, 0], pairs[keep, 1]

    def check_batch(
        self,
        track_id: I8,
        time: I8,
        lat: F8,
        lon: F8,
        alt_m: F8,
        *,
        party: str,
        memory: TrackMemory | None = None,
    ) -> BatchIntrusions:
        """All intrusions of a batch of points reported by ``party`` (vectorised).

        ``memory`` supplies each track's previous point from earlier batches and is updated
        with the batch's last point per track.
        """
        track_id = np.asarray(track_id, dtype=np.int64)
        time = np.asarray(time, dtype=np.int64)
        lat = np.asarray(lat, dtype=np.float64)
        lon = np.asarray(geo.wrap_lon(lon), dtype=np.float64)
        alt_m = np.asarray(alt_m, dtype=np.float64)
        p, tg = self._candidates(lon, lat)
        if not self._all_open:
            own = self._party_codes.get(party, -2)
            ok = (alt_m[p] >= self._lower[tg]) & (alt_m[p] <= self._upper[tg])
            ok &= (time[p] >= self._start[tg]) & (time[p] < self._end[tg])
            ok &= (self._kind[tg] == IntrusionKind.ZONE) | (self._party[tg] != own)
            p, tg = p[ok], tg[ok]
        ins = self._inside(p, tg, lon, lat)
        p, tg = p[ins], tg[ins]
        kind = self._kind[tg]
        bp, bc = self._boundary_hits(lon, lat, party)
        p = np.concatenate([p, bp])
        tg = np.concatenate([tg, bc])
        kind = np.concatenate([kind, np.full(len(bp), IntrusionKind.BOUNDARY, dtype=np.int8)])
        order = np.lexsort((tg, kind, p))
        p, tg, kind = p[order], tg[order], kind[order]
        prev, pt, plon, plat = self._previous(p, track_id, time, lon, lat, alt_m, memory)
        return BatchIntrusions(p, kind, tg, prev, pt, plon, plat)

    def _previous(
        self, p: I8, track_id: I8, time: I8, lon: F8, lat: F8, alt: F8, memory: TrackMemory | None
    ) -> tuple[I8, I8, F8, F8]:
        """Previous point of each intrusion's track (in the batch or in memory)."""
        order = np.lexsort((time, track_id))
        same = np.zeros(len(order), dtype=np.bool_)
        same[1:] = track_id[order[1:]] == track_id[order[:-1]]
        prev_of = np.full(len(track_id), -1, dtype=np.int64)
        prev_of[order[1:][same[1:]]] = order[:-1][same[1:]]
        prev = prev_of[p]
        pt = np.where(prev >= 0, time[np.maximum(prev, 0)], -1)
        plon = np.where(prev >= 0, lon[np.maximum(prev, 0)], np.nan)
        plat = np.where(prev >= 0, lat[np.maximum(prev, 0)], np.nan)
        if memory is not None:
            first = np.flatnonzero(prev < 0)
            if len(first):
                mt, mlon, mlat = memory._lookup(track_id[p[first]])
                pt[first], plon[first], plat[first] = mt, mlon, mlat
            last = order[np.append(~same[1:], True)]
            memory._remember(track_id[last], time[last], lon[last], lat[last], alt[last])
        return prev, pt, plon, plat

    def check_point(
        self, point: TrackPoint, *, party: str, prev: TrackPoint | None = None
    ) -> list[Intrusion]:
        """Intrusions of one point; ``prev`` is the track's previous point, if known.

        Same rule as ``check_batch`` (tests hold them equal), on scalars: one grid-cell
        lookup, then a geodesic inverse per candidate.
        """
        lon = float(geo.wrap_lon(point.lon))
        c = self._cell
        i = min(max(int((point.lat + 90.0) // c), 0), round(180.0 / c) - 1)
        j = min(max(int((lon + 180.0) // c), 0), self._nj - 1)
        row = self._cell_row.get(i * self._nj + j)
        cand = (
            []
            if row is None
            else self._cell_targets[self._cell_off[row] : self._cell_off[row + 1]].tolist()
        )
        own = self._party_codes.get(party, -2)
        found: list[tuple[int, int, str]] = []
        for k in [*cand, *self._big.tolist()]:
            tgt, lim = self.targets[k], self._scalar[k]
            if not (lim[0] <= point.alt_m <= lim[1] and lim[2] <= point.time < lim[3]):
                continue
            if tgt.kind is IntrusionKind.VOLUME and lim[4] == own:
                continue
            shape = tgt.shape
            if isinstance(shape, Disc):
                inside = float(geo.GEOD.inv(lon, point.lat, shape.lon, shape.lat)[2]) <= lim[5]
            else:
                inside = bool(self._inside_core(k, np.array([lon]), np.array([point.lat]))[0])
            if inside:
                found.append((int(tgt.kind), k, tgt.id))
        if self.boundaries is not None:
            codes = self.boundaries.codes
            here = self.boundaries.locate(lon, point.lat)
            home = set(self._territories.get(party, (party,)))
            if not home.intersection(here):
                found += [
                    (int(IntrusionKind.BOUNDARY), codes.index(cc), cc)
                    for cc in here
                    if self._watched[codes.index(cc)]
                ]
        found.sort()
        return [Intrusion(IntrusionKind(kd), name, point, prev) for kd, _, name in found]

    def target_name(self, kind: int, target: int) -> str:
        """The site id, volume id or country code that ``BatchIntrusions.target`` points at."""
        if kind == IntrusionKind.BOUNDARY and self.boundaries is not None:
            return self.boundaries.codes[target]
        return self.targets[target].id


def _site_target(site: ProtectedSite) -> _Target:
    start, end = (
        (site.start, site.end) if site.start is not None and site.end is not None else _NEVER
    )
    upper = math.inf if site.ceiling_m is None else site.ceiling_m
    return _Target(IntrusionKind.ZONE, site.id, None, site.zone, -math.inf, upper, start, end)


def _volume_target(v: Volume) -> _Target:
    return _Target(
        IntrusionKind.VOLUME, v.id, v.party, v.footprint, v.lower_m, v.upper_m, v.start, v.end
    )
