"""Track intrusions into protected zones, other parties' active volumes and countries."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core import geo, tracks
from molink.core.boundaries import Boundaries, load_boundaries
from molink.core.sites import ZAPORIZHZHIA_NPP, ProtectedSite, Provenance, SiteKind
from molink.core.tracks import IntrusionDetector, IntrusionKind, TrackMemory, TrackPoint
from molink.core.volume import Area, Corridor, Disc, Volume, VolumeStatus

T0 = 1_771_200_000


@pytest.fixture(scope="module")
def borders() -> Boundaries:
    return load_boundaries()


def site(sid: str, zone: Disc | Area, **kw: float | int | None) -> ProtectedSite:
    return ProtectedSite(
        id=sid,
        name=sid,
        kind=SiteKind.HOSPITAL,
        zone=zone,
        provenance=Provenance("UA", "test"),
        **kw,  # type: ignore[arg-type]
    )


def at(lon: float, lat: float, az: float, dist: float) -> tuple[float, float]:
    x, y, _ = geo.GEOD.fwd(lon, lat, az, dist)
    return float(geo.wrap_lon(x)), float(y)


def pt(lon: float, lat: float, alt: float = 1000.0, t: int = T0, track: int = 1) -> TrackPoint:
    return TrackPoint(track, t, lat, lon, alt)


def test_public_api_is_pinned() -> None:
    assert sorted(tracks.__all__) == [
        "BatchIntrusions",
        "Intrusion",
        "IntrusionDetector",
        "IntrusionKind",
        "TrackMemory",
        "TrackPoint",
    ]


@pytest.mark.parametrize(
    ("dist", "hit"), [(29_999.99, True), (29_999.9999, True), (30_000.0001, False)]
)
def test_zaporizhzhia_zone_boundary(dist: float, hit: bool) -> None:
    det = IntrusionDetector(sites=[ZAPORIZHZHIA_NPP])
    z = ZAPORIZHZHIA_NPP.zone
    assert isinstance(z, Disc)
    lon, lat = at(z.lon, z.lat, 123.0, dist)
    got = det.check_point(pt(lon, lat), party="RU")
    assert [(i.kind, i.target) for i in got] == (
        [(IntrusionKind.ZONE, ZAPORIZHZHIA_NPP.id)] if hit else []
    )


def test_zone_across_antimeridian() -> None:
    det = IntrusionDetector(sites=[site("s", Disc(179.99, 65.8, 2000.0))])
    assert det.check_point(pt(-179.99, 65.8), party="US")[0].target == "s"
    assert det.check_point(pt(-179.9, 65.8), party="US") == []


def test_zone_at_the_pole() -> None:
    det = IntrusionDetector(sites=[site("s", Disc(0.0, 89.99, 3000.0))])
    assert det.check_point(pt(180.0, 89.995), party="US")[0].target == "s"
    assert det.check_point(pt(180.0, 89.96), party="US") == []


def test_polygon_zone_with_ceiling_and_validity() -> None:
    poly = Area(((((30.0, 50.0), (30.2, 50.0), (30.2, 50.2), (30.0, 50.2)),),))
    det = IntrusionDetector(sites=[site("s", poly, ceiling_m=3000.0, start=T0, end=T0 + 60)])
    assert det.check_point(pt(30.1, 50.1, alt=3000.0), party="US")[0].target == "s"
    assert det.check_point(pt(30.1, 50.1, alt=3000.5), party="US") == []
    assert det.check_point(pt(30.1, 50.1, t=T0 + 60), party="US") == []
    assert det.check_point(pt(30.3, 50.1), party="US") == []


def test_volume_is_four_dimensional_and_foreign_only() -> None:
    v = Volume(
        id="v",
        party="RU",
        footprint=Corridor(((30.0, 50.0), (30.0, 51.0)), width_m=4000.0),
        lower_m=1000,
        upper_m=2000,
        start=T0,
        end=T0 + 3600,
    )
    proposed = Volume(
        id="p",
        party="RU",
        footprint=Disc(30.0, 50.5, 50_000.0),
        lower_m=0,
        upper_m=9000,
        start=T0,
        end=T0 + 3600,
        status=VolumeStatus.PROPOSED,
    )
    det = IntrusionDetector(volumes=[v, proposed])
    lon, lat = at(30.0, 50.5, 90.0, 1999.0)
    assert [i.target for i in det.check_point(pt(lon, lat, 1000.0), party="US")] == ["v"]
    assert [i.target for i in det.check_point(pt(lon, lat, 2000.0), party="US")] == ["v"]
    assert det.check_point(pt(lon, lat, 2000.1), party="US") == []
    assert det.check_point(pt(lon, lat, 1500.0, t=T0 + 3600), party="US") == []
    assert det.check_point(pt(lon, lat, 1500.0), party="RU") == []  # its own volume
    far = at(30.0, 50.5, 90.0, 2001.0)
    assert det.check_point(pt(*far, 1500.0), party="US") == []


def test_boundaries_exclude_own_territory(borders: Boundaries) -> None:
    det = IntrusionDetector(boundaries=borders, watched=["PL", "EE", "UA", "RU"])
    wyryki = det.check_point(pt(23.5, 51.4), party="RU")
    assert [(i.kind, i.target) for i in wyryki] == [(IntrusionKind.BOUNDARY, "PL")]
    assert det.check_point(pt(37.6, 55.75), party="RU") == []  # Moscow: own territory
    assert [i.target for i in det.check_point(pt(24.75, 59.43), party="RU")] == ["EE"]
    assert det.check_point(pt(26.36, 59.82), party="RU") == []  # Vaindloo: not in 1:50m land
    assert det.check_point(pt(-150.0, 64.0), party="RU") == []  # Alaska: not watched
    both = IntrusionDetector(boundaries=borders, territories={"US": ["US", "PL"]})
    assert both.check_point(pt(23.5, 51.4), party="US") == []


def test_boundaries_across_the_antimeridian(borders: Boundaries) -> None:
    assert borders.locate(179.5, 66.0) == ["RU"]
    assert borders.locate(-179.5, 71.2) == ["RU"]
    assert borders.locate(-178.0 + 360.0, 51.8) == borders.locate(-178.0, 51.8)


def test_segment_previous_point_in_batch_and_memory() -> None:
    det = IntrusionDetector(sites=[site("s", Disc(30.0, 50.0, 5000.0))])
    mem = TrackMemory()
    first = det.check_batch(
        np.array([7, 8]),
        np.array([T0, T0]),
        np.array([49.0, 50.0]),
        np.array([30.0, 30.0]),
        np.array([100.0, 100.0]),
        party="US",
        memory=mem,
    )
    assert first.point.tolist() == [1]
    assert first.prev.tolist() == [-1]
    assert first.prev_time.tolist() == [-1]
    second = det.check_batch(
        np.array([8, 7, 7]),
        np.array([T0 + 15, T0 + 15, T0 + 30]),
        np.array([50.001, 49.99, 50.0]),
        np.array([30.0, 30.0, 30.0]),
        np.array([100.0, 100.0, 100.0]),
        party="US",
        memory=mem,
    )
    assert second.point.tolist() == [0, 1, 2]
    # point 0 (track 8) continues from the first batch; point 2 from point 1 of this batch
    assert second.prev.tolist() == [-1, -1, 1]
    assert second.prev_time.tolist() == [T0, T0, T0 + 15]
    assert second.prev_lat[0] == 50.0
    last = mem.last(7)
    assert last is not None
    assert (last.time, last.lat) == (T0 + 30, 50.0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), antimeridian=st.booleans())
def test_batch_equals_direct_geodesic_rule(seed: int, antimeridian: bool) -> None:
    rng = np.random.default_rng(seed)
    lon0 = 180.0 if antimeridian else 30.0
    zlon = geo.wrap_lon(lon0 + rng.uniform(-1, 1, 60))
    zlat = rng.uniform(60.0, 61.0, 60)
    zr = rng.uniform(1000, 30_000, 60)
    sites = [site(f"z{k}", Disc(float(zlon[k]), float(zlat[k]), float(zr[k]))) for k in range(60)]
    plon = geo.wrap_lon(lon0 + rng.uniform(-1.2, 1.2, 400))
    plat = rng.uniform(59.8, 61.2, 400)
    det = IntrusionDetector(sites=sites, cell_deg=float(rng.choice([0.05, 0.25, 1.0])))
    got = det.check_batch(
        np.arange(400), np.full(400, T0), plat, plon, np.full(400, 500.0), party="US"
    )
    _, _, d = geo.GEOD.inv(
        np.repeat(plon, 60), np.repeat(plat, 60), np.tile(zlon, 400), np.tile(zlat, 400)
    )
    want = np.argwhere(d.reshape(400, 60) <= zr)
    assert np.array_equal(np.stack([got.point, got.target], axis=1), want)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_single_point_api_equals_batch(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sites = [
        site(f"s{k}", Disc(float(rng.uniform(22, 26)), float(rng.uniform(50, 53)), 20_000.0))
        for k in range(8)
    ]
    sites.append(
        site("poly", Area(((((23.0, 51.0), (24.5, 51.0), (24.0, 52.0)),),)), ceiling_m=5000.0)
    )
    vols = [
        Volume(
            id=f"v{k}",
            party=str(rng.choice(["US", "RU"])),
            footprint=Corridor(((22.0, 50.0 + k), (26.0, 51.0 + k)), width_m=30_000.0),
            lower_m=0,
            upper_m=6000,
            start=T0,
            end=T0 + 600,
        )
        for k in range(3)
    ]
    det = IntrusionDetector(
        sites=sites, volumes=vols, boundaries=load_boundaries(), watched=["PL", "BY", "UA"]
    )
    n = 60
    lon, lat = rng.uniform(21.5, 26.5, n), rng.uniform(49.5, 53.5, n)
    alt, t = rng.uniform(0, 8000, n), T0 + rng.integers(-100, 700, n)
    batch = det.check_batch(np.arange(n), t, lat, lon, alt, party="RU")
    want = sorted(
        (int(p), int(k), det.target_name(int(k), int(g)))
        for p, k, g in zip(batch.point, batch.kind, batch.target, strict=True)
    )
    got = sorted(
        (p, int(i.kind), i.target)
        for p in range(n)
        for i in det.check_point(
            TrackPoint(p, int(t[p]), float(lat[p]), float(lon[p]), float(alt[p])), party="RU"
        )
    )
    assert got == want
