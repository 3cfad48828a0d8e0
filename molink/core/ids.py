"""Identifiers: UUIDv7 (RFC 9562 §5.7), time-ordered, from injected time and randomness."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from molink.errors import InvalidInput

__all__ = ["is_uuid", "uuid7"]

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def uuid7(now: datetime, random: bytes) -> str:
    """A UUIDv7 from a timestamp and 10 random bytes (RFC 9562 §5.7)."""
    if len(random) < 10:
        raise InvalidInput("uuid7 needs 10 random bytes")
    millis = int(now.timestamp() * 1000) & ((1 << 48) - 1)
    rand_a = int.from_bytes(random[:2], "big") & 0x0FFF
    rand_b = int.from_bytes(random[2:10], "big") & ((1 << 62) - 1)
    value = (millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return str(uuid.UUID(int=value))


def is_uuid(text: object) -> bool:
    """True for a lower-case hyphenated UUID string."""
    return isinstance(text, str) and bool(_UUID.fullmatch(text))
