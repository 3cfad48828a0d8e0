"""Deconfliction benchmark on the shared, seeded workload.

The workload is ``shared/benchmarks/deconfliction_workload.py`` beside the repository. Run from
the repository root: ``.venv/bin/python benchmarks/deconfliction.py [--sizes 10000,100000]``.

Measures, on one core:

* index build time, then the incremental check of the 1,000 query volumes against 10k and
  100k existing volumes (p50/p95/p99 of ``ConflictIndex.conflicting_ids``, of ``check``
  without and with display geometry), then adding the queries one by one;
* track ingest of 100k points against the workload's 10k zones, per point and in batches of
  1,000 (plus, separately, the national-boundary test);
* exactness: every query's conflict set and every intrusion is compared with an exact
  brute-force referee computed here (no index, no planar shortcut: the workload's own
  non-spatial mask, a triangle-inequality prune, then exact geodesic distances), and with the
  counts the workload's authors published. Conflict sets are written to ``bench-out/``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "benchmarks"
if not (SHARED / "deconfliction_workload.py").is_file():
    sys.exit(
        f"deconfliction benchmark: the shared workload is missing; expected "
        f"{SHARED / 'deconfliction_workload.py'} (shared/ beside the repository)"
    )
sys.path.insert(0, str(SHARED))
sys.path.insert(0, str(ROOT))

import deconfliction_workload as W  # type: ignore[import-not-found,unused-ignore]  # noqa: E402, N812

from molink.core import geo  # noqa: E402
from molink.core.boundaries import load_boundaries  # noqa: E402
from molink.core.conflict import ConflictIndex  # noqa: E402
from molink.core.sites import ProtectedSite, Provenance, SiteKind  # noqa: E402
from molink.core.tracks import IntrusionDetector, TrackMemory, TrackPoint  # noqa: E402
from molink.core.volume import Area, Disc, Volume  # noqa: E402

PUBLISHED_PAIRS = {10_000: 287, 100_000: 2_921}
PUBLISHED_INTRUSIONS = 230_023
TARGET_P99_MS = 0.3
TARGET_POINTS_S = 500_000


def _row(name: str, value: str, note: str = "") -> None:
    print(f"| {name:<52} | {value:>36} | {note:<44} |")


def _pcts(samples_s: Sequence[float]) -> tuple[float, float, float]:
    ms = np.asarray(samples_s) * 1e3
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def to_volumes(v: W.Volumes, prefix: str) -> list[Volume]:
    out = []
    for i in range(len(v)):
        if v.kind[i] == 0:
            fp: Disc | Area = Disc(float(v.lon[i]), float(v.lat[i]), float(v.radius_m[i]))
        else:
            vl, va = v.vertices(i)
            fp = Area(((tuple(zip(vl.tolist(), va.tolist(), strict=True)),),))
        out.append(
            Volume(
                id=f"{prefix}{i}",
                party=v.party_code(i),
                footprint=fp,
                lower_m=float(v.lower_m[i]),
                upper_m=float(v.upper_m[i]),
                start=int(v.t_start[i]),
                end=int(v.t_end[i]),
            )
        )
    return out


def _core(v: W.Volumes, i: int) -> geo.Core:
    if v.kind[i] == 0:
        return geo.core_point(float(v.lon[i]), float(v.lat[i]))
    vl, va = v.vertices(i)
    return geo.core_from_rings([[list(zip(vl.tolist(), va.tolist(), strict=True))]])


def referee(vols: W.Volumes, q: W.Volumes) -> list[list[int]]:
    """Exact brute force: every stored volume through the workload's non-spatial mask, a
    triangle-inequality prune on centre distances, then exact geodesic footprint distances."""
    everything = np.arange(len(vols))
    out = []
    for qi in range(len(q)):
        idx = everything[W.nonspatial_mask(vols, everything, q, qi)]
        n = len(idx)
        _, _, dc = W.GEOD.inv(
            np.full(n, q.lon[qi]), np.full(n, q.lat[qi]), vols.lon[idx], vols.lat[idx]
        )
        slack = q.circum_m[qi] + vols.circum_m[idx] + q.radius_m[qi] + vols.radius_m[idx]
        near = idx[np.asarray(dc) - slack <= W.H_BUFFER_M]
        hits = []
        qcore = _core(q, qi)
        for j in near.tolist():
            core_d = geo.core_distance(qcore, _core(vols, j))
            if core_d - q.radius_m[qi] - vols.radius_m[j] <= W.H_BUFFER_M:
                hits.append(j)
        out.append(sorted(hits))
    return out


def _write(path: Path, sets: list[list[int]]) -> None:
    path.write_text("".join(f"q{i}: {' '.join(map(str, s))}\n" for i, s in enumerate(sets)))


class Timings:
    """Per-call wall-clock and CPU (this process only) durations in seconds.

    The machines are shared: wall-clock percentiles include time stolen by other tenants,
    CPU-time percentiles do not. Both are reported.
    """

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def text(self) -> str:
        w, c = _pcts(self.wall), _pcts(self.cpu)
        return f"{w[0]:.3f}/{w[1]:.3f}/{w[2]:.3f} | cpu {c[0]:.3f}/{c[1]:.3f}/{c[2]:.3f}"


def _timed_loop(fn: Callable[[Any], object], items: Sequence[Any]) -> tuple[list[Any], Timings]:
    results, tm = [], Timings()
    gc.disable()
    try:
        for it in items:
            c, t = time.process_time(), time.perf_counter()
            results.append(fn(it))
            tm.wall.append(time.perf_counter() - t)
            tm.cpu.append(time.process_time() - c)
    finally:
        gc.enable()
    return results, tm


def bench_volumes(n: int, all_vols: W.Volumes, q: W.Volumes, out: Path) -> dict[str, Any]:
    vols = W.make_volumes(n) if n != len(all_vols) else all_vols
    t = time.perf_counter()
    stored = to_volumes(vols, "v")
    convert_s = time.perf_counter() - t
    queries = to_volumes(q, "q")
    idx = ConflictIndex()
    t, c = time.perf_counter(), time.process_time()
    idx.add_all(stored)
    build_s, build_cpu = time.perf_counter() - t, time.process_time() - c
    for w in to_volumes(W.make_warmup(), "w"):
        idx.check(w)
    ids, t_ids = _timed_loop(idx.conflicting_ids, queries)
    _, t_nogeom = _timed_loop(lambda v: idx.check(v, geometry=False), queries)
    full, t_full = _timed_loop(idx.check, queries)
    engine = [sorted(int(x[1:]) for x in r) for r in ids]
    if [sorted(int(c.other_id[1:]) for c in r) for r in full] != engine:
        raise SystemExit("check() and conflicting_ids() disagree")
    t = time.perf_counter()
    ref = referee(vols, q)
    referee_s = time.perf_counter() - t
    _write(out / f"deconfliction-{n}-engine.txt", engine)
    _write(out / f"deconfliction-{n}-referee.txt", ref)
    _, t_add = _timed_loop(idx.add, queries)
    pairs = sum(len(s) for s in engine)
    _row(f"convert {n:,} volumes to molink values", f"{convert_s:.2f} s")
    _row(
        f"index build, {n:,} volumes (add_all)",
        f"{build_s:.2f} s",
        f"cpu {build_cpu:.2f} s, {build_cpu / n * 1e6:.0f} µs/volume",
    )
    _row("check 1,000 queries: conflicting_ids", t_ids.text(), "ms p50/p95/p99; decision only")
    _row("  check(geometry=False)", t_nogeom.text(), "full conflict records")
    _row("  check() with overlap geometry", t_full.text(), "plus display polygons")
    _row("  then add the 1,000 queries", t_add.text(), "incremental, incl. rebuilds")
    exact = engine == ref
    _row(
        "  conflict pairs: engine / referee / published",
        f"{pairs} / {sum(len(s) for s in ref)} / {PUBLISHED_PAIRS.get(n, '-')}",
        f"sets {'IDENTICAL' if exact else 'DIFFER'} (referee {referee_s:.1f} s)",
    )
    return {
        "n": n,
        "exact": exact,
        "p99_ms": _pcts(t_ids.wall)[2],
        "p99_cpu_ms": _pcts(t_ids.cpu)[2],
        "pairs": pairs,
    }


def _intrusion_referee(z: W.Zones, tr: W.Tracks) -> set[tuple[int, int]]:
    """Brute force: zones sorted by latitude, every point against the zones of its latitude
    band, the ECEF chord as a lower bound of the geodesic, exact inverse for the rest."""
    order = np.argsort(z.lat)
    zl = z.lat[order]
    band = W.R_MAX_M / 110_000.0 + 0.01
    zx, zy, zz = geo.ecef(z.lon, z.lat)
    px, py, pz = geo.ecef(tr.lon, tr.lat)
    out: set[tuple[int, int]] = set()
    lo = np.searchsorted(zl, tr.lat - band)
    hi = np.searchsorted(zl, tr.lat + band)
    for p in range(len(tr)):
        cand = order[lo[p] : hi[p]]
        chord = np.sqrt((zx[cand] - px[p]) ** 2 + (zy[cand] - py[p]) ** 2 + (zz[cand] - pz[p]) ** 2)
        cand = cand[chord <= z.radius_m[cand]]
        if len(cand):
            m = len(cand)
            _, _, d = W.GEOD.inv(
                np.full(m, tr.lon[p]), np.full(m, tr.lat[p]), z.lon[cand], z.lat[cand]
            )
            out.update((p, int(k)) for k in cand[np.asarray(d) <= z.radius_m[cand]])
    return out


def bench_tracks(batch: int) -> dict[str, Any]:
    z, tr = W.make_zones(), W.make_tracks()
    print(f"fingerprints: zones {W.fingerprint(z)}  tracks {W.fingerprint(tr)}")
    sites = [
        ProtectedSite(
            id=str(i),
            name=f"zone {i}",
            kind=SiteKind.OTHER,
            zone=Disc(float(z.lon[i]), float(z.lat[i]), float(z.radius_m[i])),
            provenance=Provenance("AE", "workload"),
        )
        for i in range(len(z))
    ]
    t = time.perf_counter()
    det = IntrusionDetector(sites=sites)
    build_s = time.perf_counter() - t
    n = len(tr)
    mem = TrackMemory()
    results = []
    gc.disable()
    t, c = time.perf_counter(), time.process_time()
    for b in range(0, n, batch):
        s = slice(b, b + batch)
        results.append(
            det.check_batch(
                tr.track_id[s], tr.t[s], tr.lat[s], tr.lon[s], tr.alt_m[s], party="US", memory=mem
            )
        )
    batch_s, batch_cpu = time.perf_counter() - t, time.process_time() - c
    gc.enable()
    batched = {
        (b * batch + p, g)
        for b, r in enumerate(results)
        for p, g in zip(r.point.tolist(), r.target.tolist(), strict=True)
    }
    points = [
        TrackPoint(
            int(tr.track_id[i]),
            int(tr.t[i]),
            float(tr.lat[i]),
            float(tr.lon[i]),
            float(tr.alt_m[i]),
        )
        for i in range(n)
    ]
    gc.disable()
    t, c = time.perf_counter(), time.process_time()
    hits = [det.check_point(p, party="US") for p in points]
    single_s, single_cpu = time.perf_counter() - t, time.process_time() - c
    gc.enable()
    single = {(i, int(h.target)) for i, found in enumerate(hits) for h in found}
    t = time.perf_counter()
    ref = _intrusion_referee(z, tr)
    ref_s = time.perf_counter() - t
    bdet = IntrusionDetector(boundaries=load_boundaries())
    nb = 0
    t, c = time.perf_counter(), time.process_time()
    for b in range(0, n, batch):
        s = slice(b, b + batch)
        nb += len(
            bdet.check_batch(tr.track_id[s], tr.t[s], tr.lat[s], tr.lon[s], tr.alt_m[s], party="RU")
        )
    border_s, border_cpu = time.perf_counter() - t, time.process_time() - c
    exact = batched == ref == single
    _row("intrusion detector build, 10k zones", f"{build_s:.2f} s")
    _row(
        f"track ingest, batches of {batch:,}",
        f"{n / batch_s:,.0f} | cpu {n / batch_cpu:,.0f} pts/s",
        f"target >= {TARGET_POINTS_S:,} points/s",
    )
    _row(
        "track ingest, one point at a time",
        f"{n / single_s:,.0f} | cpu {n / single_cpu:,.0f} pts/s",
        f"{single_cpu / n * 1e6:.0f} µs cpu/point",
    )
    _row(
        "intrusions: batched / per point / referee / published",
        f"{len(batched)}/{len(single)}/{len(ref)}/{PUBLISHED_INTRUSIONS}",
        f"{'IDENTICAL' if exact else 'DIFFER'} (referee {ref_s:.1f} s)",
    )
    _row(
        f"national boundaries (52 countries), batches of {batch:,}",
        f"{n / border_s:,.0f} | cpu {n / border_cpu:,.0f} pts/s",
        f"{nb} boundary intrusions (RU party)",
    )
    return {"exact": exact, "points_s": n / batch_s, "points_cpu_s": n / batch_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000", help="existing volumes, comma separated")
    parser.add_argument("--batch", type=int, default=1000, help="track batch size")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out", help="conflict set files")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    t0 = time.perf_counter()
    big = W.make_volumes(max(sizes))
    q = W.make_queries(1000)
    print(f"workload seed {W.SEED}; generated in {time.perf_counter() - t0:.1f} s")
    prints = []
    for n in sizes:
        vols = W.make_volumes(n) if n != len(big) else big
        prints.append(f"volumes {n // 1000}k {W.fingerprint(vols)}")
    print(f"fingerprints: {'  '.join(prints)}  queries 1k {W.fingerprint(q)}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")
    _row("measurement", "result", "notes")
    print(f"|{'-' * 54}|{'-' * 38}|{'-' * 46}|")
    results = [bench_volumes(n, big, q, args.out) for n in sizes]
    tracks = bench_tracks(args.batch)
    print()
    for r in results:
        ok = r["p99_ms"] <= TARGET_P99_MS
        print(
            f"{r['n']:>7,} volumes: conflict sets {'exact' if r['exact'] else 'NOT exact'}; "
            f"p99 {r['p99_ms']:.3f} ms wall, {r['p99_cpu_ms']:.3f} ms cpu "
            f"({'meets' if ok else 'misses'} the {TARGET_P99_MS} ms target on wall time)"
        )
    ok = tracks["points_s"] >= TARGET_POINTS_S
    print(
        f"tracks: intrusions {'exact' if tracks['exact'] else 'NOT exact'}; "
        f"{tracks['points_s']:,.0f} points/s wall, {tracks['points_cpu_s']:,.0f} cpu, in batches "
        f"({'meets' if ok else 'misses'} the target on wall time)"
    )
    print(f"total {time.perf_counter() - t0:.0f} s; conflict sets in {args.out}/")
    if not all(r["exact"] for r in results) or not tracks["exact"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
