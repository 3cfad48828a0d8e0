"""The demo scenario (shared/MISSION.md): parties, channels and opening traffic.

Public facts, approximate where MISSION.md says so. Each node loads the same
channel definitions, so that every party agrees on membership.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select

from molink.storage.db import Database
from molink.storage.schema import channels

__all__ = [
    "CHANNELS",
    "DIALOGUE_HISTORY",
    "OPENING_TRAFFIC",
    "PARTIES",
    "ChannelDef",
    "ChannelHistoryStep",
    "ScriptedMessage",
    "install_channels",
]

PARTIES = ("US", "RU", "UA", "AE")
MEDIATOR = "AE"


@dataclass(frozen=True, slots=True)
class ChannelDef:
    id: str
    name: str
    members: tuple[str, ...]
    state: str
    emergency: bool = False
    mediator: str | None = None
    ack_deadlines: dict[str, int] | None = None


# The demo shortens the emergency line's deadlines so that overdue and escalation show
# within minutes (the ACP 121 defaults are 10 min for FLASH).
DEMO_EMERGENCY_DEADLINES = {"FLASH OVERRIDE": 120, "FLASH": 120, "IMMEDIATE": 300}

CHANNELS = (
    ChannelDef("us-ru-dialogue", "High-level military dialogue (US-RU)", ("RU", "US"), "active"),
    ChannelDef(
        "us-ru-emergency",
        "Emergency deconfliction line (US-RU)",
        ("RU", "US"),
        "active",
        emergency=True,
        ack_deadlines=DEMO_EMERGENCY_DEADLINES,
    ),
    ChannelDef(
        "trilateral",
        "US-RU-UA trilateral, mediated by AE",
        ("AE", "RU", "UA", "US"),
        "active",
        mediator=MEDIATOR,
    ),
    ChannelDef(
        "deconfliction",
        "Deconfliction notifications (all parties)",
        ("AE", "RU", "UA", "US"),
        "active",
        emergency=True,
        mediator=MEDIATOR,
    ),
)


@dataclass(frozen=True, slots=True)
class ScriptedMessage:
    sender: str
    to: tuple[str, ...]
    channel: str
    precedence: str
    subject: str
    body: str
    lang: str = "en"
    ack: bool = False


OPENING_TRAFFIC = (
    ScriptedMessage(
        "US",
        ("RU",),
        "us-ru-dialogue",
        "PRIORITY",
        "Channel restored",
        "Per the Abu Dhabi understanding of 5 February 2026, the high-level "
        "military dialogue channel is restored. Request confirmation of receipt.",
        ack=True,
    ),
    ScriptedMessage(
        "RU",
        ("US",),
        "us-ru-dialogue",
        "PRIORITY",
        "Подтверждение",
        "Получение подтверждаем. Канал военного диалога восстановлен.",
        lang="ru",
        ack=True,
    ),
    ScriptedMessage(
        "US",
        ("RU",),
        "us-ru-emergency",
        "FLASH",
        "Line check",
        "Emergency deconfliction line test. Acknowledge within 10 minutes.",
    ),
    ScriptedMessage(
        "AE",
        ("RU", "UA", "US"),
        "trilateral",
        "IMMEDIATE",
        "Prisoner exchange 5 February 2026",
        "Mediators confirm the agreed exchange: RU receives 157 servicemen and "
        "3 civilians; UA receives 150 servicemen and 7 civilians.",
        ack=True,
    ),
    ScriptedMessage(
        "UA",
        ("AE", "RU", "US"),
        "trilateral",
        "ROUTINE",
        "Lists submitted",
        "Ukraine has submitted its list for reconciliation.",
        lang="en",
    ),
)


def install_channels(db: Database, now_us: int) -> None:
    """Insert the scenario's channels (idempotent)."""
    with db.write() as conn:
        for ch in CHANNELS:
            if conn.execute(select(channels.c.id).where(channels.c.id == ch.id)).first():
                continue
            conn.execute(
                insert(channels).values(
                    id=ch.id,
                    name=ch.name,
                    members=list(ch.members),
                    mediator=ch.mediator,
                    state=ch.state,
                    emergency=ch.emergency,
                    ack_deadlines=ch.ack_deadlines,
                    created=now_us,
                )
            )


@dataclass(frozen=True, slots=True)
class ChannelHistoryStep:
    party: str
    action: str
    reason: str
    effective: str


# The high-level dialogue: frozen in late 2021, restored at Abu Dhabi on 2026-02-05.
DIALOGUE_HISTORY = (
    ChannelHistoryStep(
        "US",
        "suspend",
        "High-level military dialogue frozen (late 2021); "
        "only the emergency deconfliction line stays open.",
        "2021-12-01T00:00:00Z",
    ),
    ChannelHistoryStep(
        "US",
        "restore",
        "Restored as agreed at the Abu Dhabi talks (announced by EUCOM).",
        "2026-02-05T12:00:00Z",
    ),
    ChannelHistoryStep(
        "RU",
        "restore",
        "Восстановлен по договорённости на переговорах в Абу-Даби.",
        "2026-02-05T12:00:00Z",
    ),
)


# MQ-9 over the Black Sea, 14 March 2023 (approximate position, public accounts).
MQ9_ACCOUNTS: dict[str, dict[str, Any]] = {
    "US": {
        "time_start": "2023-03-14T05:45:00Z",
        "time_end": "2023-03-14T06:03:00Z",
        "location": {"type": "Point", "coordinates": [32.0, 44.5]},
        "assets": ["MQ-9 Reaper (US)", "2 x Su-27 (RU)"],
        "narrative": "Two Russian Su-27s dumped fuel on the MQ-9 in international airspace; "
        "at about 06:03Z one struck its propeller, forcing it down.",
    },
    "RU": {
        "time_start": "2023-03-14T06:30:00Z",
        "location": {"type": "Point", "coordinates": [32.0, 44.5]},
        "assets": ["MQ-9 Reaper (US)"],
        "narrative": "Контакта не было. Беспилотник упал около 06:30Z в результате резкого "
        "манёвра в районе, объявленном зоной временного режима воздушного "
        "пространства.",
    },
}

# The exchange after the Abu Dhabi talks, 5 February 2026, mediated by the US and AE.
EXCHANGE_TERMS: dict[str, Any] = {
    "title": "Exchange of prisoners, 5 February 2026",
    "kind": "prisoner_exchange",
    "parties": ["RU", "UA"],
    "mediators": ["US", "AE"],
    "terms": {"RU": {"servicemen": 157, "civilians": 3}, "UA": {"servicemen": 150, "civilians": 7}},
}
