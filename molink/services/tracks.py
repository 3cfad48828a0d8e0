"""Live tracks: intrusion detection on ingest, alerts within the same request, reports to
the parties involved (DESIGN.md "Deconfliction": a track point in a protected zone, another
party's active volume or a national boundary is an intrusion).

A batch goes through ``core.tracks.IntrusionDetector`` (vectorised), then through the
*episode* rule: a track raises one alert when it enters a target, not one per point inside
it; leaving and entering again is a new episode. A national boundary needs a previous point:
a track first seen inside a country has not been seen entering it.

Each new episode becomes an ``intrusion`` alert on this node (in the request's own write
transaction, so it exists when the API answers) and, when other parties are involved (the
track's attributed party, the target's owner, the channel's mediator), one signed
``intrusion.report`` per recipient set that their nodes turn into the same alert. The alert
links the track segment (previous point to this one). A batch that raises alerts is logged
with the SHA-256 of the batch as received; one that raises none writes nothing.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, insert, select

from molink.core.boundaries import Boundaries
from molink.core.boundary_grid import GriddedBoundaries, grid_boundaries
from molink.core.envelope import Opened
from molink.core.ids import uuid7
from molink.core.precedence import Precedence
from molink.core.sites import ProtectedSite
from molink.core.track_input import PointColumns
from molink.core.tracks import BatchIntrusions, IntrusionDetector, IntrusionKind, TrackMemory
from molink.services.channels import get_channel
from molink.services.context import NodeContext
from molink.services.decon_state import DeconState
from molink.services.decon_views import epoch_iso
from molink.services.deconfliction import DEFAULT_CHANNEL, DeconflictionService
from molink.services.messaging import MessagingService
from molink.storage.schema import alerts

__all__ = ["REPORT", "TrackService", "TrackStore"]

REPORT = "intrusion.report"
_KIND_NAMES = {
    IntrusionKind.ZONE: "zone",
    IntrusionKind.VOLUME: "volume",
    IntrusionKind.BOUNDARY: "boundary",
}
_REPORT_CHUNK = 200
_IN_CHUNK = 500
_LOG_CHUNK = 200  # alert ids per log entry (an entry stays far below 64 KiB)


@dataclass(frozen=True, slots=True)
class _Targets:
    """What the detector was built from, and how to name its targets."""

    version: int
    detector: IntrusionDetector
    names: Mapping[str, tuple[str, str | None]]  # target id -> (display name, owning party)


class TrackStore:
    """Recent points for display and export: batches as columns, oldest dropped first."""

    def __init__(self, *, max_points: int = 500_000) -> None:
        self._batches: deque[tuple[list[str], PointColumns, str]] = deque()
        self._count = 0
        self._max = max_points

    def add(self, cols: PointColumns, party: str) -> None:
        self._batches.append((cols.track, cols, party))
        self._count += len(cols)
        while self._count > self._max and len(self._batches) > 1:
            self._count -= len(self._batches.popleft()[1])

    def tracks(self) -> dict[str, dict[str, Any]]:
        """Per track: its attributed party and its points [time, lon, lat, alt] in time order."""
        out: dict[str, dict[str, Any]] = {}
        for names, cols, party in list(self._batches):
            for k, t, lo, la, a in zip(
                names,
                cols.time.tolist(),
                cols.lon.tolist(),
                cols.lat.tolist(),
                cols.alt_m.tolist(),
                strict=True,
            ):
                entry = out.setdefault(k, {"party": party, "points": []})
                entry["party"] = party
                entry["points"].append((t, lo, la, a))
        for entry in out.values():
            entry["points"].sort()
        return out


class TrackService:
    """Ingests track points; raises and reports intrusions.

    Args:
        ctx, messaging, deconfliction: the node, its signer and its deconfliction state
            (protected sites and active volumes are the targets).
        boundaries: national boundaries, or a loader called once on first use (loading
            the shipped file takes seconds: call ``warm`` at start).
        channel: where reports go (the deconfliction channel when it exists).
    """

    def __init__(
        self,
        ctx: NodeContext,
        messaging: MessagingService,
        deconfliction: DeconflictionService,
        *,
        boundaries: Boundaries | Callable[[], Boundaries] | None = None,
        channel: str = DEFAULT_CHANNEL,
        store: TrackStore | None = None,
    ) -> None:
        self._ctx = ctx
        self._messaging = messaging
        self._decon = deconfliction
        self._boundaries_src = boundaries
        self._boundaries: Boundaries | None = None
        self._channel = channel
        self.store = store or TrackStore()
        self._lock = threading.Lock()
        self._targets: _Targets | None = None
        self._local_sites: list[ProtectedSite] = []
        self._local_version = 0
        self._memory = TrackMemory()
        self._ids: dict[str, int] = {}
        self._inside: dict[int, set[tuple[int, str]]] = {}
        self.counters = {"points": 0, "batches": 0, "intrusions": 0, "reports": 0}
        if isinstance(boundaries, Boundaries):
            self.use_boundaries(boundaries)

    # ------------------------------------------------------------------ targets
    def warm(self) -> None:
        """Load the boundaries and build the detector now."""
        self._detector()

    def use_boundaries(self, boundaries: Boundaries | None) -> None:
        """Use these boundaries (already loaded, e.g. shared by several nodes in one process;
        gridded here unless they already are)."""
        if boundaries is not None and not isinstance(boundaries, GriddedBoundaries):
            boundaries = grid_boundaries(boundaries)
        with self._lock:
            self._boundaries_src = self._boundaries = boundaries
            self._targets = None

    def add_local_sites(self, sites: Sequence[ProtectedSite]) -> None:
        """Sites known only to this node (configuration, benchmarks); not signed or shared."""
        with self._lock:
            self._local_sites.extend(sites)
            self._local_version += 1

    def _load_boundaries(self) -> Boundaries | None:
        if self._boundaries is None and callable(self._boundaries_src):
            self._boundaries = grid_boundaries(self._boundaries_src())
        return self._boundaries

    def _detector(self) -> _Targets:
        version = self._decon.version() + (self._local_version << 32)
        current = self._targets
        if current is not None and current.version == version:
            return current
        boundaries = self._load_boundaries()

        def gather(state: DeconState) -> tuple[list[ProtectedSite], list[Any], dict[str, Any]]:
            names: dict[str, tuple[str, str | None]] = {}
            for record in state.sites.values():
                site = record.site
                names[site.id] = (site.name, site.provenance.declared_by)
            volumes = state.active_volumes()
            for v in volumes:
                note = state.notes[v.id]
                title = note.parsed.title if note.parsed is not None else v.id
                names[v.id] = (title, v.party)
            return state.site_list(), volumes, names

        sites, volumes, names = self._decon.read(gather)
        sites = sites + list(self._local_sites)
        for site in self._local_sites:
            names[site.id] = (site.name, site.provenance.declared_by)
        if boundaries is not None:
            for code in boundaries.codes:
                names.setdefault(code, (boundaries.names.get(code, code), code))
        previous = current.detector if current is not None else None
        if previous is not None and previous.boundaries is boundaries:
            detector = previous.with_targets(sites=sites, volumes=volumes)
        else:
            detector = IntrusionDetector(sites=sites, volumes=volumes, boundaries=boundaries)
        self._targets = _Targets(version, detector, names)
        return self._targets

    # ------------------------------------------------------------------ ingest
    def ingest(
        self, cols: PointColumns, *, party: str | None, source: str, digest: str, operator: str
    ) -> dict[str, Any]:
        """Check a batch and raise its intrusion alerts before returning.

        ``party`` is the party the tracks are attributed to (default: this node's own). A
        batch that raises intrusions is logged (``tracks.ingested``: ``source``, and
        ``digest``, the SHA-256 of the batch as received) in the alerts' transaction; one
        that raises none writes nothing.
        """
        ctx = self._ctx
        party = party or ctx.party
        if len(cols) == 0:  # core.tracks cannot take an empty batch with a memory
            return {"accepted": 0, "intrusions": [], "alerts": []}
        targets = self._detector()
        with self._lock:
            ids = self._intern(cols.track)
            hits = targets.detector.check_batch(
                ids, cols.time, cols.lat, cols.lon, cols.alt_m, party=party, memory=self._memory
            )
            episodes = self._episodes(ids, cols, hits, targets.detector)
            self.store.add(cols, party)
            self.counters["points"] += len(cols)
            self.counters["batches"] += 1
        rows = [
            self._entry(cols, hits, k, kind, target, party, targets) for k, kind, target in episodes
        ]
        if not rows:  # nothing to alert: no write (the audit trail has the request)
            return {"accepted": len(cols), "intrusions": [], "alerts": []}
        with ctx.db.write() as conn:
            now_us = ctx.now_us()
            ingested = {
                "type": "tracks.ingested",
                "points": len(cols),
                "sha256": digest,
                "party": party,
                "source": source,
                "operator": operator,
                "intrusions": len(rows),
                "time": now_us // 1000,
            }
            raised = self.raise_intrusions(conn, rows, reporter=ctx.party, log_first=[ingested])
            reports = self._report(conn, rows)
        if reports:
            ctx.wake_outbox()
        self._publish(raised)
        self.counters["intrusions"] += len(rows)
        self.counters["reports"] += reports
        return {"accepted": len(cols), "intrusions": rows, "alerts": [a for a, _ in raised]}

    def _intern(self, names: list[str]) -> NDArray[np.int64]:
        """Each submitted track id as a stable integer (the detector's track key)."""
        get = self._ids.get
        found = [get(k) for k in names]
        if None in found:
            found = [self._ids.setdefault(k, len(self._ids)) for k in names]
        return np.asarray(found, dtype=np.int64)

    def _episodes(
        self,
        ids: NDArray[np.int64],
        cols: PointColumns,
        hits: BatchIntrusions,
        det: IntrusionDetector,
    ) -> list[tuple[int, int, int]]:
        """(hit row, kind, target) of every target a track entered in this batch.

        A hit continues an episode when the track's previous point (in time order: in this
        batch, or the last point of an earlier batch, ``_inside``) hit the same target.
        Vectorised; Python touches only episode starts and each track's last point.
        """
        n = len(ids)
        if len(hits) == 0:
            if self._inside:
                for tid in set(ids.tolist()) & self._inside.keys():
                    del self._inside[tid]
            return []
        order = np.lexsort((cols.time, ids))
        sids = ids[order]
        first = np.flatnonzero(np.r_[True, sids[1:] != sids[:-1]])
        sizes = np.diff(np.r_[first, n])
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n) - np.repeat(first, sizes)
        is_last = np.zeros(n, dtype=np.bool_)
        is_last[order[first + sizes - 1]] = True
        hp, hk, ht = hits.point, hits.kind.astype(np.int64), hits.target
        tid, hr = ids[hp], rank[hp]
        srt = np.lexsort((hr, ht, hk, tid))
        cont = np.zeros(len(srt), dtype=np.bool_)
        cont[1:] = (
            (tid[srt[1:]] == tid[srt[:-1]])
            & (hk[srt[1:]] == hk[srt[:-1]])
            & (ht[srt[1:]] == ht[srt[:-1]])
            & (hr[srt[1:]] == hr[srt[:-1]] + 1)
        )
        starts = np.sort(srt[~cont])
        prevt = hits.prev_time
        out: list[tuple[int, int, int]] = []
        for r in starts.tolist():
            kind, target, track = int(hk[r]), int(ht[r]), int(tid[r])
            if hr[r] == 0 and (kind, det.target_name(kind, target)) in self._inside.get(track, ()):
                continue  # the track's last point in the previous batch was inside already
            if kind == IntrusionKind.BOUNDARY and prevt[r] < 0:
                continue  # first seen inside: not seen entering
            out.append((r, kind, target))
        now_inside: dict[int, set[tuple[int, str]]] = {}
        for r in np.flatnonzero(is_last[hp]).tolist():
            kind, target = int(hk[r]), int(ht[r])
            now_inside.setdefault(int(tid[r]), set()).add((kind, det.target_name(kind, target)))
        for track in set(ids[is_last].tolist()):
            if track in now_inside:
                self._inside[track] = now_inside[track]
            else:
                self._inside.pop(track, None)
        return out

    def _entry(
        self,
        cols: PointColumns,
        hits: BatchIntrusions,
        r: int,
        kind: int,
        target: int,
        party: str,
        targets: _Targets,
    ) -> dict[str, Any]:
        det = targets.detector
        p = int(hits.point[r])
        name = det.target_name(kind, target)
        label, owner = targets.names.get(name, (name, None))
        here = [float(cols.lon[p]), float(cols.lat[p]), float(cols.alt_m[p])]
        segment: dict[str, Any] = {"type": "Point", "coordinates": here}
        prev_at = None
        if int(hits.prev_time[r]) >= 0:
            q = int(hits.prev[r])
            prev = [float(hits.prev_lon[r]), float(hits.prev_lat[r])]
            if q >= 0:
                prev.append(float(cols.alt_m[q]))
            segment = {"type": "LineString", "coordinates": [prev, here]}
            prev_at = epoch_iso(int(hits.prev_time[r]))
        return {
            "track_id": cols.track[p],
            "party": party,
            "target_kind": _KIND_NAMES[IntrusionKind(kind)],
            "target": name,
            "target_name": label,
            "target_party": owner,
            "time": epoch_iso(int(cols.time[p])),
            "from_time": prev_at,
            "segment": segment,
        }

    # ------------------------------------------------------------------ alerts
    def raise_intrusions(
        self,
        conn: Connection,
        rows: Sequence[Mapping[str, Any]],
        *,
        reporter: str,
        log_first: Sequence[Mapping[str, Any]] = (),
    ) -> list[tuple[str, str]]:
        """Store one ``intrusion`` alert per row (deduplicated); (id, title) pairs.

        The log gets one ``alerts.raised`` entry per 200 alerts of the batch (their ids and
        targets), not one per alert: a track crossing many zones would otherwise write the
        log faster than it can be integrated. ``log_first`` entries (the batch's own) are
        appended before them in the same call.
        """
        if not rows:
            if log_first:
                self._ctx.log.append(conn, log_first, self._ctx.now_us())
            return []
        ctx = self._ctx
        now = ctx.clock.now()
        now_us = ctx.now_us()
        prepared: list[dict[str, Any]] = []
        for row in rows:
            key = (
                f"intrusion:{reporter}:{row['track_id']}:{row['target_kind']}:"
                f"{row['target']}:{row['time']}"
            )[:200]
            kind = row["target_kind"]
            what = {
                "zone": "protected zone",
                "volume": "active volume of",
                "boundary": "airspace of",
            }
            owner = row.get("target_party")
            target = f"{row['target_name']}" + (f" ({owner})" if owner and kind == "volume" else "")
            title = (
                f"Intrusion: track {row['track_id']} ({row['party']}) entered {what[kind]} {target}"
            )
            involved = {reporter, str(row["party"])} | ({str(owner)} if owner else set())
            prepared.append(
                {
                    "id": uuid7(now, ctx.random(10)),
                    "kind": "intrusion",
                    "severity": "IMMEDIATE" if kind == "volume" else "FLASH",
                    "title": title[:300],
                    "parties": sorted(involved),
                    "refs": [str(row["target"]), f"track:{row['track_id']}"],
                    "data": {**row, "reported_by": reporter, "geometry": row["segment"]},
                    "created": now_us,
                    "dedup_key": key,
                }
            )
        existing: set[str] = set()
        keys = [r["dedup_key"] for r in prepared]
        for i in range(0, len(keys), _IN_CHUNK):
            chunk = keys[i : i + _IN_CHUNK]
            existing.update(
                conn.execute(
                    select(alerts.c.dedup_key).where(alerts.c.dedup_key.in_(chunk))
                ).scalars()
            )
        fresh: list[dict[str, Any]] = []
        seen = set(existing)
        for r in prepared:
            if r["dedup_key"] not in seen:
                seen.add(r["dedup_key"])
                fresh.append(r)
        if not fresh:
            if log_first:
                ctx.log.append(conn, log_first, now_us)
            return []
        conn.execute(insert(alerts), fresh)
        raised = [
            {
                "type": "alerts.raised",
                "kind": "intrusion",
                "reporter": reporter,
                "ids": [r["id"] for r in fresh[i : i + _LOG_CHUNK]],
                "refs": sorted({ref for r in fresh[i : i + _LOG_CHUNK] for ref in r["refs"]}),
                "time": now_us // 1000,
            }
            for i in range(0, len(fresh), _LOG_CHUNK)
        ]
        ctx.log.append(conn, [*log_first, *raised], now_us)
        return [(r["id"], r["title"]) for r in fresh]

    def _publish(self, raised: Sequence[tuple[str, str]]) -> None:
        for alert_id, title in raised:
            self._ctx.events.publish(
                "alert", id=alert_id, alert_kind="intrusion", severity="FLASH", title=title
            )

    def _report(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Send the intrusions to the other parties involved, one signed object per set."""
        me = self._ctx.party
        known = set(self._ctx.directory().parties()) - {me}
        if not rows or not known:
            return 0
        row = get_channel(conn, self._channel)
        channel, members = (None, known) if row is None else (row.id, set(row.members) & known)
        mediator = row.mediator if row is not None and row.mediator in members else None
        groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
        for r in rows:
            involved = {str(r["party"]), str(r.get("target_party") or "")} | {mediator or ""}
            to = tuple(sorted((involved & members) - {me}))
            if to:
                groups.setdefault(to, []).append(r)
        sent = 0
        for to, items in sorted(groups.items()):
            for i in range(0, len(items), _REPORT_CHUNK):
                self._messaging.send_object(
                    REPORT,
                    to=list(to),
                    precedence=Precedence.FLASH,
                    channel=channel,
                    fields={"intrusions": [dict(x) for x in items[i : i + _REPORT_CHUNK]]},
                    summary=f"intrusion report: {len(items[i : i + _REPORT_CHUNK])} intrusion(s)",
                    operator="system",
                    conn=conn,
                )
                sent += 1
        return sent

    def on_report(self, conn: Connection, opened: Opened, _now_us: int) -> None:
        """Inbound handler: a peer's intrusion report becomes alerts here, naming the reporter."""
        items = opened.signed.payload.get("intrusions")
        if not isinstance(items, list):
            return
        rows = [dict(x) for x in items[:_REPORT_CHUNK] if _valid_report(x)]
        raised = self.raise_intrusions(conn, rows, reporter=opened.signed.sender)
        self._publish(raised)


_REPORT_FIELDS = ("track_id", "party", "target_kind", "target", "target_name", "time", "segment")


def _valid_report(item: object) -> bool:
    return (
        isinstance(item, dict)
        and all(isinstance(item.get(k), str) for k in _REPORT_FIELDS[:6])
        and item.get("target_kind") in ("zone", "volume", "boundary")
        and isinstance(item.get("segment"), dict)
    )
