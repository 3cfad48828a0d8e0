"""Export of volumes, sites, conflicts, alerts and tracks as GeoJSON, KML and CoT.

Display geometry only: a disc or corridor is drawn as a polygon (``volume.overlap_geojson``
of the footprint with itself, split at the antimeridian); the exact footprint stays in the
notification. Tracks are LineStrings with one time per vertex (``properties.times``), which
``molink tracks import`` reads back; in CoT each track point is an event, which the CoT
listener reads back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from molink.core.cot import render_event
from molink.core.dtg import parse_utc
from molink.core.geoexport import feature_collection, to_kml
from molink.core.volume import Footprint, overlap_geojson
from molink.errors import InvalidInput
from molink.services.alerts import AlertService
from molink.services.decon_state import DeconState
from molink.services.decon_views import conflict_json, epoch_iso, notification_json, site_json
from molink.services.deconfliction import DeconflictionService
from molink.services.tracks import TrackService

__all__ = ["FORMATS", "WHAT", "Exporter"]

WHAT = ("volumes", "sites", "conflicts", "alerts", "tracks")
FORMATS = {
    "geojson": "application/geo+json",
    "kml": "application/vnd.google-earth.kml+xml",
    "cot": "application/xml",
}


def _display(fp: Footprint) -> dict[str, Any]:
    return overlap_geojson(fp, fp, 0.0)


class Exporter:
    def __init__(
        self,
        deconfliction: DeconflictionService,
        tracks: TrackService,
        alerts: AlertService,
        *,
        now_s: Callable[[], int],
    ) -> None:
        self._now_s = now_s
        self._decon = deconfliction
        self._tracks = tracks
        self._alerts = alerts

    def features(self, what: str) -> list[dict[str, Any]]:
        """GeoJSON features of ``what`` (one of ``WHAT``)."""
        if what == "volumes":
            return self._decon.read(_volumes)
        if what == "sites":
            return self._decon.read(_sites)
        if what == "conflicts":
            return self._decon.read(_conflicts)
        if what == "alerts":
            return _alert_features(self._alerts.listing(0, 1000)["items"])
        if what == "tracks":
            return _track_features(self._tracks.store.tracks())
        raise InvalidInput(f"what: one of {', '.join(WHAT)}")

    def export(self, what: str, fmt: str) -> tuple[bytes, str]:
        """(body, media type) of the export."""
        if fmt not in FORMATS:
            raise InvalidInput(f"format: one of {', '.join(FORMATS)}")
        features = self.features(what)
        if fmt == "geojson":
            return feature_collection(features), FORMATS[fmt]
        if fmt == "kml":
            return to_kml(features, name=f"molink {what}"), FORMATS[fmt]
        return b"\n".join(_cot(what, features, self._now_s())) + b"\n", FORMATS[fmt]


def _volumes(state: DeconState) -> list[dict[str, Any]]:
    out = []
    for note in state:
        volume = note.volume
        if volume is None:
            continue
        feature = notification_json(note, state)
        feature["properties"]["footprint"] = note.feature.get("geometry")
        feature["geometry"] = _display(volume.footprint)
        out.append(feature)
    return out


def _sites(state: DeconState) -> list[dict[str, Any]]:
    out = []
    for record in state.sites.values():
        feature = site_json(record, state)
        feature["properties"]["footprint"] = feature["geometry"]
        feature["geometry"] = _display(record.site.zone)
        out.append(feature)
    return out


def _conflicts(state: DeconState) -> list[dict[str, Any]]:
    out = []
    for c in state.all_conflicts():
        props = conflict_json(c, state)
        props["title"] = props["suggestion"]
        out.append(
            {
                "type": "Feature",
                "id": f"{c.volume_id}/{c.other_id}",
                "geometry": state.overlap(c),
                "properties": props,
            }
        )
    return out


def _alert_features(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for a in items:
        data = a.get("data") or {}
        geometry = data.get("geometry") or data.get("overlap")
        if a.get("kind") not in ("conflict", "intrusion") or not isinstance(geometry, dict):
            continue
        props = {k: v for k, v in data.items() if k not in ("geometry", "overlap", "segment")}
        props.update(
            alert_id=a["id"],
            kind=a["kind"],
            severity=a["severity"],
            title=a["title"],
            created=a["created"],
            parties=a["parties"],
        )
        out.append({"type": "Feature", "id": a["id"], "geometry": geometry, "properties": props})
    return out


def _track_features(tracks: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for track_id, entry in sorted(tracks.items()):
        points = entry["points"]
        coords = [[lo, la, a] for _, lo, la, a in points]
        times = [epoch_iso(t) for t, _, _, _ in points]
        props: dict[str, Any] = {"track_id": track_id, "party": entry["party"], "title": track_id}
        if len(coords) == 1:
            geometry: dict[str, Any] = {"type": "Point", "coordinates": coords[0]}
            props["time"] = times[0]
        else:
            geometry = {"type": "LineString", "coordinates": coords}
            props["times"] = times
        out.append({"type": "Feature", "id": track_id, "geometry": geometry, "properties": props})
    return out


def _cot(what: str, features: list[dict[str, Any]], now_s: int) -> list[bytes]:
    if what == "tracks":
        return _cot_tracks(features)
    out = []
    for f in features:
        props = f["properties"]
        geometry = f.get("geometry") or {}
        ring = _outer_ring(geometry)
        if not ring:
            continue
        lat = sum(p[1] for p in ring) / len(ring)
        lon = sum(p[0] for p in ring) / len(ring)
        if what == "alerts":
            kind = "b-a-g" if props.get("kind") == "intrusion" else "b-m-p-s-m"
        elif what == "conflicts":
            kind = "b-m-p-s-m"
        else:
            kind = "u-d-f"
        out.append(
            render_event(
                uid=_uid(f"molink-{what}-{f['id']}"),
                type=kind,
                time=now_s,
                lat=lat,
                lon=lon,
                stale_s=_stale(props, now_s),
                callsign=str(props.get("title") or props.get("name") or f["id"])[:200],
                remarks=str(props.get("suggestion") or props.get("source") or "")[:1000] or None,
                party=props.get("party") or props.get("declared_by"),
                links=[(p[1], p[0]) for p in ring] if kind == "u-d-f" else None,
            )
        )
    return out


def _uid(text: str) -> str:
    """A CoT uid of at most 64 characters (long ones are hashed)."""
    return text if len(text) <= 64 else "molink-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def _stale(props: Mapping[str, Any], now_s: int) -> int:
    """Seconds until the shape goes stale: the end of its window, or a year."""
    end = props.get("end")
    if isinstance(end, str):
        try:
            return max(60, int(parse_utc(end).timestamp()) - now_s)
        except InvalidInput:
            pass
    return 365 * 86400


def _outer_ring(geometry: Mapping[str, Any]) -> list[list[float]]:
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Point":
        return [coords] if isinstance(coords, list) else []
    if kind == "LineString":
        return list(coords or [])
    if kind == "Polygon":
        return list((coords or [[]])[0])
    if kind == "MultiPolygon":
        return list((coords or [[[]]])[0][0])
    return []


def _cot_tracks(features: list[dict[str, Any]]) -> list[bytes]:
    out = []
    for f in features:
        props = f["properties"]
        geometry = f["geometry"]
        coords = geometry["coordinates"]
        coords = [coords] if geometry["type"] == "Point" else coords
        times = [props["time"]] if geometry["type"] == "Point" else props["times"]
        for (lon, lat, alt), when in zip(coords, times, strict=True):
            out.append(
                render_event(
                    uid=str(props["track_id"]),
                    type="a-u-A",
                    time=int(parse_utc(when).timestamp()),
                    lat=lat,
                    lon=lon,
                    hae=alt,
                    party=props.get("party"),
                    callsign=str(props["track_id"]),
                )
            )
    return out
