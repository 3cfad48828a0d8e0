"""Property: the indexed engine returns exactly the brute-force reference's conflicts.

Volumes are drawn in small arenas (mid-latitudes, across the antimeridian north and south,
next to the pole) with sizes around the 5 km buffer, and with integer altitudes and times so
that the strict inequalities of the rule meet exact ties.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from molink.core import geo
from molink.core.conflict import BruteForceEngine, ConflictIndex, apply_resolution
from molink.core.separation import (
    SeparationPolicy,
    SeparationRule,
    footprint_distance,
    rule_conflicts,
)
from molink.core.sites import ProtectedSite, Provenance, SiteKind
from molink.core.volume import Area, Corridor, Disc, Volume

ARENAS = [(30.0, 50.0), (180.0, 65.8), (-180.0, -65.8), (0.0, 89.6)]
T0 = 1_771_200_000


def _at(lon: float, lat: float, az: float, dist: float) -> tuple[float, float]:
    x, y, _ = geo.GEOD.fwd(lon, lat, az, dist)
    return float(geo.wrap_lon(x)), float(y)


@st.composite
def footprints(draw: st.DrawFn, arena: tuple[float, float]) -> Disc | Corridor | Area:
    lon, lat = _at(*arena, draw(st.floats(0, 360)), draw(st.floats(0, 30_000)))
    shape = draw(st.sampled_from(["disc", "area", "corridor"]))
    if shape == "disc":
        return Disc(lon, lat, draw(st.floats(100, 15_000)))
    if shape == "corridor":
        n = draw(st.integers(2, 4))
        pts = [(lon, lat)]
        for _ in range(n - 1):
            pts.append(_at(*pts[-1], draw(st.floats(0, 360)), draw(st.floats(1000, 20_000))))
        return Corridor(tuple(pts), draw(st.floats(200, 6000)))
    k = draw(st.integers(3, 8))
    az = np.sort(np.asarray(draw(st.lists(st.floats(0, 359), min_size=k, max_size=k, unique=True))))
    size = draw(st.floats(500, 20_000))
    ring = tuple(_at(lon, lat, float(a), size * draw(st.floats(0.7, 1.0))) for a in az)
    return Area(((ring,),))


@st.composite
def volumes(draw: st.DrawFn, vid: str) -> Volume:
    arena = ARENAS[draw(st.integers(0, len(ARENAS) - 1))]
    lo = draw(st.integers(0, 20)) * 100
    start = T0 + draw(st.integers(0, 8)) * 900
    return Volume(
        id=vid,
        party=draw(st.sampled_from(["US", "RU", "UA"])),
        footprint=draw(footprints(arena)),
        lower_m=lo,
        upper_m=lo + draw(st.integers(1, 30)) * 100,
        start=start,
        end=start + draw(st.integers(1, 16)) * 900,
        kind=draw(st.sampled_from(["airspace", "drone"])),
    )


POLICY = SeparationPolicy().with_kind("drone", SeparationRule(2000.0, 150.0, 300))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_index_equals_brute_force(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 30))
    items = [data.draw(volumes(f"v{i:02d}")) for i in range(n)]
    idx = ConflictIndex(
        policy=POLICY,
        rebuild_min=data.draw(st.sampled_from([1, 4, 256])),
        time_bucket_s=data.draw(st.sampled_from([600, 3600, 86_400])),
        long_buckets=data.draw(st.sampled_from([1, 3, 8])),
    )
    ref = BruteForceEngine(policy=POLICY)
    site = ProtectedSite(
        id="site",
        name="plant",
        kind=SiteKind.NUCLEAR,
        zone=Disc(*_at(*ARENAS[0], 10.0, 5000.0), 8000.0),
        provenance=Provenance("AE", "test"),
        ceiling_m=3000.0,
    )
    window = data.draw(st.sampled_from([(None, None), (T0 + 1800, T0 + 5400)]))
    site = ProtectedSite(
        id=site.id,
        name=site.name,
        kind=site.kind,
        zone=site.zone,
        provenance=site.provenance,
        ceiling_m=site.ceiling_m,
        start=window[0],
        end=window[1],
    )
    everything: list[Volume | ProtectedSite] = [*items, site]
    for it in everything:
        idx.add(it)
        ref.add(it)
    # churn: updates and removals go through both engines
    for i in data.draw(st.lists(st.integers(0, n - 1), max_size=4, unique=True)):
        if data.draw(st.booleans()):
            idx.remove(items[i].id)
            ref.remove(items[i].id)
        else:
            new = data.draw(volumes(items[i].id))
            idx.update(new)
            ref.update(new)
    for j in range(3):
        q = data.draw(volumes(f"q{j}"))
        got = idx.check(q, geometry=False)
        want = ref.check(q, geometry=False)
        assert [c.other_id for c in got] == [c.other_id for c in want]
        for g, w in zip(got, want, strict=True):
            assert abs(g.separation_m - w.separation_m) <= 5.0
            assert (g.vertical_gap_m, g.time_overlap, g.options) == (
                w.vertical_gap_m,
                w.time_overlap,
                w.options,
            )
            # the suggested resolution clears the conflict it was made for
            if g.suggested is not None:
                moved = apply_resolution(q, g.suggested)
                assert rule_conflicts(moved, ref.get(g.other_id), POLICY) is None


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), delta=st.one_of(st.floats(-30.0, 30.0), st.floats(-0.01, 0.01)))
def test_decisions_at_the_horizontal_threshold(data: st.DataObject, delta: float) -> None:
    """The buffer is set a hair above or below the exact distance: the planar shortcut must
    defer to the exact distance inside its error margin."""
    arena = ARENAS[data.draw(st.integers(0, len(ARENAS) - 1))]
    a = data.draw(footprints(arena))
    b = data.draw(footprints(arena))
    va = Volume(id="a", party="US", footprint=a, lower_m=0, upper_m=100, start=T0, end=T0 + 60)
    vb = Volume(id="b", party="RU", footprint=b, lower_m=0, upper_m=100, start=T0, end=T0 + 60)
    d = footprint_distance(vb, va)  # as the engines measure: from the checked volume
    if d < 1.0:
        return
    h = max(0.0, d + delta)
    policy = SeparationPolicy(default=SeparationRule(h, 300.0, 900))
    idx, ref = ConflictIndex(policy=policy), BruteForceEngine(policy=policy)
    idx.add(va)
    ref.add(va)
    assert idx.conflicting_ids(vb) == ref.conflicting_ids(vb) == (["a"] if d <= h else [])
