"""Strict base64 helpers (RFC 4648 §5 base64url without padding, and §4 standard)."""

from __future__ import annotations

import base64
import binascii

from molink.errors import MalformedData

__all__ = ["b64decode", "b64encode", "b64url_decode", "b64url_encode"]

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}
# base64url to standard base64, and "+", "/" and "=" (not base64url) to "!", which the
# strict decoder refuses like any other character outside the alphabet.
_URL_TO_STD = bytes.maketrans(b"-_+/=", b"+/!!!")
# Unpadded length mod 4 -> the bits of the last character that encode no data; a
# canonical encoding has them zero (RFC 4648 §3.5). Length 1 mod 4 is never valid.
_UNUSED_BITS = (0, -1, 0x0F, 0x03)
_PADDING = (b"", b"", b"==", b"=")
_LONG = 1024


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    encoded = binascii.b2a_base64(data, newline=False).rstrip(b"=")
    return encoded.replace(b"+", b"-").replace(b"/", b"_").decode("ascii")  # faster than translate


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url strictly; anything else raises ``MalformedData``.

    Accepts exactly the strings :func:`b64url_encode` produces: only the base64url
    alphabet, no padding, white space or line breaks, length not 1 mod 4, and zero
    unused bits in the last character (the canonical-encoding check of RFC 4648 §3.5,
    which costs one look-up instead of re-encoding the result).
    """
    if not isinstance(text, str) or _UNUSED_BITS[len(text) % 4] < 0:
        raise MalformedData("invalid base64url")
    try:
        raw = binascii.a2b_base64(_to_standard(text) + _PADDING[len(text) % 4], strict_mode=True)
    except (binascii.Error, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise MalformedData("invalid base64url") from exc
    if text and _VALUE[text[-1]] & _UNUSED_BITS[len(text) % 4]:
        raise MalformedData("non-canonical base64url")
    return raw


def _to_standard(text: str) -> bytes:
    """``text`` in the standard alphabet, with every non-base64url character invalid there.

    Short strings take one ``translate``; long ones two ``replace`` calls after looking
    for the three characters that are standard base64 but not base64url, which is
    several times faster when "-" and "_" are rare (a JWS payload segment has none).
    """
    raw = text.encode("ascii")
    if len(raw) < _LONG:
        return raw.translate(_URL_TO_STD)
    if b"+" in raw or b"/" in raw or b"=" in raw:
        raise MalformedData("invalid base64url")
    return raw.replace(b"-", b"+").replace(b"_", b"/")


def b64encode(data: bytes) -> str:
    """Standard padded base64 (used by C2SP notes)."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    """Decode standard padded base64 strictly."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise MalformedData("invalid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise MalformedData("non-canonical base64")
    return raw
