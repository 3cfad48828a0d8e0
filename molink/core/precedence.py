"""Message precedence (ACP 121) and default acknowledgement deadlines.

Order: FLASH OVERRIDE > FLASH > IMMEDIATE > PRIORITY > ROUTINE. FLASH OVERRIDE
takes FLASH's deadline. Channel agreements may override the deadlines.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from molink.errors import InvalidInput

__all__ = ["DEFAULT_ACK_DEADLINES", "Precedence"]


class Precedence(StrEnum):
    """A precedence level. ``rank`` is 0 for the highest (FLASH OVERRIDE)."""

    FLASH_OVERRIDE = "FLASH OVERRIDE"
    FLASH = "FLASH"
    IMMEDIATE = "IMMEDIATE"
    PRIORITY = "PRIORITY"
    ROUTINE = "ROUTINE"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    @property
    def prosign(self) -> str:
        """The ACP 121 single-letter designator (Y, Z, O, P, R)."""
        return _PROSIGNS[self]

    @property
    def ack_deadline(self) -> timedelta:
        return DEFAULT_ACK_DEADLINES[self]

    def outranks(self, other: Precedence) -> bool:
        return self.rank < other.rank

    @classmethod
    def parse(cls, value: str) -> Precedence:
        """Accept the name (any case, '_' or ' ') or the prosign letter."""
        text = value.strip().upper().replace("_", " ")
        for level in cls:
            if text in (level.value, level.prosign):
                return level
        raise InvalidInput(f"unknown precedence {value!r}; use one of {[p.value for p in cls]}")


_ORDER = [
    Precedence.FLASH_OVERRIDE,
    Precedence.FLASH,
    Precedence.IMMEDIATE,
    Precedence.PRIORITY,
    Precedence.ROUTINE,
]
_PROSIGNS = {
    Precedence.FLASH_OVERRIDE: "Y",
    Precedence.FLASH: "Z",
    Precedence.IMMEDIATE: "O",
    Precedence.PRIORITY: "P",
    Precedence.ROUTINE: "R",
}
DEFAULT_ACK_DEADLINES: dict[Precedence, timedelta] = {
    Precedence.FLASH_OVERRIDE: timedelta(minutes=10),
    Precedence.FLASH: timedelta(minutes=10),
    Precedence.IMMEDIATE: timedelta(minutes=30),
    Precedence.PRIORITY: timedelta(hours=3),
    Precedence.ROUTINE: timedelta(hours=6),
}
