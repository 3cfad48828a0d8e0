"""Terminal identity and proofs (molink/core/terminal.py) and geofences (core/geofence.py)."""

from __future__ import annotations

import hashlib
import math

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from molink.core.b64 import b64url_encode
from molink.core.geofence import parse_geofence, parse_location
from molink.core.terminal import (
    enrol_text,
    login_text,
    parse_public_key,
    terminal_fingerprint,
    terminal_id,
    validate_label,
    validate_unit,
    verify_proof,
)
from molink.errors import InvalidInput, NotAuthenticated

SEED = bytes(range(32))


def _key() -> tuple[Ed25519PrivateKey, bytes]:
    private = Ed25519PrivateKey.from_private_bytes(SEED)
    return private, private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_ids_and_fingerprints_are_stable() -> None:
    _, public = _key()
    assert terminal_id(public) == "trm-" + hashlib.sha256(public).hexdigest()[:20]
    fp = terminal_fingerprint(public)
    assert len(fp.split(" ")) == 6
    assert all(len(g) == 5 and g.isdigit() for g in fp.split(" "))
    assert terminal_fingerprint(bytes(32)) != fp


def test_texts_name_their_purpose_and_end_with_newline() -> None:
    _, public = _key()
    expected = b"molink-login-v1\nUS\ntrm-1\nduty-us\nabc\n"
    assert login_text("US", "trm-1", "duty-us", "abc") == expected
    text = enrol_text("US", public, "console", "HQ", "Watch desk 1")
    assert text.startswith(b"molink-enrol-v1\nUS\n" + b64url_encode(public).encode() + b"\n")
    assert text.endswith(b"\nconsole\nHQ\nWatch desk 1\n")


def test_proof_verifies_only_for_the_signed_text() -> None:
    private, public = _key()
    text = login_text("US", terminal_id(public), "duty-us", "c1")
    signature = b64url_encode(private.sign(text))
    verify_proof(public, text, signature)
    with pytest.raises(NotAuthenticated, match="does not verify"):
        verify_proof(public, login_text("RU", terminal_id(public), "duty-us", "c1"), signature)
    with pytest.raises(NotAuthenticated, match="64-byte"):
        verify_proof(public, text, b64url_encode(b"x" * 63))
    with pytest.raises(NotAuthenticated, match="base64url"):
        verify_proof(public, text, "not base64!")


@pytest.mark.parametrize(
    "text", ["", "AAAA", b64url_encode(bytes(31)), b64url_encode(bytes(33)), "a+b/", "AA=="]
)
def test_bad_public_keys_are_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_public_key(text)


def test_good_public_key_round_trips() -> None:
    _, public = _key()
    assert parse_public_key(b64url_encode(public)) == public


@pytest.mark.parametrize("unit", ["", "-HQ", "a" * 65, "HQ 1", "HQ\n", "ÜNIT"])
def test_bad_units(unit: str) -> None:
    with pytest.raises(InvalidInput):
        validate_unit(unit)


@pytest.mark.parametrize("label", ["", " x", "x ", "a\nb", "a\x00", "y" * 201])
def test_bad_labels(label: str) -> None:
    with pytest.raises(InvalidInput):
        validate_label(label)


def test_good_unit_and_label() -> None:
    assert validate_unit("3rd-Bde.HQ_1") == "3rd-Bde.HQ_1"
    assert validate_label("Дежурный пульт 1") == "Дежурный пульт 1"


SQUARE = {"type": "Polygon", "coordinates": [[[30, 50], [31, 50], [31, 51], [30, 51], [30, 50]]]}


def test_geofence_contains_inside_and_boundary_only() -> None:
    fence = parse_geofence(SQUARE)
    assert fence.contains(50.5, 30.5)
    assert fence.contains(50.0, 30.5)  # the boundary belongs to the fence
    assert not fence.contains(50.5, 31.5)
    assert not fence.contains(30.5, 50.5)  # lat/lon swapped is outside
    assert fence.geojson["type"] == "Polygon"


def test_geofence_with_hole_and_multipolygon() -> None:
    holed = {
        "type": "Polygon",
        "coordinates": [
            SQUARE["coordinates"][0],
            [[30.4, 50.4], [30.6, 50.4], [30.6, 50.6], [30.4, 50.6], [30.4, 50.4]],
        ],
    }
    assert not parse_geofence(holed).contains(50.5, 30.5)
    east = [[[40, 50], [41, 50], [41, 51], [40, 51], [40, 50]]]
    multi = {"type": "MultiPolygon", "coordinates": [holed["coordinates"], east]}
    fence = parse_geofence(multi)
    assert fence.contains(50.2, 30.2)
    assert fence.contains(50.5, 40.5)
    assert not fence.contains(50.5, 30.5)
    assert not fence.contains(50.5, 35.0)


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        {"type": "Point", "coordinates": [30, 50]},
        {"type": "Polygon", "coordinates": []},
        {"type": "Polygon", "coordinates": [[[30, 50], [31, 50], [30, 50]]]},
        {"type": "Polygon", "coordinates": [[[30, 50], [31, 50], [31, 51], [30, 51]]]},
        {"type": "Polygon", "coordinates": [[[30, 50], [31, 51], [31, 50], [30, 51], [30, 50]]]},
        {"type": "Polygon", "coordinates": [[[30, 95], [31, 50], [31, 51], [30, 51], [30, 95]]]},
        {"type": "Polygon", "coordinates": [[["a", 50], [31, 50], [31, 51], [30, 51], ["a", 50]]]},
        {"type": "Polygon", "coordinates": [[[True, 50], [31, 50], [31, 51], [30, 51], [1, 50]]]},
        {"type": "Polygon", "coordinates": [[[30, 50], [30, 50], [30, 50], [30, 50]]]},
        {"type": "MultiPolygon", "coordinates": []},
    ],
)
def test_bad_geofences_are_invalid_input(bad: object) -> None:
    with pytest.raises(InvalidInput):
        parse_geofence(bad)


def test_parse_location() -> None:
    assert parse_location("50.45, 30.52") == (50.45, 30.52)
    assert parse_location("-33.9,18.4") == (-33.9, 18.4)


@pytest.mark.parametrize("bad", ["", "50", "50,30,1", "x,y", "91,0", "0,181", "nan,0", "inf,1"])
def test_bad_locations(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_location(bad)


@given(st.text(max_size=80))
def test_parse_location_never_leaks_foreign_errors(text: str) -> None:
    try:
        lat, lon = parse_location(text)
    except InvalidInput:
        return
    assert math.isfinite(lat)
    assert math.isfinite(lon)
    assert abs(lat) <= 90
    assert abs(lon) <= 180


def test_public_surface_is_pinned() -> None:
    import molink.core.geofence as geofence
    import molink.core.terminal as terminal

    assert geofence.__all__ == ["MAX_VERTICES", "Geofence", "parse_geofence", "parse_location"]
    assert terminal.__all__ == [
        "KINDS",
        "enrol_text",
        "login_text",
        "parse_public_key",
        "terminal_fingerprint",
        "terminal_id",
        "validate_label",
        "validate_unit",
        "verify_proof",
    ]
