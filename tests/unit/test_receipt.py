"""Signed delivery receipts (molink/core/receipt.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core.b64 import b64url_decode, b64url_encode
from molink.core.canonical import canonical_json
from molink.core.envelope import verify_signed
from molink.core.ids import uuid7
from molink.core.jose import jws_parse, jws_sign
from molink.core.keys import PartyKeys
from molink.core.receipt import RECEIPT_TYP, Receipt, make_receipt, verify_receipt
from molink.errors import InvalidInput, MalformedData, MolinkError, SignatureInvalid, UnknownPeer
from tests.vectors import generate
from tests.vectors.generate import directory, fixed_keys

NOW = datetime(2026, 2, 5, 10, 0, 1, tzinfo=UTC)
US, RU = fixed_keys("US"), fixed_keys("RU")
DIR = directory("US", "RU", "UA")
MESSAGE_ID = uuid7(NOW, bytes(range(10)))
SHA = "ab" * 32


def _receipt(keys: PartyKeys = RU, **changes: Any) -> str:
    args: dict[str, Any] = {
        "message_id": MESSAGE_ID,
        "jws_sha256": SHA,
        "sender": "US",
        "received": NOW,
        "log_origin": "molink.example/RU/log",
        "log_index": 12,
        **changes,
    }
    return make_receipt(keys, **args)


def _payload(text: str) -> dict[str, Any]:
    return dict(json.loads(jws_parse(text).payload))


def _resign(payload: dict[str, Any], keys: PartyKeys = RU) -> str:
    return jws_sign(canonical_json(payload), keys.sig_private, kid=keys.public.sig_kid, typ="x")


def test_round_trip() -> None:
    text = _receipt()
    receipt = verify_receipt(text, DIR, message_id=MESSAGE_ID, jws_sha256=SHA)
    assert receipt == Receipt(
        jws=text,
        message_id=MESSAGE_ID,
        jws_sha256=SHA,
        recipient="RU",
        sender="US",
        received=NOW,
        log_origin="molink.example/RU/log",
        log_index=12,
    )
    assert jws_parse(text).header["typ"] == RECEIPT_TYP
    assert _payload(text) == {
        "v": 1,
        "type": "receipt",
        "message_id": MESSAGE_ID,
        "jws_sha256": SHA,
        "from": "RU",
        "to": "US",
        "received": "2026-02-05T10:00:01.000Z",
        "log_origin": "molink.example/RU/log",
        "log_index": 12,
    }
    assert jws_parse(text).payload == canonical_json(_payload(text))


def test_receipt_for_another_message_or_content() -> None:
    text = _receipt()
    with pytest.raises(SignatureInvalid) as info:
        verify_receipt(text, DIR, message_id=uuid7(NOW, bytes(10)))
    assert info.value.evidence == {"receipt": text}
    with pytest.raises(SignatureInvalid):
        verify_receipt(text, DIR, jws_sha256="cd" * 32)


def test_receipt_signed_by_the_wrong_party_or_key() -> None:
    with pytest.raises(UnknownPeer):
        verify_receipt(_receipt(), directory("US"))
    with pytest.raises(SignatureInvalid):  # RU's receipt, claimed to be from US's key
        verify_receipt(_resign(_payload(_receipt()), US), DIR)
    rogue = fixed_keys("RU", generation=1)
    with pytest.raises(SignatureInvalid):
        verify_receipt(_receipt(rogue), DIR)
    forged = jws_sign(
        jws_parse(_receipt()).payload, rogue.sig_private, kid=RU.public.sig_kid, typ=RECEIPT_TYP
    )
    with pytest.raises(SignatureInvalid):
        verify_receipt(forged, DIR)


@pytest.mark.parametrize(
    "change",
    [
        {"message_id": "nope"},
        {"jws_sha256": "AB" * 32},
        {"jws_sha256": "ab" * 31},
        {"jws_sha256": SHA + "\n"},  # regression: "$" matched before a trailing newline
        {"message_id": MESSAGE_ID + "\n"},
        {"sender": "us"},
        {"log_origin": ""},
        {"log_origin": "molink.example/US\nforged line"},
        {"log_origin": "molink example"},
        {"log_origin": "a+b"},
        {"log_index": -1},
        {"received": datetime(2026, 2, 5)},
    ],
)
def test_make_receipt_refuses_invalid_input(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        _receipt(**change)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: {**p, "v": 2},
        lambda p: {**p, "type": "message"},
        lambda p: {**p, "message_id": 5},
        lambda p: {**p, "log_index": "12"},
        lambda p: {**p, "log_index": -1},
        lambda p: {**p, "received": 5},
        lambda p: {**p, "received": "tomorrow"},
        lambda p: {**p, "received": "2026-02-05T10:00:01"},
        lambda p: {**p, "to": ["US"]},
        lambda p: {k: v for k, v in p.items() if k != "log_origin"},
        lambda p: {**p, "log_origin": "two\nlines"},
        lambda p: {**p, "log_origin": "has space"},
    ],
)
def test_verify_refuses_bad_payload_even_when_signed(mutate: Any) -> None:
    with pytest.raises(MalformedData):
        verify_receipt(_resign(mutate(_payload(_receipt()))), DIR)


def test_receipts_and_messages_cannot_be_confused() -> None:
    vectors = json.loads(generate.PATH.read_text(encoding="utf-8"))
    with pytest.raises(MalformedData):
        verify_receipt(vectors["message"]["jws"], DIR)
    with pytest.raises(MalformedData):
        verify_signed(vectors["receipt"]["jws"], DIR)


def test_vector_receipt_verifies() -> None:
    vectors = json.loads(generate.PATH.read_text(encoding="utf-8"))
    receipt = verify_receipt(
        vectors["receipt"]["jws"],
        DIR,
        message_id=vectors["message"]["payload"]["id"],
        jws_sha256=vectors["message"]["jws_sha256"],
    )
    assert receipt.recipient == "RU"
    assert receipt.sender == "US"


_RECEIPT = _receipt()


@settings(max_examples=300)
@given(st.integers(0, 2), st.integers(0, 1 << 16), st.integers(1, 255))
def test_any_flipped_byte_is_rejected(segment: int, position: int, mask: int) -> None:
    parts = _RECEIPT.split(".")
    raw = bytearray(b64url_decode(parts[segment]))
    raw[position % len(raw)] ^= mask
    parts[segment] = b64url_encode(bytes(raw))
    with pytest.raises(MolinkError):
        verify_receipt(".".join(parts), DIR)


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_verify_receipt_raises_only_molink_errors(text: str) -> None:
    with pytest.raises(MolinkError):
        verify_receipt(text, DIR)


_VALUES = st.none() | st.booleans() | st.integers() | st.text(max_size=70)


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(list(_payload(_RECEIPT))), _VALUES, max_size=9))
def test_signed_random_payloads_raise_only_molink_errors(payload: dict[str, Any]) -> None:
    try:
        receipt = verify_receipt(_resign(payload), DIR)
    except MolinkError:
        return
    assert receipt.recipient == "RU"
