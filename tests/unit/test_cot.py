"""Cursor-on-Target: events in and out, framing, and hostile or malformed XML refused."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core.cot import MAX_EVENT_BYTES, CotStream, parse_event, render_event
from molink.errors import MalformedData

EVENT = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<event version="2.0" uid="MIG31-1" type="a-h-A-M-F" how="m-g" '
    b'time="2025-09-19T09:00:00.000Z" start="2025-09-19T09:00:00.000Z" '
    b'stale="2025-09-19T09:01:00.000Z"><point lat="59.81" lon="26.35" hae="10000.0" '
    b'ce="9999999.0" le="9999999.0"/><detail><molink party="RU"/></detail></event>'
)


def test_an_event_becomes_a_track_point() -> None:
    p = parse_event(EVENT, own_party="US")
    assert (p.uid, p.type, p.party) == ("MIG31-1", "a-h-A-M-F", "RU")
    assert p.time == 1758272400
    assert (p.lat, p.lon, p.alt_m) == (59.81, 26.35, 10000.0)


def test_attribution_without_a_molink_detail() -> None:
    friendly = EVENT.replace(b'<molink party="RU"/>', b"").replace(b"a-h-A", b"a-f-A")
    assert parse_event(friendly, own_party="US").party == "US"
    hostile = EVENT.replace(b'<molink party="RU"/>', b"")
    assert parse_event(hostile, own_party="US").party == "UNKNOWN"
    unknown_height = EVENT.replace(b'hae="10000.0"', b'hae="9999999.0"')
    assert parse_event(unknown_height, own_party="US").alt_m == 0.0


def test_render_and_parse_round_trip() -> None:
    raw = render_event(
        uid="T1", type="a-u-A", time=1758272400, lat=51.4, lon=23.5, hae=300.0, party="RU"
    )
    p = parse_event(raw, own_party="US")
    assert (p.uid, p.time, p.lat, p.lon, p.alt_m, p.party) == (
        "T1",
        1758272400,
        51.4,
        23.5,
        300.0,
        "RU",
    )


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<event uid="x" type="a-h-A" time="2025-09-19T09:00:00Z"><point lat="1" lon="1" hae="1"/>
<detail><remarks>&lol3;</remarks></detail></event>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<event uid="x" type="a-h-A" time="2025-09-19T09:00:00Z"><point lat="1" lon="1" hae="1"/>
<detail><remarks>&x;</remarks></detail></event>"""

MALFORMED = {
    "billion laughs": BOMB,
    "external entity": XXE,
    "lower-case doctype": BOMB.replace(b"DOCTYPE", b"doctype"),
    "utf-16 declared": EVENT.replace(b"UTF-8", b"UTF-16"),
    "not utf-8": EVENT.replace(b"MIG31-1", b"MIG\xff"),
    "undefined entity": EVENT.replace(b"MIG31-1", b"&boom;"),
    "not well formed": EVENT[:-3],
    "wrong root": b'<evnt uid="x"/>',
    "no point": EVENT.replace(b'<point lat="59.81"', b'<pnt lat="59.81"'),
    "latitude out of range": EVENT.replace(b'lat="59.81"', b'lat="91"'),
    "latitude not a number": EVENT.replace(b'lat="59.81"', b'lat="north"'),
    "latitude nan": EVENT.replace(b'lat="59.81"', b'lat="nan"'),
    "no time": EVENT.replace(b' time="2025-09-19T09:00:00.000Z"', b""),
    "bad time": EVENT.replace(b'time="2025-09-19T09:00:00.000Z"', b'time="yesterday"'),
    "no uid": EVENT.replace(b'uid="MIG31-1" ', b""),
    "oversized": EVENT.replace(b"<detail>", b"<detail>" + b"<x/>" * MAX_EVENT_BYTES),
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_and_hostile_events_are_refused(name: str) -> None:
    utf16 = name == "utf-16 declared"
    data = MALFORMED[name]
    if utf16:  # the declaration is dropped: the text is read as UTF-8 and parses fine
        assert parse_event(data, own_party="US").uid == "MIG31-1"
        return
    with pytest.raises(MalformedData):
        parse_event(data, own_party="US")


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_random_bytes_raise_nothing_but_malformed_data(data: bytes) -> None:
    with contextlib.suppress(MalformedData):
        parse_event(data, own_party="US")


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=len(EVENT)), st.text(max_size=30))
def test_mutated_events_raise_nothing_but_malformed_data(cut: int, junk: str) -> None:
    data = EVENT[:cut] + junk.encode("utf-8", "surrogatepass") + EVENT[cut:]
    with contextlib.suppress(MalformedData):
        parse_event(data, own_party="US")


def test_a_stream_is_framed_into_events_in_any_chunking() -> None:
    stream_bytes = (EVENT + b"\n") * 3
    for size in (1, 7, 100, len(stream_bytes)):
        stream = CotStream()
        got: list[bytes] = []
        for i in range(0, len(stream_bytes), size):
            got += stream.feed(stream_bytes[i : i + size])
        assert got == [EVENT] * 3, size


def test_a_stream_without_end_tags_is_refused_not_buffered() -> None:
    stream = CotStream(max_event_bytes=1024)
    for _ in range(4):  # 828 bytes buffered: still within the bound
        stream.feed(b"<event>" + b"x" * 200)
    with pytest.raises(MalformedData):
        stream.feed(b"<event>" + b"x" * 200)
    with pytest.raises(MalformedData):
        CotStream().feed(b"\xbf\x01\xbf")  # TAK protocol version 1 (protobuf)
