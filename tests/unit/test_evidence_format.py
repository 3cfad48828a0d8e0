"""Evidence bundle container: entry names, zip limits (bombs), manifest parsing."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from molink.core.evidence import verify_bundle
from molink.core.evidence_format import (
    BundleAck,
    BundleLog,
    BundleMessage,
    Manifest,
    check_name,
    parse_manifest,
    path_name,
    read_bundle,
    write_bundle,
)
from molink.errors import MalformedData

WHEN = datetime(2026, 2, 5, 10, 0, tzinfo=UTC)
MID = "019c2d3e-8d00-75d6-b12e-201d47c09f84"
AID = "019c2d3e-8d00-79ed-9171-81a66eab08ae"


def _zip(entries: list[tuple[str, bytes]], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = method
            archive.writestr(info, data)
    return buffer.getvalue()


def _manifest() -> Manifest:
    return Manifest(
        exporter="US",
        created="2026-02-05T10:00:00.000Z",
        parties=("RU", "US"),
        messages=(
            BundleMessage(MID, "ab" * 32, receipts=("RU",), acks=(BundleAck(AID, ("US",)),)),
        ),
        logs=(BundleLog("molink.local/US/3f2a", "US"), BundleLog("x/RU", "RU", False, "down")),
        witnesses=("molink.local/RU/witness",),
    )


# ------------------------------------------------------------------------------ names


@pytest.mark.parametrize(
    "name",
    [
        "../etc/passwd",
        "messages/../../x",
        "/etc/passwd",
        "C:/windows/x",
        "messages\\x.jws",
        "..",
        ".",
        "a/./b",
        "a//b",
        "",
        "trailing/",
        "a b",
        "nul\x00byte",
        "é.jws",
        "a/" * 9 + "b",
    ],
)
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(MalformedData):
        check_name(name)


def test_traversal_names_in_a_zip_are_refused() -> None:
    for name in ("../evil", "/abs/path", "keys\\jwks\\US.json", "log/../../x"):
        with pytest.raises(MalformedData):
            read_bundle(_zip([("manifest.json", b"{}"), (name, b"x")]))


def test_traversal_names_in_a_mapping_are_refused() -> None:
    files = {"manifest.json": _manifest().to_json(), "../x": b""}
    with pytest.raises(MalformedData):
        verify_bundle(files)


@given(st.text(min_size=1, max_size=80))
def test_path_name_always_gives_one_safe_segment(name: str) -> None:
    segment = path_name(name)
    check_name(segment)
    assert "/" not in segment
    assert segment not in (".", "..")


def test_path_name_examples() -> None:
    assert path_name("molink.local/US/3f2a") == "molink.local%2FUS%2F3f2a"
    assert path_name("..") == "%2E."
    assert path_name("a b+c") == "a%20b%2Bc"


# -------------------------------------------------------------------------------- zip


def test_write_then_read_round_trips_deterministically() -> None:
    files = {"manifest.json": b"{}", "messages/a.jws": b"x" * 1000}
    data = write_bundle(files, when=WHEN)
    assert data == write_bundle(dict(reversed(files.items())), when=WHEN)
    assert read_bundle(data) == files


def test_zip_bomb_is_refused_while_inflating() -> None:
    bomb = _zip([("manifest.json", b"{}"), ("big", b"\0" * 2_000_000)])
    assert len(bomb) < 10_000
    with pytest.raises(MalformedData, match=r"too large|beyond"):
        read_bundle(bomb, max_bytes=1_000_000)
    with pytest.raises(MalformedData, match=r"too large|beyond"):
        read_bundle(bomb, max_file_bytes=100_000)


def test_lying_size_headers_do_not_help_a_bomb() -> None:
    data = bytearray(_zip([("big", b"\0" * 200_000)]))
    # Patch the declared uncompressed size (local header and central directory) to 10.
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(sig)
        data[at + offset : at + offset + 4] = (10).to_bytes(4, "little")
    with pytest.raises(MalformedData):
        read_bundle(bytes(data), max_file_bytes=100_000)


def test_too_many_files_are_refused() -> None:
    many = _zip([(f"f{i}", b"") for i in range(50)])
    with pytest.raises(MalformedData, match="more than"):
        read_bundle(many, max_files=10)


def test_duplicate_names_encrypted_and_garbage_are_refused() -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        twice = _zip([("a", b"1"), ("a", b"2")])
    with pytest.raises(MalformedData, match="duplicated"):
        read_bundle(twice)
    with pytest.raises(MalformedData):
        read_bundle(b"not a zip at all")
    data = bytearray(_zip([("a", b"secret")]))
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(sig)
        data[at + offset] |= 1
    with pytest.raises(MalformedData, match="encrypted"):
        read_bundle(bytes(data))


def test_directory_entries_are_checked_and_dropped() -> None:
    assert read_bundle(_zip([("messages/", b""), ("manifest.json", b"{}")])) == {
        "manifest.json": b"{}"
    }
    with pytest.raises(MalformedData):
        read_bundle(_zip([("../", b"")]))


# --------------------------------------------------------------------------- manifest


def test_manifest_round_trips_and_lists_its_files() -> None:
    manifest = _manifest()
    assert parse_manifest(manifest.to_json()) == manifest
    assert manifest.files() == {
        "manifest.json",
        "keys/jwks/RU.json",
        "keys/jwks/US.json",
        "keys/witness/molink.local%2FRU%2Fwitness.vkey",
        "keys/log/molink.local%2FUS%2F3f2a.vkey",
        "log/molink.local%2FUS%2F3f2a/checkpoint",
        "log/molink.local%2FUS%2F3f2a/entries.json",
        "log/molink.local%2FUS%2F3f2a/consistency.json",
        f"messages/{MID}.jws",
        f"receipts/{MID}.RU.jws",
        f"acks/{AID}.jws",
        f"receipts/{AID}.US.jws",
    }


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m.update(format="other"),
        lambda m: m.update(version=2),
        lambda m: m.update(extra=1),
        lambda m: m.pop("messages"),
        lambda m: m["messages"][0].update(id="../../x"),
        lambda m: m["messages"][0].update(jws_sha256="AB" * 32),
        lambda m: m["messages"][0].update(receipts=["RU", "RU"]),
        lambda m: m["messages"][0].update(receipts=["../x"]),
        lambda m: m["messages"][0].update(disclosed="yes"),
        lambda m: m["logs"][0].update(origin="has space"),
        lambda m: m["logs"][0].update(included=1),
        lambda m: m.update(parties="US"),
        lambda m: m.update(witnesses=[7]),
    ],
)
def test_malformed_manifests_raise(mutate: object) -> None:
    body = json.loads(_manifest().to_json())
    mutate(body)  # type: ignore[operator]
    with pytest.raises(MalformedData):
        parse_manifest(json.dumps(body).encode())


def test_missing_or_garbage_manifest_raises() -> None:
    with pytest.raises(MalformedData, match="no manifest"):
        verify_bundle({})
    with pytest.raises(MalformedData):
        verify_bundle({"manifest.json": b"\xff\xfe"})


@given(st.binary(max_size=300))
def test_manifest_parser_raises_only_malformed_data(data: bytes) -> None:
    with contextlib.suppress(MalformedData):
        parse_manifest(data)


def test_an_empty_but_well_formed_bundle_reports_its_missing_files() -> None:
    report = verify_bundle({"manifest.json": _manifest().to_json()})
    assert not report.ok
    subjects = " ".join(c.detail for c in report.failures)
    assert "keys/jwks/US.json is missing" in subjects
    assert "checkpoint is missing" in subjects


def test_public_surfaces_are_pinned() -> None:
    import molink.core.evidence as evidence
    import molink.core.evidence_format as fmt

    assert sorted(evidence.__all__) == [
        "AckView",
        "Check",
        "EvidenceReport",
        "KeyView",
        "LogRecord",
        "LogView",
        "MessageView",
        "Outcome",
        "ReceiptView",
        "verify_bundle",
    ]
    assert {"read_bundle", "write_bundle", "parse_manifest", "check_name"} <= set(fmt.__all__)
    assert all(hasattr(fmt, name) for name in fmt.__all__)
