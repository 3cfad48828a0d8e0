"""UUIDv7 identifiers (molink/core/ids.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core.ids import is_uuid, uuid7
from molink.errors import InvalidInput

NOW = datetime(2026, 2, 5, 10, 0, tzinfo=UTC)


def test_rfc9562_example() -> None:
    # RFC 9562 Appendix A.6: unix_ts_ms 0x017F22E279B0, rand_a 0xCC3, rand_b 0x18C4DC0C0C07398F.
    when = datetime(2022, 2, 22, 14, 22, 22, tzinfo=UTC) + timedelta(hours=5)
    random = bytes.fromhex("0CC3") + bytes.fromhex("18C4DC0C0C07398F")
    assert uuid7(when, random) == "017f22e2-79b0-7cc3-98c4-dc0c0c07398f"


@settings(max_examples=200)
@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    st.binary(min_size=10, max_size=16),
)
def test_layout(when: datetime, random: bytes) -> None:
    text = uuid7(when, random)
    value = uuid.UUID(text)
    assert is_uuid(text)
    assert str(value) == text
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert value.int >> 80 == int(when.timestamp() * 1000)
    assert (value.int >> 64) & 0x0FFF == int.from_bytes(random[:2], "big") & 0x0FFF
    assert value.int & ((1 << 62) - 1) == int.from_bytes(random[2:10], "big") & ((1 << 62) - 1)


@settings(max_examples=200)
@given(st.integers(0, 10**12), st.integers(1, 10**9), st.binary(min_size=10, max_size=10))
def test_monotonic_by_time(offset_ms: int, gap_ms: int, random: bytes) -> None:
    earlier = NOW + timedelta(milliseconds=offset_ms)
    later = earlier + timedelta(milliseconds=gap_ms)
    # Later ids sort after earlier ones whatever their random bits.
    assert uuid7(earlier, b"\xff" * 10) < uuid7(later, random)
    assert uuid7(earlier, random) < uuid7(later, bytes(10))


def test_randomness_makes_ids_distinct_within_a_millisecond() -> None:
    assert uuid7(NOW, bytes(10)) != uuid7(NOW, bytes(9) + b"\x01")
    assert uuid7(NOW, bytes(10))[:13] == uuid7(NOW, b"\xff" * 10)[:13]


def test_needs_ten_random_bytes() -> None:
    with pytest.raises(InvalidInput):
        uuid7(NOW, bytes(9))


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("017f22e2-79b0-7cc3-98c4-dc0c0c07398f", True),
        ("00000000-0000-0000-0000-000000000000", True),
        ("017F22E2-79B0-7CC3-98C4-DC0C0C07398F", False),
        ("017f22e279b07cc398c4dc0c0c07398f", False),
        ("{017f22e2-79b0-7cc3-98c4-dc0c0c07398f}", False),
        ("017f22e2-79b0-7cc3-98c4-dc0c0c07398f\n", False),
        ("", False),
        (None, False),
        (uuid.UUID("017f22e2-79b0-7cc3-98c4-dc0c0c07398f"), False),
    ],
)
def test_is_uuid(value: object, ok: bool) -> None:
    assert is_uuid(value) is ok
