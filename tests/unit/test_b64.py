"""Strict base64url (molink/core/b64.py).

``b64url_decode`` checks canonical form by looking at the unused bits of the last
character (RFC 4648 §3.5) instead of re-encoding; these tests pin that it accepts and
refuses exactly what the re-encoding check did, and that encoding is unchanged.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core.b64 import b64url_decode, b64url_encode
from molink.errors import MalformedData

_REFERENCE_ALPHABET = re.compile(r"^[A-Za-z0-9_-]*$")
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Characters that are not base64url but that some decoder or regex could let through.
FOREIGN = "=+/ \n\r\t.\0!~é\u00ffЖ\u2028😀"


def reference_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def reference_decode(text: str) -> bytes | None:
    """The previous implementation (re-encode and compare); None where it refused."""
    if not isinstance(text, str) or not _REFERENCE_ALPHABET.match(text) or len(text) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if reference_encode(raw) == text else None


def decode_or_none(text: str) -> bytes | None:
    try:
        return b64url_decode(text)
    except MalformedData:
        return None


def test_rfc4648_section10_vectors() -> None:
    for plain, encoded in [
        (b"", ""),
        (b"f", "Zg"),
        (b"fo", "Zm8"),
        (b"foo", "Zm9v"),
        (b"foob", "Zm9vYg"),
        (b"fooba", "Zm9vYmE"),
        (b"foobar", "Zm9vYmFy"),
        (b"\xfb\xff\xbf", "-_-_"),
    ]:
        assert b64url_encode(plain) == encoded
        assert b64url_decode(encoded) == plain


@pytest.mark.parametrize("length", [1, 2, 3])
def test_same_verdicts_as_reference_on_every_short_string(length: int) -> None:
    """Exhaustive up to three characters, over the whole alphabet and foreign characters."""
    chars = ALPHABET + FOREIGN
    for combo in itertools.product(chars, repeat=length):
        text = "".join(combo)
        assert decode_or_none(text) == reference_decode(text), repr(text)


def test_same_verdicts_on_four_and_five_character_edges() -> None:
    """Every last character after valid prefixes, and foreign characters at every position."""
    chars = ALPHABET + FOREIGN
    for prefix in ("AAAA", "Zm9v", "AAA", "AA", "A", "QQ", "-_-"):
        for last, extra in itertools.product(chars, ["", "=", "==", "\n", "A"]):
            text = prefix + last + extra
            assert decode_or_none(text) == reference_decode(text), repr(text)
    for position, foreign in itertools.product(range(9), FOREIGN):
        text = "Zm9vYmFy"[:position] + foreign + "Zm9vYmFy"[position:]
        assert decode_or_none(text) == reference_decode(text), repr(text)


def test_every_non_canonical_last_character_is_refused() -> None:
    """Set any unused bit of the last character (4 of them after 1 byte, 2 after 2)."""
    for data in (b"\x00", b"\xff", b"\x00\x00", b"\xff\xff", b"\x12\x34\x56\x78"):
        canonical = b64url_encode(data)
        unused = 4 if len(data) % 3 == 1 else 2
        value = ALPHABET.index(canonical[-1])
        for low in range(1, 1 << unused):
            text = canonical[:-1] + ALPHABET[value | low]
            with pytest.raises(MalformedData, match="non-canonical"):
                b64url_decode(text)


def test_non_strings_are_refused() -> None:
    for value in (b"Zm9v", None, 3, ["Zm9v"]):
        with pytest.raises(MalformedData):
            b64url_decode(value)  # type: ignore[arg-type]


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_round_trip_and_encoding_unchanged(data: bytes) -> None:
    text = b64url_encode(data)
    assert text == reference_encode(data)
    assert b64url_decode(text) == data


@settings(max_examples=1000)
@given(st.text(alphabet=ALPHABET + FOREIGN, max_size=24))
def test_same_verdicts_as_reference(text: str) -> None:
    assert decode_or_none(text) == reference_decode(text)


@settings(max_examples=500)
@given(st.binary(min_size=1, max_size=64), st.data())
def test_same_verdicts_on_one_changed_character(data: bytes, draw: st.DataObject) -> None:
    text = b64url_encode(data)
    position = draw.draw(st.integers(0, len(text) - 1))
    char = draw.draw(st.sampled_from(ALPHABET + FOREIGN))
    changed = text[:position] + char + text[position + 1 :]
    assert decode_or_none(changed) == reference_decode(changed)


@settings(max_examples=300)
@given(st.binary(min_size=770, max_size=900), st.data())
def test_same_verdicts_on_long_strings(data: bytes, draw: st.DataObject) -> None:
    """Strings of 1024 characters and more take the replace path in ``b64url_decode``."""
    text = b64url_encode(data)
    assert len(text) >= 1024
    assert b64url_decode(text) == data
    position = draw.draw(st.integers(0, len(text) - 1))
    char = draw.draw(st.sampled_from(ALPHABET + FOREIGN))
    changed = text[:position] + char + text[position + 1 :]
    assert decode_or_none(changed) == reference_decode(changed)
    assert decode_or_none(changed + "A") == reference_decode(changed + "A")


def test_long_strings_with_each_foreign_character() -> None:
    text = b64url_encode(bytes(range(256)) * 6)
    assert len(text) >= 1024
    for char in FOREIGN + "-_":
        for changed in (char + text[1:], text[:700] + char + text[701:], text[:-1] + char):
            assert decode_or_none(changed) == reference_decode(changed), repr(char)
