"""Precedence levels, prosigns and acknowledgement deadlines (molink/core/precedence.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from molink.core.precedence import DEFAULT_ACK_DEADLINES, Precedence
from molink.errors import InvalidInput

ORDER = ["FLASH OVERRIDE", "FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE"]


def test_values_are_the_wire_names() -> None:
    assert [p.value for p in Precedence] == ORDER
    assert Precedence("FLASH OVERRIDE") is Precedence.FLASH_OVERRIDE


def test_ordering() -> None:
    assert [p.rank for p in Precedence] == [0, 1, 2, 3, 4]
    shuffled = [Precedence.ROUTINE, Precedence.FLASH, Precedence.PRIORITY]
    shuffled += [Precedence.FLASH_OVERRIDE, Precedence.IMMEDIATE]
    assert [p.value for p in sorted(shuffled, key=lambda p: p.rank)] == ORDER
    assert Precedence.FLASH_OVERRIDE.outranks(Precedence.FLASH)
    assert Precedence.FLASH.outranks(Precedence.IMMEDIATE)
    assert Precedence.PRIORITY.outranks(Precedence.ROUTINE)
    assert not Precedence.ROUTINE.outranks(Precedence.PRIORITY)
    assert not Precedence.FLASH.outranks(Precedence.FLASH)


def test_prosigns() -> None:
    assert [p.prosign for p in Precedence] == ["Y", "Z", "O", "P", "R"]


@pytest.mark.parametrize(
    ("level", "minutes"),
    [
        (Precedence.FLASH_OVERRIDE, 10),
        (Precedence.FLASH, 10),
        (Precedence.IMMEDIATE, 30),
        (Precedence.PRIORITY, 180),
        (Precedence.ROUTINE, 360),
    ],
)
def test_default_ack_deadlines(level: Precedence, minutes: int) -> None:
    assert level.ack_deadline == timedelta(minutes=minutes)
    assert DEFAULT_ACK_DEADLINES[level] == timedelta(minutes=minutes)


def test_deadlines_never_shorten_with_lower_precedence() -> None:
    deadlines = [p.ack_deadline for p in Precedence]
    assert deadlines == sorted(deadlines)
    assert set(DEFAULT_ACK_DEADLINES) == set(Precedence)


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("FLASH", Precedence.FLASH),
        ("flash", Precedence.FLASH),
        (" Immediate ", Precedence.IMMEDIATE),
        ("flash override", Precedence.FLASH_OVERRIDE),
        ("FLASH_OVERRIDE", Precedence.FLASH_OVERRIDE),
        ("Y", Precedence.FLASH_OVERRIDE),
        ("z", Precedence.FLASH),
        ("O", Precedence.IMMEDIATE),
        ("P", Precedence.PRIORITY),
        ("r", Precedence.ROUTINE),
    ],
)
def test_parse(text: str, level: Precedence) -> None:
    assert Precedence.parse(text) is level


@pytest.mark.parametrize("text", ["", "URGENT", "FLASHOVERRIDE", "X", "FLASH  OVERRIDE", "1"])
def test_parse_invalid(text: str) -> None:
    with pytest.raises(InvalidInput):
        Precedence.parse(text)
