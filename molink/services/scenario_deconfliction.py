"""The deconfliction part of the demo scenario (shared/MISSION.md): public facts, approximate
where MISSION.md says so, and tracks reconstructed from public accounts (not recordings).

* the Zaporizhzhia NPP exclusion zone (30 km, declared by the mediator) and a drone
  notification that violates it;
* two overlapping airspace reservations over the Black Sea (US and RU);
* the Estonian airspace incursion of 19 September 2025: three MiG-31s for about 12 minutes
  near Vaindloo. Natural Earth's land boundaries have no territorial sea, so the airspace is
  declared as a protected zone by the US (for NATO), with that provenance;
* about 19 drones crossing into Poland near Wyryki-Wola on 9-10 September 2025,
  23:30-06:30 local (UTC+2), from Belarus and Ukraine; the Polish land boundary ships with
  molink.

Everything here is deterministic: no randomness, only arithmetic on the index.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from molink.core import geo
from molink.core.sites import ZAPORIZHZHIA_NPP
from molink.core.volume import Area, Disc

__all__ = [
    "ESTONIA_ZONE",
    "ZNPP_SITE",
    "black_sea_reservations",
    "drone_tracks",
    "mig31_tracks",
    "znpp_violation",
]


def _disc(zone: Disc | Area) -> Disc:
    if not isinstance(zone, Disc):  # pragma: no cover - the constant is a disc
        raise TypeError("ZAPORIZHZHIA_NPP must be a disc")
    return zone


_ZNPP = _disc(ZAPORIZHZHIA_NPP.zone)

#: Declared by the mediator (AE), as in ``core.sites.ZAPORIZHZHIA_NPP``.
ZNPP_SITE: dict[str, Any] = {
    "name": ZAPORIZHZHIA_NPP.name,
    "kind": "nuclear",
    "geometry": {"type": "Point", "coordinates": [_ZNPP.lon, _ZNPP.lat]},
    "radius_m": _ZNPP.radius_m,
    "source": ZAPORIZHZHIA_NPP.provenance.source,
}

#: Declared by the US for NATO: the Estonian territorial sea in the Gulf of Finland around
#: Vaindloo (59.82 N 26.36 E), all altitudes. Approximate.
ESTONIA_ZONE: dict[str, Any] = {
    "name": "Estonian airspace near Vaindloo",
    "kind": "border",
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [[25.0, 59.45], [27.6, 59.45], [27.6, 59.86], [25.0, 59.86], [25.0, 59.45]]
        ],
    },
    "source": "Estonian territorial airspace (approximate)",
}


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _disc_feature(
    title: str, kind: str, lon: float, lat: float, radius_m: float, **props: Any
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"kind": kind, "title": title, "radius_m": radius_m, **props},
    }


def black_sea_reservations(now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """A US reconnaissance orbit and an overlapping RU airspace regime over the Black Sea,
    tomorrow 06:00-10:00Z and 07:00-11:00Z."""
    day = (now + timedelta(days=1)).replace(hour=6, minute=0, second=0, microsecond=0)
    us = _disc_feature(
        "MQ-9 reconnaissance orbit, western Black Sea",
        "airspace_reservation",
        32.0,
        44.5,
        40_000.0,
        start=_iso(day),
        end=_iso(day + timedelta(hours=4)),
        lower_m=4500.0,
        upper_m=7500.0,
        purpose="Unarmed reconnaissance in international airspace",
    )
    ru = _disc_feature(
        "Temporary airspace regime, missile firing",
        "airspace_reservation",
        32.4,
        44.3,
        50_000.0,
        start=_iso(day + timedelta(hours=1)),
        end=_iso(day + timedelta(hours=5)),
        lower_m=0.0,
        upper_m=12_000.0,
        purpose="Firing exercise of the Black Sea Fleet",
    )
    return us, ru


def znpp_violation(now: datetime) -> dict[str, Any]:
    """Drone operations 8 km from the plant, inside its 30 km exclusion zone."""
    day = (now + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    lon, lat, _ = geo.GEOD.fwd(_ZNPP.lon, _ZNPP.lat, 45.0, 8000.0)
    return _disc_feature(
        "Reconnaissance drone flights, Enerhodar",
        "drone_operations",
        float(lon),
        float(lat),
        5000.0,
        start=_iso(day),
        end=_iso(day + timedelta(hours=3)),
        lower_m=0.0,
        upper_m=1500.0,
        drones=2,
        drone_type="Orlan-10",
    )


def _path(
    track: str,
    start: datetime,
    lon: float,
    lat: float,
    azimuth: float,
    speed_ms: float,
    alt_m: float,
    *,
    step_s: int,
    steps: int,
) -> list[dict[str, Any]]:
    out = []
    for k in range(steps + 1):
        out.append(
            {
                "track_id": track,
                "time": _iso(start + timedelta(seconds=k * step_s)),
                "lat": round(lat, 6),
                "lon": round(lon, 6),
                "alt_m": alt_m,
            }
        )
        nlon, nlat, _ = geo.GEOD.fwd(lon, lat, azimuth, speed_ms * step_s)
        lon, lat = float(nlon), float(nlat)
    return out


def mig31_tracks() -> list[dict[str, Any]]:
    """Three MiG-31s westbound along the Gulf of Finland, 19 September 2025, about 12 minutes
    inside ``ESTONIA_ZONE`` (about 730 km/h, one fix every 10 s)."""
    start = datetime(2025, 9, 19, 6, 55, tzinfo=UTC)
    points: list[dict[str, Any]] = []
    for k in range(3):
        points += _path(
            f"MIG31-{k + 1}",
            start + timedelta(seconds=5 * k),
            28.4,
            59.81 + 0.01 * k,
            270.0,
            203.0,
            9000.0 + 500.0 * k,
            step_s=10,
            steps=110,
        )
    return sorted(points, key=lambda p: (p["time"], p["track_id"]))


def drone_tracks() -> list[dict[str, Any]]:
    """19 drones crossing into Poland from Belarus and Ukraine, 9-10 September 2025 between
    21:30Z and 04:30Z (23:30-06:30 local), about 150 km/h, one fix every 30 s; three end near
    Wyryki-Wola (51.43 N 23.43 E). Each crosses one border only, into Poland."""
    first = datetime(2025, 9, 9, 21, 30, tzinfo=UTC)
    points: list[dict[str, Any]] = []
    for k in range(19):
        start = first + timedelta(minutes=20 * k)
        if k < 6:  # from Ukraine (Volyn), south of the tri-point
            lon0, lat0 = 24.1, 51.30 + 0.03 * k
            target_lon, target_lat = (23.43, 51.43) if k % 2 else (23.1, lat0)
        else:  # from Belarus, north of it
            lon0, lat0 = 24.0, 51.80 + 0.05 * (k - 6)
            target_lon, target_lat = 23.0 - 0.02 * (k % 4), lat0 - 0.05
        azimuth, _, dist = geo.GEOD.inv(lon0, lat0, target_lon, target_lat)
        steps = max(2, math.ceil(float(dist) / (41.7 * 30)))
        points += _path(
            f"UAV-{k + 1:02d}",
            start,
            lon0,
            lat0,
            float(azimuth),
            41.7,
            150.0 + 20.0 * (k % 10),
            step_s=30,
            steps=steps,
        )
    return sorted(points, key=lambda p: (p["time"], p["track_id"]))
