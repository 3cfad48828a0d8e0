"""Track points per second through ``POST /api/v1/tracks``, intrusion alerts included.

Run from the repository root: ``.venv/bin/python benchmarks/tracks_api.py [--batch 1000]``.

Two ways (``--mode``):

* ``asgi``: one node (SQLite, WAL, synchronous=FULL, in a temporary folder) with a peer (RU),
  its operator API served in process over ASGI (``httpx.ASGITransport``); the client's CPU
  counts too. Intrusions attributed to RU are also reported to RU as signed objects;
* ``real``: a node created like ``molink init`` (SQLite, no peer), served by uvicorn over TLS
  in its own process with the deconfliction routers mounted; one ``httpx.Client`` with a
  pinned certificate posts from this process. The node's own CPU time is read from /proc.

Every request is parsed from JSON, authenticated (bearer token), checked by the intrusion
detector, its new intrusion episodes stored as alerts and logged, and answered, before the next
is sent. Bodies are serialised before the clock starts. Workloads:

* ``scenario``: the shared workload's 100k track points (``deconfliction_workload.make_tracks``)
  against the demo's targets: the Zaporizhzhia NPP and Vaindloo zones and the 52 shipped
  national boundaries (tracks attributed to RU);
* ``zones``: the same points against the workload's 10k zones as protected sites (230,023
  point-in-zone hits, one alert per episode) plus the boundaries.

The target (issue 11) is 50,000 points/s through the API, alerts included.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "benchmarks"
if not (SHARED / "deconfliction_workload.py").is_file():
    sys.exit(f"tracks_api benchmark: the shared workload is missing at {SHARED}")
sys.path.insert(0, str(SHARED))
sys.path.insert(0, str(ROOT))

import deconfliction_workload as W  # type: ignore[import-not-found,unused-ignore]  # noqa: E402, N812

from molink.core.boundaries import load_boundaries  # noqa: E402
from molink.core.site_decl import parse_site_declaration  # noqa: E402
from molink.core.sites import ProtectedSite, Provenance, SiteKind  # noqa: E402
from molink.core.volume import Disc  # noqa: E402
from molink.services.scenario_deconfliction import ESTONIA_ZONE, ZNPP_SITE  # noqa: E402
from tests.support.decon import install_routes  # noqa: E402
from tests.support.memnet import build_memnet  # noqa: E402

TARGET = 50_000


def _bodies(batch: int, party: str, streams: int = 1) -> tuple[list[list[bytes]], int]:
    """Request bodies per client stream; stream s carries the tracks whose id is s modulo
    ``streams``, in the feed's time order, so every track's points arrive in order."""
    tr = W.make_tracks()
    n = len(tr)
    ids = [f"T{int(t)}" for t in tr.track_id.tolist()]
    t, lat, lon, alt = tr.t.tolist(), tr.lat.tolist(), tr.lon.tolist(), tr.alt_m.tolist()
    out: list[list[bytes]] = []
    for s in range(streams):
        mine = [i for i in range(n) if int(tr.track_id[i]) % streams == s]
        bodies = []
        for b in range(0, len(mine), batch):
            points = [
                {"track_id": ids[i], "time": t[i], "lat": lat[i], "lon": lon[i], "alt_m": alt[i]}
                for i in mine[b : b + batch]
            ]
            bodies.append(json.dumps({"points": points, "party": party}).encode())
        out.append(bodies)
    return out, n


def _zone_sites() -> list[ProtectedSite]:
    z = W.make_zones()
    return [
        ProtectedSite(
            id=f"zone-{i}",
            name=f"zone {i}",
            kind=SiteKind.OTHER,
            zone=Disc(float(z.lon[i]), float(z.lat[i]), float(z.radius_m[i])),
            provenance=Provenance("US", "workload"),
        )
        for i in range(len(z))
    ]


def _scenario_sites() -> list[ProtectedSite]:
    return [
        parse_site_declaration(ZNPP_SITE, id="znpp", declared_by="AE"),
        parse_site_declaration(ESTONIA_ZONE, id="estonia", declared_by="US"),
    ]


async def _run(
    name: str, sites: list[ProtectedSite], bodies: list[bytes], n: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        net = build_memnet(Path(tmp), ["US", "RU"])
        node = net["US"]
        install_routes(node.app)
        tracks = node.runtime.tracks
        tracks.use_boundaries(load_boundaries())
        tracks.add_local_sites(sites)
        t = time.perf_counter()
        tracks.warm()
        build_s = time.perf_counter() - t
        latencies = []
        intrusions = alerts = 0
        async with node.client() as client:
            headers = {"content-type": "application/json"}
            warm = await client.post("/api/v1/tracks", content=b'{"points": []}', headers=headers)
            if warm.status_code != 200:
                raise SystemExit(f"tracks_api: {warm.status_code} {warm.text}")
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            for body in bodies:
                t0 = time.perf_counter()
                answer = await client.post("/api/v1/tracks", content=body, headers=headers)
                latencies.append(time.perf_counter() - t0)
                if answer.status_code != 200:
                    raise SystemExit(f"tracks_api: {answer.status_code} {answer.text[:300]}")
                got = answer.json()
                intrusions += len(got["intrusions"])
                alerts += len(got["alerts"])
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        lat_ms = np.asarray(latencies) * 1000.0
        return {
            "name": f"{name}/asgi",
            "points": n,
            "requests": len(bodies),
            "build_s": build_s,
            "points_s": n / wall,
            "cpu_points_s": n / cpu,
            "p50_ms": float(np.percentile(lat_ms, 50)),
            "p99_ms": float(np.percentile(lat_ms, 99)),
            "intrusions": intrusions,
            "alerts": alerts,
        }


WORKLOADS = {"scenario": _scenario_sites, "zones": _zone_sites}


def serve(home: Path, workload: str) -> None:
    """The ``real`` node: molink's app with the deconfliction routers, uvicorn over TLS."""
    import uvicorn

    from molink.api.app import create_app
    from molink.config import NodeConfig
    from molink.services.runtime import NodeRuntime

    config = NodeConfig.load(home / "node.toml")
    runtime = NodeRuntime.from_config(config)
    runtime.tracks.use_boundaries(load_boundaries())
    runtime.tracks.add_local_sites(WORKLOADS[workload]())
    runtime.tracks.warm()
    app = create_app(runtime)
    install_routes(app)
    uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=config.api.port,
            log_level="warning",
            access_log=False,
            ssl_certfile=str(config.path(config.api.tls_cert)),
            ssl_keyfile=str(config.path(config.api.tls_key)),
        )
    ).run()


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_real(name: str, bodies: list[list[bytes]], n: int, port: int) -> dict[str, Any]:
    import subprocess
    from datetime import UTC, datetime

    import httpx

    from molink.services.provision import create_node
    from molink.transport.http import pinned_context

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "US"
        create_node(home, party="US", port=port, now=datetime.now(UTC), scrypt_n=2**14)
        token = (home / "tokens" / "duty.token").read_text().strip()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(home), "--only", name], cwd=ROOT
        )
        try:
            cert = (home / "tls" / "cert.pem").read_text()
            client = httpx.Client(
                base_url=f"https://127.0.0.1:{port}",
                verify=pinned_context(cert),
                headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
                timeout=60.0,
            )
            deadline = time.monotonic() + 120
            while True:
                try:
                    if client.post("/api/v1/tracks", content=b'{"points": []}').status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("tracks_api: the node did not start")
                time.sleep(0.2)
            client.close()
            results: list[tuple[list[float], int, int]] = []

            def post_all(stream: list[bytes]) -> None:
                mine = httpx.Client(
                    base_url=f"https://127.0.0.1:{port}",
                    verify=pinned_context(cert),
                    headers={
                        "Authorization": f"Bearer {token}",
                        "content-type": "application/json",
                    },
                    timeout=60.0,
                )
                lat, found, raised = [], 0, 0
                for body in stream:
                    t0 = time.perf_counter()
                    answer = mine.post("/api/v1/tracks", content=body)
                    lat.append(time.perf_counter() - t0)
                    if answer.status_code != 200:
                        raise SystemExit(f"tracks_api: {answer.status_code} {answer.text[:300]}")
                    got = answer.json()
                    found += len(got["intrusions"])
                    raised += len(got["alerts"])
                mine.close()
                results.append((lat, found, raised))

            threads = [threading.Thread(target=post_all, args=(b,)) for b in bodies]
            cpu0, wall = _cpu_s(proc.pid), time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            wall, cpu = time.perf_counter() - wall, _cpu_s(proc.pid) - cpu0
            latencies = [x for r in results for x in r[0]]
            intrusions = sum(r[1] for r in results)
            alerts = sum(r[2] for r in results)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    lat_ms = np.asarray(latencies) * 1000.0
    return {
        "name": f"{name}/real x{len(bodies)}",
        "points": n,
        "requests": len(latencies),
        "build_s": 0.0,
        "points_s": n / wall,
        "cpu_points_s": n / cpu,
        "p50_ms": float(np.percentile(lat_ms, 50)),
        "p99_ms": float(np.percentile(lat_ms, 99)),
        "intrusions": intrusions,
        "alerts": alerts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=1000, help="points per request")
    parser.add_argument("--only", choices=tuple(WORKLOADS), default=None)
    parser.add_argument("--mode", choices=("asgi", "real", "both"), default="both")
    parser.add_argument("--port", type=int, default=18787, help="the real node's port")
    parser.add_argument(
        "--clients", default="1,2", help="concurrent clients of the real node, comma separated"
    )
    parser.add_argument("--serve", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.only or "scenario")
        return
    [bodies], n = _bodies(args.batch, "RU")
    size = sum(len(b) for b in bodies) / len(bodies)
    print(f"workload seed {W.SEED}; tracks {W.fingerprint(W.make_tracks())}")
    print(f"{n:,} points in {len(bodies)} requests of {args.batch} ({size / 1024:.0f} KiB each)")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")
    results = []
    for name, make in WORKLOADS.items():
        if args.only and name != args.only:
            continue
        if args.mode in ("asgi", "both"):
            results.append(asyncio.run(_run(name, make(), bodies, n)))
        if args.mode in ("real", "both"):
            for k in (int(c) for c in args.clients.split(",") if c):
                streams = [bodies] if k == 1 else _bodies(args.batch, "RU", k)[0]
                results.append(_run_real(name, streams, n, args.port))
    print()
    print(
        f"| {'workload':<16} | {'points/s wall':>13} | {'points/s cpu':>12} | {'p50 ms':>7} | "
        f"{'p99 ms':>7} | {'intrusions':>10} | {'alerts':>7} | {'index build':>11} |"
    )
    print(f"|{'-' * 18}|{'-' * 15}|{'-' * 14}|{'-' * 9}|{'-' * 9}|{'-' * 12}|{'-' * 9}|{'-' * 13}|")
    for r in results:
        print(
            f"| {r['name']:<16} | {r['points_s']:>13,.0f} | {r['cpu_points_s']:>12,.0f} | "
            f"{r['p50_ms']:>7.1f} | {r['p99_ms']:>7.1f} | {r['intrusions']:>10,} | "
            f"{r['alerts']:>7,} | {r['build_s']:>9.2f} s |"
        )
    print()
    for r in results:
        verdict = "meets" if r["points_s"] >= TARGET else "misses"
        print(f"{r['name']}: {r['points_s']:,.0f} points/s through the API ({verdict} {TARGET:,})")


if __name__ == "__main__":
    main()
