"""JSON views of the deconfliction state: notifications and sites as GeoJSON Features,
conflicts with their suggested resolution (what the API answers and the alerts carry)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from molink.core import notices
from molink.core.separation import Conflict, Resolution
from molink.core.sites import ProtectedSite
from molink.services.decon_state import DeconState, NotificationRecord, SiteRecord
from molink.services.queries import iso

__all__ = [
    "conflict_json",
    "describe_resolution",
    "epoch_iso",
    "filing_json",
    "notification_json",
    "site_json",
]


@lru_cache(maxsize=65_536)
def epoch_iso(seconds: int) -> str | None:
    """Epoch seconds as ISO 8601 UTC; None for the open ends of a permanent window."""
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return None


def _resolution(r: Resolution | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"time_shift_s": r.time_shift_s, "altitude_shift_m": r.altitude_shift_m}


def _duration(seconds: int) -> str:
    h, rest = divmod(abs(seconds), 3600)
    m, s = divmod(rest, 60)
    parts = [f"{h} h" if h else "", f"{m} min" if m else "", f"{s} s" if s else ""]
    return " ".join(p for p in parts if p) or "0 s"


def describe_resolution(volume_id: str, r: Resolution | None) -> str:
    """One line for a duty officer: what moving the volume would clear the conflict."""
    if r is None:
        return "no time shift or altitude change clears it: change the area"
    moves = []
    if r.time_shift_s:
        when = "later" if r.time_shift_s > 0 else "earlier"
        moves.append(f"start {_duration(r.time_shift_s)} {when}")
    if r.altitude_shift_m:
        way = "up" if r.altitude_shift_m > 0 else "down"
        moves.append(f"move the band {abs(r.altitude_shift_m):.0f} m {way}")
    return f"{volume_id}: " + " and ".join(moves)


def conflict_json(c: Conflict, state: DeconState) -> dict[str, Any]:
    """A conflict as the API and the alerts show it (no display geometry: see
    ``DeconState.overlap``). Identical on every node that holds the same two revisions."""
    mover = state.notes.get(c.volume_id)
    other = state.item(c.other_id)
    other_note = state.notes.get(c.other_id)
    if isinstance(other, ProtectedSite):
        other_party = other.provenance.declared_by
    else:
        other_party = c.other_party or ""
    mover_party = mover.sender if mover is not None else ""
    return {
        "volume_id": c.volume_id,
        "other_id": c.other_id,
        "kind": c.kind.value,
        "parties": sorted({mover_party, other_party} - {""}),
        "move": mover_party,
        "other_party": c.other_party,
        "revisions": {
            c.volume_id: mover.rev if mover is not None else 0,
            c.other_id: other_note.rev if other_note is not None else 0,
        },
        "separation_m": round(c.separation_m, 3),
        "vertical_gap_m": round(c.vertical_gap_m, 3),
        "time_overlap": [epoch_iso(c.time_overlap[0]), epoch_iso(c.time_overlap[1])],
        "options": [_resolution(o) for o in c.options],
        "suggested": _resolution(c.suggested),
        "suggestion": describe_resolution(c.volume_id, c.suggested),
    }


def notification_json(
    note: NotificationRecord, state: DeconState, *, full: bool = False
) -> dict[str, Any]:
    """A notification as a GeoJSON Feature with its filing metadata in ``properties``."""
    feature = note.feature
    props = dict(feature.get("properties") or {})
    parsed = note.parsed
    props.update(
        id=note.id,
        party=note.sender,
        channel=note.channel,
        to=list(note.recipients),
        filed=iso(note.created_us),
        rev=note.rev,
        revised=iso(note.rev_created_us) if note.rev else None,
        status="cancelled" if note.cancelled else props.get("status", "active"),
        late=parsed is not None and parsed.late_s is not None,
        late_s=parsed.late_s if parsed is not None else None,
        min_notice_s=notices.MIN_LEAD_S.get(str(props.get("kind")), 0),
        defaulted=list(parsed.defaulted) if parsed is not None else [],
        error=note.error,
        conflicts=len(state.conflicts_of(note.id)),
    )
    out: dict[str, Any] = {
        "type": "Feature",
        "id": note.id,
        "geometry": feature.get("geometry"),
        "properties": props,
    }
    if full:
        out["conflicts"] = [conflict_json(c, state) for c in state.conflicts_of(note.id)]
        if parsed is not None:
            filed = datetime.fromtimestamp(note.rev_created_us / 1e6, UTC)
            out["rendered"] = {
                lang: notices.render(parsed.notice, lang, filed_at=filed) for lang in notices.LANGS
            }
    return out


def filing_json(
    item: str,
    object_id: str,
    alerts: Sequence[str],
    conflicts: Sequence[Conflict],
    state: DeconState,
) -> dict[str, Any]:
    """The answer to a filing (``{"id", "conflicts": [...]}``, the contract) with the alerts
    raised, the lateness flag and, for a change, the signed change's id."""
    note = state.notes.get(item)
    out: dict[str, Any] = {"id": item, "alerts": list(alerts)}
    if item != object_id:
        out["change_id"] = object_id
    if note is not None:
        props = notification_json(note, state)["properties"]
        out.update(
            status=props["status"],
            late=props["late"],
            late_s=props["late_s"],
            defaulted=props["defaulted"],
            rev=note.rev,
        )
    out["conflicts"] = [{**conflict_json(c, state), "overlap": state.overlap(c)} for c in conflicts]
    return out


def site_json(record: SiteRecord, state: DeconState) -> dict[str, Any]:
    """A protected site as a GeoJSON Feature: zone, provenance and verification status."""
    site = record.site
    return {
        "type": "Feature",
        "id": site.id,
        "geometry": dict(record.geometry) or site.zone.to_geojson(),
        "properties": {
            "id": site.id,
            "name": site.name,
            "kind": site.kind.value,
            "radius_m": site.zone.radius_m or None,
            "ceiling_m": site.ceiling_m,
            "start": epoch_iso(site.start) if site.start is not None else None,
            "end": epoch_iso(site.end) if site.end is not None else None,
            "declared_by": site.provenance.declared_by,
            "source": site.provenance.source,
            "declared": iso(record.created_us),
            "channel": record.channel,
            "confirmed_by": list(site.verification.confirmed_by),
            "verification": site.verification.status,
            "conflicts": len(state.conflicts_of(site.id)),
        },
    }
