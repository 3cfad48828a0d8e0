"""The episode rule of the track service (one alert per entry into a target), vectorised over
batches, against a point-by-point reference: any batching of the same stream gives the same
entries."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core.sites import ProtectedSite, Provenance, SiteKind
from molink.core.track_input import PointColumns
from molink.core.tracks import IntrusionDetector, TrackMemory, TrackPoint
from molink.core.volume import Disc
from molink.services.tracks import TrackService

SITES = [
    ProtectedSite(
        id=f"s{k}",
        name=f"s{k}",
        kind=SiteKind.OTHER,
        zone=Disc(10.0 + 0.1 * k, 50.0, 4000.0),
        provenance=Provenance("US", "test"),
    )
    for k in range(3)
]
DET = IntrusionDetector(sites=SITES)


def _service() -> Any:
    svc = TrackService.__new__(TrackService)
    svc._inside = {}
    svc._memory = TrackMemory()
    return svc


def _reference(stream: list[tuple[int, int, float]]) -> list[tuple[int, int, str]]:
    """(track, time, site) of every entry, point by point in time order per track."""
    inside: dict[int, set[str]] = {}
    out = []
    for track, t, lon in sorted(stream, key=lambda x: (x[0], x[1])):
        cur = {
            i.target for i in DET.check_point(TrackPoint(track, t, 50.0, lon, 100.0), party="RU")
        }
        out += [(track, t, s) for s in sorted(cur - inside.get(track, set()))]
        inside[track] = cur
    return sorted(out)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(min_value=9.9, max_value=10.35), min_size=1, max_size=12),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=6),
)
def test_any_batching_finds_the_reference_entries(
    tracks: list[list[float]], cuts: list[int]
) -> None:
    stream = [
        (k, 1000 + 10 * j, lon) for k, lons in enumerate(tracks) for j, lon in enumerate(lons)
    ]
    stream.sort(key=lambda x: (x[1], x[0]))  # a live feed interleaves the tracks by time
    svc = _service()
    found: list[tuple[int, int, str]] = []
    i = 0
    for size in [*cuts, len(stream)]:
        part = stream[i : i + size]
        i += size
        if not part:
            continue
        ids = np.asarray([p[0] for p in part], dtype=np.int64)
        cols = PointColumns(
            [str(p[0]) for p in part],
            np.asarray([p[1] for p in part], dtype=np.int64),
            np.full(len(part), 50.0),
            np.asarray([p[2] for p in part], dtype=np.float64),
            np.full(len(part), 100.0),
        )
        hits = DET.check_batch(
            ids, cols.time, cols.lat, cols.lon, cols.alt_m, party="RU", memory=svc._memory
        )
        for r, kind, target in svc._episodes(ids, cols, hits, DET):
            p = int(hits.point[r])
            found.append((int(ids[p]), int(cols.time[p]), DET.target_name(kind, target)))
    assert sorted(found) == _reference(stream)
