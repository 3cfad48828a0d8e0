"""Strict base64 helpers (RFC 4648 §5 base64url without padding, and §4 standard)."""

from __future__ import annotations

import base64
import binascii
import re

from molink.errors import MalformedData

__all__ = ["b64decode", "b64encode", "b64url_decode", "b64url_encode"]

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url strictly; anything else raises ``MalformedData``."""
    if not isinstance(text, str) or not _B64URL.match(text) or len(text) % 4 == 1:
        raise MalformedData("invalid base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedData("invalid base64url") from exc
    if b64url_encode(raw) != text:
        raise MalformedData("non-canonical base64url")
    return raw


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
