"""Military date-time groups (DTG) and ISO 8601 UTC times.

A DTG is ``DDHHMMZMONYY``, e.g. ``141003ZMAR23`` is 2023-03-14T10:03Z. The
zone letter may be any NATO time-zone letter (A-M without J east, N-Y west,
Z for UTC); parsing converts to UTC, formatting always writes Z.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from molink.errors import InvalidInput

__all__ = ["format_dtg", "format_utc", "parse_dtg", "parse_utc"]

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DTG = re.compile(r"^(\d{2})(\d{2})(\d{2})(?:(\d{2}))?\s?([A-IK-Z])\s?([A-Z]{3})\s?(\d{2})$")


def _zone_offset(letter: str) -> timedelta:
    if letter == "Z":
        return timedelta(0)
    if "A" <= letter <= "M":  # east of Greenwich; J (local) is excluded by the pattern
        hours = ord(letter) - ord("A") + 1 - (1 if letter > "J" else 0)
        return timedelta(hours=hours)
    return -timedelta(hours=ord(letter) - ord("N") + 1)


def format_dtg(when: datetime) -> str:
    """Format an aware datetime as a UTC DTG (minutes precision)."""
    utc = _require_aware(when).astimezone(UTC)
    return f"{utc:%d%H%M}Z{_MONTHS[utc.month - 1]}{utc:%y}"


def parse_dtg(text: str) -> datetime:
    """Parse ``DDHHMM[SS]<zone>MONYY`` into an aware UTC datetime.

    Raises:
        InvalidInput: malformed, or not a real date.
    """
    match = _DTG.match(text.strip().upper())
    if not match:
        raise InvalidInput(f"not a DTG (DDHHMMZMONYY): {text!r}")
    day, hour, minute, second, zone, mon, year = match.groups()
    if mon not in _MONTHS:
        raise InvalidInput(f"unknown month {mon!r} in DTG {text!r}")
    try:
        local = datetime(
            2000 + int(year),
            _MONTHS.index(mon) + 1,
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise InvalidInput(f"DTG {text!r} is not a real time: {exc}") from exc
    return local - _zone_offset(zone)


def format_utc(when: datetime) -> str:
    """ISO 8601 UTC with millisecond precision and a ``Z`` suffix."""
    utc = _require_aware(when).astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 time with an explicit offset (``Z`` or ``±HH:MM``) into UTC."""
    if not isinstance(text, str) or len(text) > 40:
        raise InvalidInput("time must be an ISO 8601 string")
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"not an ISO 8601 time: {text!r}") from exc
    if value.tzinfo is None:
        raise InvalidInput(f"time {text!r} has no UTC offset; write it with Z")
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00+01:00
        raise InvalidInput(f"time {text!r} is out of range in UTC") from exc


def _require_aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise InvalidInput("naive datetime: molink times are always UTC-aware")
    return when
