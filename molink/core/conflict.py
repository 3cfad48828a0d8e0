"""Deconfliction engines: an incremental index and a brute-force reference.

Both apply the rule of ``separation.py`` (DESIGN.md "Deconfliction"; the shared benchmark's
``deconfliction_workload.py`` is its reference) to a checked volume against every stored
volume of another party and every protected site, and return the same sorted conflicts, so
that each node reaches the same result from the same notifications.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np
import shapely
from numpy.typing import NDArray

from molink.core import geo
from molink.core.separation import (
    ALWAYS,
    Conflict,
    ConflictKind,
    Item,
    Resolution,
    SeparationPolicy,
    SeparationRule,
    apply_resolution,
    describe_conflict,
    item_band,
    item_core,
    item_shape,
    item_window,
    rule_conflicts,
)
from molink.core.sites import ProtectedSite
from molink.core.volume import Area, Disc, Footprint, Volume
from molink.errors import NotFound, StateConflict

__all__ = [
    "BruteForceEngine",
    "Conflict",
    "ConflictIndex",
    "ConflictKind",
    "Resolution",
    "SeparationPolicy",
    "SeparationRule",
    "apply_resolution",
]

Slots = NDArray[np.intp]
Floats = NDArray[np.float64]

# Columns of the per-slot float matrix (times are exact in float64 below 2**53). The first
# five are laid out so that, under a uniform rule, one comparison against a row decides
# altitude, time and liveness: lower < q.upper + v, start < q.end + 2 pad,
# -(upper + v) < -q.lower, -(end + pad) < -(q.start - pad), dead < 0.5.
_LO, _START, _NUPV, _NENDP, _DEAD, _PARTY, _UP, _END = range(8)
_H, _V, _PAD, _RADIUS, _SITE, _POINT, _LON, _LAT = range(8, 16)
_NCOL = 16
_LONG = -(2**62)  # the time bucket of long-lived items and permanent sites


class BruteForceEngine:
    """Reference engine: every stored item through the exact rule, O(n) per check.

    It shares no index or approximation code with ``ConflictIndex``; tests hold the two to
    identical results.
    """

    def __init__(self, *, policy: SeparationPolicy | None = None) -> None:
        self.policy = policy or SeparationPolicy()
        self._items: dict[str, Item] = {}

    def __len__(self) -> int:
        return len(self._items)

    def get(self, item_id: str) -> Item:
        try:
            return self._items[item_id]
        except KeyError as exc:
            raise NotFound(f"no volume or site {item_id!r}") from exc

    def add(self, item: Item) -> None:
        if item.id in self._items:
            raise StateConflict(f"{item.id!r} is already stored; use update")
        self._items[item.id] = item

    def update(self, item: Item) -> None:
        if item.id not in self._items:
            raise NotFound(f"no volume or site {item.id!r}")
        self._items[item.id] = item

    def remove(self, item_id: str) -> None:
        if self._items.pop(item_id, None) is None:
            raise NotFound(f"no volume or site {item_id!r}")

    def conflicting_ids(self, volume: Volume) -> list[str]:
        return sorted(
            other.id
            for other in self._items.values()
            if rule_conflicts(volume, other, self.policy) is not None
        )

    def check(self, volume: Volume, *, geometry: bool = True) -> list[Conflict]:
        out = []
        for other in self._items.values():
            d = rule_conflicts(volume, other, self.policy)
            if d is not None:
                out.append(
                    describe_conflict(
                        volume, other, policy=self.policy, separation_m=d, geometry=geometry
                    )
                )
        return sorted(out, key=lambda c: c.sort_key)


def _ecef_template(core: geo.Core, xyz: Floats) -> shapely.Geometry:
    """The core with ECEF (x, y, z) coordinates, projected per check onto a tangent plane."""
    if core.dim == 0:
        return shapely.points(xyz[0])
    if core.dim == 1:
        segs = np.stack([xyz[core.seg_i], xyz[core.seg_j]], axis=1)
        return shapely.multilinestrings(shapely.linestrings(segs))
    polys = []
    for p in range(int(core.ring_poly.max()) + 1):
        rings = [
            np.vstack([xyz[core.ring_off[k] : core.ring_off[k + 1]], xyz[core.ring_off[k]]])
            for k in np.flatnonzero(core.ring_poly == p)
        ]
        polys.append(shapely.polygons(rings[0], holes=rings[1:] or None))
    return polys[0] if len(polys) == 1 else shapely.multipolygons(polys)


class _Probe:
    """The checked footprint's vertices, ECEF coordinates and tangent-plane template, built
    once per check; the exact core only when an undecided pair needs it."""

    __slots__ = ("_core", "fp", "lat", "lon", "xyz")

    def __init__(self, fp: Footprint) -> None:
        self.fp = fp
        self._core: geo.Core | None = None
        if isinstance(fp, Area) and len(fp.polygons) == 1 and len(fp.polygons[0]) == 1:
            ring = np.asarray(fp.polygons[0][0], dtype=np.float64)
            self.lon, self.lat = ring[:, 0], ring[:, 1]
        elif isinstance(fp, Disc):
            self.lon, self.lat = np.array([fp.lon]), np.array([fp.lat])
        else:
            self._core = fp.core()
            self.lon, self.lat = self._core.lon, self._core.lat
        self.xyz = np.column_stack(geo.ecef(self.lon, self.lat))

    def core(self) -> geo.Core:
        if self._core is None:
            self._core = self.fp.core()
        return self._core

    def simple(self) -> bool:
        return self._core is None or self._core.dim == 0

    def boxes(self, reach: float) -> list[geo.Box]:
        if not self.simple() and self.core().dim == 1:
            return geo.core_bboxes(self.core(), reach, self.xyz)
        lon, lat, r = geo.vertices_disc(self.lon, self.lat, self.xyz)
        return geo.disc_bboxes(lon, lat, r + reach)

    def template(self) -> shapely.Geometry:
        if isinstance(self.fp, Disc):
            return shapely.points(self.xyz[0])
        if self._core is None:
            return shapely.polygons(np.vstack([self.xyz, self.xyz[:1]]))
        return _ecef_template(self._core, self.xyz)


class ConflictIndex:
    """Incremental deconfliction index: ``check`` costs O(log n + k) plus O(sqrt n) vectorised.

    Time part: the time axis is cut into buckets of ``time_bucket_s``; an item is filed under
    every bucket its window, widened by the largest time pad, touches (items spanning more
    than ``long_buckets`` buckets, and permanent sites, under one "long" bucket). Two windows
    that overlap share an instant, so they share that instant's bucket.

    Spatial part: per bucket, a shapely 2 ``STRtree`` over antimeridian-aware lon/lat boxes (an
    item that crosses 180 degrees has two boxes; one that may reach a pole spans all
    longitudes), plus a delta of boxes added since the last build, scanned with numpy and
    merged into new trees once it holds more than ``max(rebuild_min, 4 sqrt(n))`` boxes, so
    rebuilds are amortised. Removal marks a slot dead (an update is a removal plus an add);
    dead slots leave the trees at the next rebuild. Candidates then pass the exact party,
    altitude and time filter on a column matrix.

    Horizontal decision: disc against disc is one exact geodesic inverse. Otherwise both cores
    are projected onto the tangent plane at the checked volume's first vertex; the planar
    distance decides when it is farther than a proven error bound from the threshold, else
    ``geo.core_distance`` decides exactly. The results equal ``BruteForceEngine``'s.
    """

    def __init__(
        self,
        *,
        policy: SeparationPolicy | None = None,
        rebuild_min: int = 256,
        time_bucket_s: int = 86_400,
        long_buckets: int = 8,
    ) -> None:
        self.policy = policy or SeparationPolicy()
        self._rebuild_min = rebuild_min
        self._bucket_s = max(1, int(time_bucket_s))
        self._long_buckets = max(1, int(long_buckets))
        p = self.policy
        self._pad_max = max(
            [p.default.time_pad_s, p.site.time_pad_s] + [r.time_pad_s for _, r in p.per_kind]
        )
        self._slot_of: dict[str, int] = {}
        self._items: list[Item] = []
        self._cores: list[geo.Core] = []
        self._parties: dict[str, int] = {}
        self._n = 0
        self._f = np.zeros((64, _NCOL), dtype=np.float64)
        self._alive = np.zeros(64, dtype=np.bool_)
        self._templates = np.empty(64, dtype=object)
        self._boxes = np.zeros((64, 4), dtype=np.float64)
        self._box_slot = np.zeros(64, dtype=np.intp)
        self._box_bucket = np.zeros(64, dtype=np.int64)
        self._nbox = 0
        self._multibox = False
        self._sites = 0
        self._trees: dict[int, tuple[shapely.STRtree, Slots]] = {}
        self._bucket_keys = np.zeros(0, dtype=np.int64)
        self._tree_upto = 0

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._slot_of

    def __iter__(self) -> Iterator[Item]:
        return (self._items[s] for s in sorted(self._slot_of.values()))

    def get(self, item_id: str) -> Item:
        """The indexed item with this id. Raises NotFound."""
        try:
            return self._items[self._slot_of[item_id]]
        except KeyError as exc:
            raise NotFound(f"no volume or site {item_id!r}") from exc

    def add(self, item: Item) -> None:
        """Index a volume or a protected site. Raises StateConflict if the id is indexed."""
        if item.id in self._slot_of:
            raise StateConflict(f"{item.id!r} is already indexed; use update")
        self._append(item)
        if self._nbox - self._tree_upto > max(self._rebuild_min, 4 * math.isqrt(self._nbox)):
            self._rebuild()

    def add_all(self, items: Iterable[Item]) -> None:
        """Index many items, then build the tree once."""
        for item in items:
            if item.id in self._slot_of:
                raise StateConflict(f"{item.id!r} is already indexed; use update")
            self._append(item)
        self._rebuild()

    def update(self, item: Item) -> None:
        """Replace the indexed item with the same id. Raises NotFound."""
        self.remove(item.id)
        self.add(item)

    def remove(self, item_id: str) -> None:
        """Forget an item. Raises NotFound."""
        slot = self._slot_of.pop(item_id, None)
        if slot is None:
            raise NotFound(f"no volume or site {item_id!r}")
        self._alive[slot] = False
        self._f[slot, _DEAD] = 1.0
        if self._f[slot, _SITE]:
            self._sites -= 1

    def _grow(self, nboxes: int) -> None:
        cap = len(self._alive)
        if self._n + 1 > cap:
            self._f = np.concatenate([self._f, np.zeros_like(self._f)])
            self._alive = np.concatenate([self._alive, np.zeros_like(self._alive)])
            self._templates = np.concatenate([self._templates, np.empty(cap, dtype=object)])
        bcap = len(self._box_slot)
        if self._nbox + nboxes > bcap:
            more = max(bcap, nboxes)
            self._boxes = np.concatenate([self._boxes, np.zeros((more, 4), dtype=np.float64)])
            self._box_slot = np.concatenate([self._box_slot, np.zeros(more, dtype=np.intp)])
            self._box_bucket = np.concatenate([self._box_bucket, np.zeros(more, dtype=np.int64)])

    def _append(self, item: Item) -> None:
        core, fp = item_core(item), item_shape(item)
        xyz = np.column_stack(geo.ecef(core.lon, core.lat))
        boxes = geo.core_bboxes(core, fp.radius_m, xyz)
        buckets = self._buckets(*item_window(item))
        self._grow(len(boxes) * len(buckets))
        slot = self._n
        if isinstance(item, ProtectedSite):
            is_site, rule, party, alive = True, self.policy.site, -1, True
        else:
            is_site, rule, alive = False, self.policy.rule_for_kind(item.kind), item.deconflicted
            party = self._parties.setdefault(item.party, len(self._parties))
        lo, up = item_band(item)
        start, end = item_window(item)
        d = self.policy.default
        self._f[slot] = (
            lo, start, -(up + d.vertical_m), -(end + d.time_pad_s), not alive, party, up, end,
            rule.horizontal_m, rule.vertical_m, rule.time_pad_s,
            fp.radius_m, is_site, core.dim == 0, core.lon[0], core.lat[0],
        )  # fmt: skip
        self._alive[slot] = alive
        self._sites += is_site
        self._multibox |= len(boxes) * len(buckets) > 1
        for bucket in buckets:
            for box in boxes:
                self._boxes[self._nbox] = box
                self._box_slot[self._nbox] = slot
                self._box_bucket[self._nbox] = bucket
                self._nbox += 1
        self._items.append(item)
        self._cores.append(core)
        self._templates[slot] = _ecef_template(core, xyz)
        self._slot_of[item.id] = slot
        self._n += 1

    def _buckets(self, start: int, end: int) -> list[int]:
        """Time buckets of a window widened by the largest pad; [_LONG] if too many."""
        if (start, end) == ALWAYS:
            return [_LONG]
        first = (start - self._pad_max) // self._bucket_s
        last = (end + self._pad_max - 1) // self._bucket_s
        if last - first >= self._long_buckets:
            return [_LONG]
        return list(range(first, last + 1))

    def _rebuild(self) -> None:
        keep = np.flatnonzero(self._alive[self._box_slot[: self._nbox]])
        keep = keep[np.argsort(self._box_bucket[keep], kind="stable")]
        bucket = self._box_bucket[keep]
        keys, first = np.unique(bucket, return_index=True)
        self._trees = {}
        for k, lo, hi in zip(
            keys.tolist(), first.tolist(), [*first[1:].tolist(), len(keep)], strict=True
        ):
            rows = keep[lo:hi]
            b = self._boxes[rows]
            tree = shapely.STRtree(shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3]))
            self._trees[k] = (tree, self._box_slot[rows])
        self._bucket_keys = np.asarray([k for k in keys.tolist() if k != _LONG], dtype=np.int64)
        self._tree_upto = self._nbox

    def _query(self, boxes: list[geo.Box], start: int, end: int) -> Slots:
        """Slots whose boxes meet any of ``boxes`` in a time bucket of [start, end) widened
        by the largest pad: sorted, without repeats."""
        found = []
        first = (start - self._pad_max) // self._bucket_s
        last = (end + self._pad_max - 1) // self._bucket_s
        lo, hi = np.searchsorted(self._bucket_keys, [first, last + 1])
        visit = [*self._bucket_keys[lo:hi].tolist(), _LONG]
        qbox = shapely.box(*boxes[0]) if len(boxes) == 1 else shapely.box(*np.asarray(boxes).T)
        for key in visit:
            entry = self._trees.get(key)
            if entry is not None:
                hits = entry[0].query(qbox)
                found.append(entry[1][hits if len(boxes) == 1 else hits[1]])
        if self._nbox > self._tree_upto:
            d = self._boxes[self._tree_upto : self._nbox]
            hit = np.zeros(len(d), dtype=np.bool_)
            for w, s, e, n in boxes:
                hit |= (d[:, 0] <= e) & (d[:, 2] >= w) & (d[:, 1] <= n) & (d[:, 3] >= s)
            found.append(self._box_slot[self._tree_upto : self._nbox][hit])
        out = found[0] if len(found) == 1 else np.concatenate(found or [np.zeros(0, np.intp)])
        out.sort()
        if (self._multibox or len(boxes) > 1 or len(found) > 1) and len(out) > 1:
            out = out[np.concatenate(([True], out[1:] != out[:-1]))]
        return out

    def _filter(self, q: Volume, slots: Slots) -> tuple[Slots, Floats, Floats]:
        """Party, status, altitude and time parts of the rule on the candidates.

        Returns the survivors with their pair rule's horizontal separation and the rows.
        """
        m = self._f[slots]
        party = self._parties.get(q.party, -2)
        if not self.policy.per_kind and not self._sites:
            d = self.policy.default
            row = (
                q.upper_m + d.vertical_m,
                q.end + 2 * d.time_pad_s,
                -q.lower_m,
                -(q.start - d.time_pad_s),
                0.5,
            )
            keep = (m[:, :5] < row).all(axis=1) & (m[:, _PARTY] != party)
            own = self._slot_of.get(q.id)
            if own is not None:
                keep &= slots != own
            return slots[keep], np.full(int(keep.sum()), d.horizontal_m), m[keep]
        qr = self.policy.rule_for_kind(q.kind)
        h = np.maximum(m[:, _H], qr.horizontal_m)
        v = np.maximum(m[:, _V], qr.vertical_m)
        pad = np.maximum(m[:, _PAD], qr.time_pad_s)
        keep = self._alive[slots] & (m[:, _PARTY] != party)
        if self._sites:
            site, sr = m[:, _SITE] > 0, self.policy.site
            h = np.where(site, sr.horizontal_m, h)
            v = np.where(site, sr.vertical_m, v)
            pad = np.where(site, sr.time_pad_s, pad)
        keep &= (m[:, _LO] < q.upper_m + v) & (q.lower_m < m[:, _UP] + v)
        keep &= (m[:, _START] - pad < q.end + pad) & (q.start - pad < m[:, _END] + pad)
        own = self._slot_of.get(q.id)
        if own is not None:
            keep &= slots != own
        return slots[keep], h[keep], m[keep]

    def _find(self, q: Volume) -> list[tuple[int, float]]:
        """(slot, separation m) of every conflicting item, by slot."""
        if not q.deconflicted or self._n == 0:
            return []
        fp = q.footprint
        reach = fp.radius_m + self.policy.max_horizontal_m
        probe = None if isinstance(fp, Disc) else _Probe(fp)
        if isinstance(fp, Disc):
            boxes = geo.disc_bboxes(fp.lon, fp.lat, reach)
        elif probe is not None:
            boxes = probe.boxes(reach)
        slots = self._query(boxes, q.start, q.end)
        if len(slots) == 0:
            return []
        slots, h, m = self._filter(q, slots)
        if len(slots) == 0:
            return []
        out: list[tuple[int, float]] = []
        rest: list[int] = []
        hl, point = h.tolist(), m[:, _POINT].tolist()
        for k, slot in enumerate(slots.tolist()):
            if isinstance(fp, Disc) and point[k]:
                d = float(geo.GEOD.inv(fp.lon, fp.lat, m[k, _LON], m[k, _LAT])[2])
                d = max(0.0, d - fp.radius_m - float(m[k, _RADIUS]))
                if d <= hl[k]:
                    out.append((slot, d))
            else:
                rest.append(k)
        if rest:
            probe = probe or _Probe(fp)
            out.extend(self._planar_decide(probe, slots[rest], h[rest], m[rest]))
        return sorted(out)

    def _planar_decide(
        self, probe: _Probe, slots: Slots, h: Floats, m: Floats
    ) -> list[tuple[int, float]]:
        """Tangent-plane distances with a proven error bound; exact where that cannot decide.

        Orthographic projection onto the tangent plane at o changes a distance d between points
        within rho of o by at most d (rho/R)^2 / 2, and a geodesic edge of length L <= 2 rho
        bows at most L^2 / (8R) off its chord, tilted by at most rho/R, with R the smallest
        radius of curvature on WGS84. The margin is their sum, at most
        ``(thr + rho) (rho/R)^2 / 2``, plus 1 m.
        """
        lam, phi = math.radians(float(probe.lon[0])), math.radians(float(probe.lat[0]))
        o = probe.xyz[0]
        sl, cl, sp, cp = math.sin(lam), math.cos(lam), math.sin(phi), math.cos(phi)
        basis = np.array([[-sl, -sp * cl, 0.0], [cl, -sp * sl, 0.0], [0.0, cp, 0.0]])

        def project(xyz: Floats) -> Floats:
            return np.asarray((xyz - o) @ basis)

        geoms = np.concatenate([[probe.template()], self._templates[slots]])
        flat = shapely.transform(geoms, project, include_z=True)
        dist = shapely.distance(flat[0], flat[1:]).tolist()
        b = np.abs(shapely.bounds(flat))
        reach = np.hypot(np.maximum(b[:, 0], b[:, 2]), np.maximum(b[:, 1], b[:, 3])).tolist()
        rq = probe.fp.radius_m
        out: list[tuple[int, float]] = []
        for k, (slot, hk, rs) in enumerate(
            zip(slots.tolist(), h.tolist(), m[:, _RADIUS].tolist(), strict=True)
        ):
            rho = max(reach[0], reach[k + 1]) * 1.01 + 1.0
            thr = hk + rq + rs
            t = rho / geo.R_MIN
            margin = 1.0 + 0.5 * (thr + rho) * t * t
            if rho > 300_000.0 or abs(dist[k] - thr) <= margin:
                # the same arithmetic as separation.footprint_distance, so ties agree
                sep = max(0.0, geo.core_distance(probe.core(), self._cores[slot]) - rq - rs)
                if sep <= hk:
                    out.append((slot, sep))
            elif dist[k] < thr:
                out.append((slot, max(0.0, dist[k] - rq - rs)))
        return out

    def conflicting_ids(self, volume: Volume) -> list[str]:
        """Ids of everything ``volume`` conflicts with, sorted: the decision of ``check``
        without building conflict records."""
        return sorted(self._items[slot].id for slot, _ in self._find(volume))

    def check(self, volume: Volume, *, geometry: bool = True) -> list[Conflict]:
        """Every conflict of ``volume`` with the indexed volumes and sites, sorted.

        ``volume`` need not be indexed; if it is, it is not compared with itself.
        ``geometry=False`` skips the display geometry (``Conflict.overlap`` is then None).
        A separation decided on the tangent plane is accurate to the margin above (metres).
        """
        out = [
            describe_conflict(
                volume, self._items[slot], policy=self.policy, separation_m=sep, geometry=geometry
            )
            for slot, sep in self._find(volume)
        ]
        return sorted(out, key=lambda c: c.sort_key)
