"""Cursor-on-Target (CoT) XML: the events TAK clients stream over TCP, in and out.

In: ``<event uid type time ...><point lat lon hae .../><detail>...</detail></event>`` becomes
a track point (``uid`` is the track id, ``hae`` the altitude; a point's ``hae`` of 9999999
means unknown and is read as 0). A ``<detail><molink party="RU"/></detail>`` element
attributes the track to a party; otherwise a friendly type (``a-f-...``) is the receiving
party's own and anything else is ``UNKNOWN``.

Hostile input is refused, never expanded: a document with a DTD or an entity declaration
(``<!DOCTYPE``, ``<!ENTITY``: billion laughs, external entities) is refused before parsing,
as is anything over ``MAX_EVENT_BYTES`` or not UTF-8. The XML declaration is dropped, so the
parser never switches encodings. Errors are ``MalformedData``; nothing else escapes.

Out: ``render_event`` writes one event; ``CotStream`` frames a TCP byte stream into events
(TAK's "streaming" protocol version 0: XML events back to back).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

from molink.errors import MalformedData

__all__ = [
    "MAX_EVENT_BYTES",
    "CotPoint",
    "CotStream",
    "parse_event",
    "render_event",
]

MAX_EVENT_BYTES = 64 * 1024
_END = b"</event>"
_FORBIDDEN = re.compile(r"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)
_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_FRACTION = re.compile(r"(\.\d{6})\d+")
_UNKNOWN_HAE = 9_999_999.0


@dataclass(frozen=True, slots=True)
class CotPoint:
    """One position report read from a CoT event (epoch seconds, degrees, metres)."""

    uid: str
    type: str
    time: int
    lat: float
    lon: float
    alt_m: float
    party: str | None


def _attr_float(el: ET.Element, name: str, lo: float, hi: float) -> float:
    raw = el.get(name)
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError as exc:
        raise MalformedData(f"CoT: point/@{name} is not a number") from exc
    if not (math.isfinite(value) and lo <= value <= hi):
        raise MalformedData(f"CoT: point/@{name} is missing or out of range")
    return value


def _time(text: str | None, name: str) -> int:
    if text is None or len(text) > 40:
        raise MalformedData(f"CoT: event/@{name} is missing")
    try:
        when = datetime.fromisoformat(_FRACTION.sub(r"\1", text))
    except ValueError as exc:
        raise MalformedData(f"CoT: event/@{name} is not an ISO 8601 time") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # CoT times are UTC ("Z"); some clients omit it
    try:
        return math.floor(when.timestamp())
    except (OverflowError, OSError, ValueError) as exc:
        raise MalformedData(f"CoT: event/@{name} is out of range") from exc


def parse_event(data: bytes, *, own_party: str) -> CotPoint:
    """Read one CoT event. Raises MalformedData (refused) for anything else."""
    if len(data) > MAX_EVENT_BYTES:
        raise MalformedData(f"CoT: event larger than {MAX_EVENT_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedData("CoT: not UTF-8") from exc
    if _FORBIDDEN.search(text):
        raise MalformedData("CoT: DTDs and entity declarations are refused")
    text = _DECL.sub("", text, count=1)
    try:
        root = ET.fromstring(text)  # noqa: S314 - no DTD can reach here (checked above)
    except ET.ParseError as exc:
        raise MalformedData(f"CoT: not well-formed XML ({exc})") from exc
    if root.tag != "event":
        raise MalformedData("CoT: the root element is not <event>")
    uid, kind = root.get("uid"), root.get("type")
    if not uid or len(uid) > 64 or not kind or len(kind) > 64:
        raise MalformedData("CoT: event/@uid and event/@type are required (at most 64 chars)")
    point = root.find("point")
    if point is None:
        raise MalformedData("CoT: event has no <point>")
    lat = _attr_float(point, "lat", -90.0, 90.0)
    lon = _attr_float(point, "lon", -180.0, 180.0)
    hae = _attr_float(point, "hae", -20_000.0, 1e8)
    party = None
    tag = root.find("detail/molink")
    if tag is not None and tag.get("party"):
        party = str(tag.get("party"))[:16]
    elif kind.startswith("a-f"):
        party = own_party
    return CotPoint(
        uid=uid,
        type=kind,
        time=_time(root.get("time"), "time"),
        lat=lat,
        lon=lon,
        alt_m=0.0 if hae >= _UNKNOWN_HAE else hae,
        party=party or "UNKNOWN",
    )


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def render_event(
    *,
    uid: str,
    type: str,
    time: int,
    lat: float,
    lon: float,
    hae: float = 0.0,
    stale_s: int = 60,
    callsign: str | None = None,
    remarks: str | None = None,
    party: str | None = None,
    links: list[tuple[float, float]] | None = None,
    ellipse_m: float | None = None,
) -> bytes:
    """One CoT event (version 2.0) as UTF-8 bytes, with the XML declaration.

    ``links`` (lat, lon) make a shape's vertices (``u-d-f``); ``ellipse_m`` a circle's radius
    (``u-d-c-c``).
    """
    ev = ET.Element(
        "event",
        {
            "version": "2.0",
            "uid": uid,
            "type": type,
            "how": "m-g",
            "time": _iso(time),
            "start": _iso(time),
            "stale": _iso(time + stale_s),
        },
    )
    ET.SubElement(
        ev,
        "point",
        {
            "lat": f"{lat:.7f}",
            "lon": f"{lon:.7f}",
            "hae": f"{hae:.1f}",
            "ce": "9999999.0",
            "le": "9999999.0",
        },
    )
    detail = ET.SubElement(ev, "detail")
    if callsign:
        ET.SubElement(detail, "contact", {"callsign": callsign})
    if party:
        ET.SubElement(detail, "molink", {"party": party})
    if ellipse_m is not None:
        shape = ET.SubElement(detail, "shape")
        r = f"{ellipse_m:.1f}"
        ET.SubElement(shape, "ellipse", {"major": r, "minor": r, "angle": "360"})
    for la, lo in links or ():
        ET.SubElement(detail, "link", {"point": f"{la:.7f},{lo:.7f}"})
    if remarks:
        ET.SubElement(detail, "remarks").text = remarks
    body: bytes = ET.tostring(ev, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + body


class CotStream:
    """Frames a byte stream into CoT events (``...</event>``), bounded in memory.

    ``feed`` returns the complete events so far. A partial event longer than
    ``MAX_EVENT_BYTES`` raises MalformedData: the connection should be closed. A TAK
    protocol-version-1 (protobuf) stream, which starts with 0xBF, is refused.
    """

    def __init__(self, *, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_event_bytes

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        if self._buf[:1] == b"\xbf":
            raise MalformedData("CoT: TAK protocol version 1 (protobuf) is not supported")
        out = []
        while True:
            end = self._buf.find(_END)
            if end < 0:
                break
            cut = end + len(_END)
            event = bytes(self._buf[:cut]).strip()
            del self._buf[:cut]
            if event:
                out.append(event)
        if len(self._buf) > self._max:
            self._buf.clear()
            raise MalformedData(f"CoT: no </event> within {self._max} bytes")
        if not self._buf.strip():
            self._buf.clear()
        return out
