"""Acknowledgement deadlines, re-alerts and escalation (ACP 121 targets by default).

A message's deadline is its creation time plus the precedence's deadline (a channel
agreement may override it). Once overdue, it is re-alerted every ``realert`` (5 min by
default); after a second deadline period it is escalated to the supervisors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from molink.core.precedence import DEFAULT_ACK_DEADLINES, Precedence
from molink.errors import InvalidInput

__all__ = ["DeadlinePolicy", "OverdueState", "overdue_state"]


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    """Deadlines per precedence plus the re-alert interval. FLASH OVERRIDE = FLASH."""

    deadlines: Mapping[Precedence, timedelta]
    realert: timedelta = timedelta(minutes=5)

    @classmethod
    def default(
        cls, overrides: Mapping[str, int] | None = None, realert: timedelta = timedelta(minutes=5)
    ) -> DeadlinePolicy:
        """Defaults, with optional per-channel overrides in seconds by precedence name."""
        deadlines = dict(DEFAULT_ACK_DEADLINES)
        for name, seconds in (overrides or {}).items():
            if not isinstance(seconds, int) or seconds <= 0:
                raise InvalidInput(f"deadline for {name} must be a positive number of seconds")
            deadlines[Precedence.parse(name)] = timedelta(seconds=seconds)
        deadlines[Precedence.FLASH_OVERRIDE] = min(
            deadlines[Precedence.FLASH_OVERRIDE], deadlines[Precedence.FLASH]
        )
        return cls(deadlines=deadlines, realert=realert)

    def deadline(self, created: datetime, precedence: Precedence) -> datetime:
        return created + self.deadlines[precedence]


@dataclass(frozen=True, slots=True)
class OverdueState:
    """Where an unacknowledged message stands at ``now``."""

    deadline: datetime
    overdue: bool
    realert_round: int  # 0 at the deadline, +1 every re-alert interval
    escalated: bool  # past the second deadline period


def overdue_state(
    policy: DeadlinePolicy, created: datetime, precedence: Precedence, now: datetime
) -> OverdueState:
    deadline = policy.deadline(created, precedence)
    if now < deadline:
        return OverdueState(deadline, overdue=False, realert_round=-1, escalated=False)
    late = now - deadline
    rounds = int(late / policy.realert)
    escalated = late >= policy.deadlines[precedence]
    return OverdueState(deadline, overdue=True, realert_round=rounds, escalated=escalated)
