"""Separation rule boundaries, conflict records, resolutions and the index's bookkeeping."""

from __future__ import annotations

import pytest

from molink.core import conflict, geo, separation
from molink.core.conflict import (
    BruteForceEngine,
    ConflictIndex,
    ConflictKind,
    Resolution,
    SeparationPolicy,
    SeparationRule,
    apply_resolution,
)
from molink.core.separation import rule_conflicts
from molink.core.sites import ZAPORIZHZHIA_NPP, ProtectedSite, Provenance, SiteKind
from molink.core.volume import Area, Corridor, Disc, Volume, VolumeStatus
from molink.errors import NotFound, StateConflict

T0 = 1_771_200_000


def vol(
    vid: str,
    party: str,
    fp: Disc | Corridor | Area,
    lo: float = 1000,
    up: float = 2000,
    start: int = T0,
    end: int = T0 + 3600,
    kind: str = "airspace",
    status: VolumeStatus = VolumeStatus.ACTIVE,
) -> Volume:
    return Volume(
        id=vid,
        party=party,
        footprint=fp,
        lower_m=lo,
        upper_m=up,
        start=start,
        end=end,
        kind=kind,
        status=status,
    )


def disc_at(lon: float, lat: float, az: float, dist: float, radius: float) -> Disc:
    x, y, _ = geo.GEOD.fwd(lon, lat, az, dist)
    return Disc(float(geo.wrap_lon(x)), float(y), radius)


def engines(*items: Volume | ProtectedSite) -> list[ConflictIndex | BruteForceEngine]:
    idx, bf = ConflictIndex(), BruteForceEngine()
    for it in items:
        idx.add(it)
        bf.add(it)
    return [idx, bf]


A = Disc(30.0, 50.0, 10_000.0)


def test_public_api_is_pinned() -> None:
    assert sorted(conflict.__all__) == [
        "BruteForceEngine",
        "Conflict",
        "ConflictIndex",
        "ConflictKind",
        "Resolution",
        "SeparationPolicy",
        "SeparationRule",
        "apply_resolution",
    ]


@pytest.mark.parametrize(("sep", "hit"), [(4999.999, True), (5000.001, False)])
def test_horizontal_buffer_boundary(sep: float, hit: bool) -> None:
    b = disc_at(30.0, 50.0, 77.0, 10_000.0 + 3_000.0 + sep, 3_000.0)
    q = vol("q", "RU", b)
    for eng in engines(vol("a", "US", A)):
        assert (eng.conflicting_ids(q) == ["a"]) is hit


@pytest.mark.parametrize(("gap", "hit"), [(299, True), (300, False), (0, True), (-500, True)])
def test_vertical_gap_boundary(gap: int, hit: bool) -> None:
    q = vol("q", "RU", A, lo=2000 + gap, up=2000 + gap + 1000)
    for eng in engines(vol("a", "US", A, lo=1000, up=2000)):
        assert (eng.conflicting_ids(q) == ["a"]) is hit
    below = vol("q2", "RU", A, lo=0, up=1000 - gap)
    for eng in engines(vol("a", "US", A, lo=1000, up=2000)):
        assert (eng.conflicting_ids(below) == ["a"]) is hit


@pytest.mark.parametrize(("delta", "hit"), [(0, False), (-1, True), (1, False)])
def test_time_window_boundary(delta: int, hit: bool) -> None:
    # windows widened by 900 s each side, half-open: [T0, T0+3600) then start >= end + 1800
    q = vol("q", "RU", A, start=T0 + 3600 + 1800 + delta, end=T0 + 9000 + delta)
    for eng in engines(vol("a", "US", A)):
        assert (eng.conflicting_ids(q) == ["a"]) is hit
    before = vol("q", "RU", A, start=T0 - 9000, end=T0 - 1800 - delta)
    for eng in engines(vol("a", "US", A)):
        assert (eng.conflicting_ids(before) == ["a"]) is hit


def test_same_party_and_cancelled_volumes_never_conflict() -> None:
    for eng in engines(vol("own", "RU", A), vol("gone", "US", A, status=VolumeStatus.CANCELLED)):
        assert eng.conflicting_ids(vol("q", "RU", A)) == []
        assert eng.conflicting_ids(vol("q", "US", A, status=VolumeStatus.CANCELLED)) == []


def test_antimeridian_volumes_conflict() -> None:
    a = vol("a", "US", Disc(179.95, 65.8, 1000.0))
    q = vol("q", "RU", Disc(-179.95, 65.8, 1000.0))  # centres 4.6 km apart
    far = vol("f", "UA", Disc(0.05, 65.8, 1000.0))
    for eng in engines(a, far):
        assert eng.conflicting_ids(q) == ["a"]


def test_polar_volumes_conflict_across_the_pole() -> None:
    cap = Area(((((0.0, 89.97), (90.0, 89.97), (180.0, 89.97), (-90.0, 89.97)),),))
    a = vol("a", "US", cap)
    b = vol("b", "UA", Disc(0.0, 89.98, 1000.0))
    q = vol("q", "RU", Disc(180.0, 89.92, 2000.0))  # 5.6 km from the cap, 11.2 km from b
    q2 = vol("q2", "RU", Disc(180.0, 89.98, 1000.0))  # 4.5 km from b across the pole
    for eng in engines(a, b):
        assert eng.conflicting_ids(q) == ["a"]
        assert eng.conflicting_ids(q2) == ["a", "b"]


def test_corridor_conflicts_with_disc_near_its_middle() -> None:
    # a meridian is a geodesic, and the geodesic leaving it at azimuth 90 is perpendicular
    corridor = Corridor(((30.0, 50.0), (30.0, 51.0)), width_m=2000.0)
    near = disc_at(30.0, 50.5, 90.0, 1000.0 + 5000.0 + 400.0 - 0.01, 400.0)
    far = disc_at(30.0, 50.5, 90.0, 1000.0 + 5000.0 + 400.0 + 0.01, 400.0)
    for eng in engines(vol("c", "US", corridor)):
        assert eng.conflicting_ids(vol("n", "RU", near)) == ["c"]
        assert eng.conflicting_ids(vol("f", "RU", far)) == []


def test_site_conflict_any_party() -> None:
    drone = vol("d", "US", Disc(34.5858, 47.80, 3000.0))  # ~32 km north of the plant
    for eng in engines(ZAPORIZHZHIA_NPP):
        assert eng.conflicting_ids(drone) == [ZAPORIZHZHIA_NPP.id]
        (c,) = eng.check(drone, geometry=False)
        assert c.kind is ConflictKind.SITE
        assert c.other_party is None
        assert c.options == ()  # permanent site without a ceiling: only rerouting clears it
    away = vol("d2", "US", Disc(34.5858, 47.90, 3000.0))
    assert ConflictIndex().conflicting_ids(away) == []


def test_site_with_ceiling_offers_a_climb() -> None:
    hospital = ProtectedSite(
        id="h1",
        name="Hospital",
        kind=SiteKind.HOSPITAL,
        zone=Disc(30.0, 50.0, 2000.0),
        provenance=Provenance("UA", "test"),
        ceiling_m=1500.0,
    )
    q = vol("q", "RU", A, lo=1000, up=2000)
    (c,) = engines(hospital)[0].check(q)
    assert c.options == (Resolution(altitude_shift_m=500.0),)
    moved = apply_resolution(q, c.options[0])
    assert rule_conflicts(moved, hospital, SeparationPolicy()) is None


def test_conflict_record_fields() -> None:
    a = vol("a", "US", A, lo=1000, up=2000)
    q = vol("q", "RU", Disc(30.0, 50.0, 1000.0), lo=1500, up=3000, start=T0 + 1800, end=T0 + 7200)
    (c,) = engines(a)[0].check(q)
    assert (c.volume_id, c.other_id, c.kind, c.other_party) == ("q", "a", ConflictKind.VOLUME, "US")
    assert c.separation_m == 0.0
    assert c.vertical_gap_m == -500.0
    assert c.time_overlap == (T0 + 1800 - 900, T0 + 3600 + 900)
    assert c.overlap is not None
    assert c.overlap["type"] in ("Polygon", "MultiPolygon")
    # later: start >= 3600 + 1800 -> +3600; earlier: end <= -1800 -> -9000; up 800; down -2300
    assert c.options == (Resolution(time_shift_s=3600), Resolution(altitude_shift_m=800.0))
    assert c.suggested == Resolution(time_shift_s=3600)


def test_every_resolution_clears_its_conflict() -> None:
    a = vol("a", "US", Area(((((29.9, 49.9), (30.1, 49.9), (30.1, 50.1), (29.9, 50.1)),),)))
    q = vol("q", "RU", A, lo=500, up=1500, start=T0 - 600, end=T0 + 600)
    (c,) = engines(a)[0].check(q, geometry=False)
    assert len(c.options) == 2
    for res in c.options:
        moved = apply_resolution(q, res)
        assert rule_conflicts(moved, a, SeparationPolicy()) is None
        assert engines(a)[0].check(moved) == []


def test_float_altitudes_resolution_still_clears() -> None:
    lo = geo.flight_level_to_m(55)
    a = vol("a", "US", A, lo=lo, up=lo + 1000.1)
    q = vol("q", "RU", A, lo=lo + 0.3, up=lo + 700.7)
    (c,) = engines(a)[1].check(q, geometry=False)
    alt = next(r for r in c.options if r.altitude_shift_m)
    assert rule_conflicts(apply_resolution(q, alt), a, SeparationPolicy()) is None


def test_per_kind_rule_uses_the_stricter_of_both() -> None:
    policy = SeparationPolicy().with_kind("missile", SeparationRule(50_000.0, 1000.0, 3600))
    a = vol("a", "US", A)
    q = vol("q", "RU", disc_at(30.0, 50.0, 0.0, 10_000 + 1000 + 20_000, 1000.0), kind="missile")
    idx, bf = ConflictIndex(policy=policy), BruteForceEngine(policy=policy)
    idx.add(a)
    bf.add(a)
    assert idx.conflicting_ids(q) == bf.conflicting_ids(q) == ["a"]
    assert ConflictIndex().conflicting_ids(q) == []
    assert policy.rule_for(a, q) == SeparationRule(50_000.0, 1000.0, 3600)


def test_index_add_update_remove() -> None:
    idx = ConflictIndex(rebuild_min=2)
    idx.add(vol("a", "US", A))
    with pytest.raises(StateConflict):
        idx.add(vol("a", "US", A))
    with pytest.raises(NotFound):
        idx.remove("nope")
    with pytest.raises(NotFound):
        idx.update(vol("nope", "US", A))
    q = vol("q", "RU", A)
    assert idx.conflicting_ids(q) == ["a"]
    idx.update(vol("a", "US", Disc(40.0, 50.0, 1000.0)))
    assert idx.conflicting_ids(q) == []
    assert "a" in idx
    assert len(idx) == 1
    idx.remove("a")
    assert idx.conflicting_ids(q) == []
    for k in range(20):
        idx.add(vol(f"v{k:02d}", "US", disc_at(30.0, 50.0, 18.0 * k, 100.0 * k, 500.0)))
    assert idx.conflicting_ids(q) == [f"v{k:02d}" for k in range(20)]
    assert idx.get("v03").id == "v03"


def test_results_are_sorted_and_independent_of_insertion_order() -> None:
    items = [vol(f"v{k}", "US", disc_at(30.0, 50.0, 37.0 * k, 900.0 * k, 700.0)) for k in range(12)]
    q = vol("q", "RU", A)
    fwd, rev = ConflictIndex(), ConflictIndex()
    fwd.add_all(items)
    rev.add_all(items[::-1])
    assert fwd.check(q, geometry=False) == rev.check(q, geometry=False)
    ids = [c.other_id for c in fwd.check(q, geometry=False)]
    assert ids == sorted(ids)


def test_checking_an_indexed_volume_skips_itself() -> None:
    idx = ConflictIndex()
    a = vol("a", "US", A)
    idx.add(a)
    idx.add(vol("b", "RU", A))
    assert idx.conflicting_ids(a) == ["b"]


def test_footprint_distance_is_exact_for_discs() -> None:
    b = disc_at(30.0, 50.0, 45.0, 30_000.0, 5_000.0)
    d = separation.footprint_distance(vol("a", "US", A), vol("b", "RU", b))
    assert d == pytest.approx(15_000.0, abs=1e-6)


def test_regression_tie_at_threshold_uses_same_arithmetic_as_reference() -> None:
    """h == exact distance: the index once compared core distance with h + r1 + r2 while the
    reference compared core distance - r1 - r2 with h; rounding split the tie."""
    a = Corridor(((30.0, 50.00000000000001), (30.0, 50.00899044894598)), width_m=200.04836567186067)
    b = Area(
        (
            (
                (
                    (30.0, 50.17791838165602),
                    (30.00483495690027, 50.17789118516858),
                    (30.009668424595727, 50.17780960408243),
                ),
            ),
        )
    )
    va, vb = vol("a", "US", a, lo=0, up=100), vol("b", "RU", b, lo=0, up=100)
    d = separation.footprint_distance(va, vb)
    policy = SeparationPolicy(default=SeparationRule(d, 300.0, 900))
    idx, ref = ConflictIndex(policy=policy), BruteForceEngine(policy=policy)
    idx.add(va)
    ref.add(va)
    assert idx.conflicting_ids(vb) == ref.conflicting_ids(vb) == ["a"]
