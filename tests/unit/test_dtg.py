"""Military date-time groups and ISO 8601 UTC times (molink/core/dtg.py)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core.dtg import format_dtg, format_utc, parse_dtg, parse_utc
from molink.errors import InvalidInput

PI_DAY = datetime(2023, 3, 14, 10, 3, tzinfo=UTC)

# NATO time-zone letters: A-I = +1..+9, K-M = +10..+12 (J is local time), N-Y = -1..-12.
ZONES = {
    **{letter: hours for hours, letter in enumerate("ABCDEFGHI", start=1)},
    "K": 10,
    "L": 11,
    "M": 12,
    **{letter: -hours for hours, letter in enumerate("NOPQRSTUVWXY", start=1)},
    "Z": 0,
}


def test_dtg_both_ways() -> None:
    assert parse_dtg("141003ZMAR23") == PI_DAY
    assert format_dtg(PI_DAY) == "141003ZMAR23"
    assert parse_dtg("141003ZMAR23").tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    ["141003zmar23", " 141003ZMAR23 ", "141003Z MAR 23", "141003 Z MAR 23", "14100300ZMAR23"],
)
def test_dtg_accepted_spellings(text: str) -> None:
    assert parse_dtg(text) == PI_DAY


def test_dtg_with_seconds() -> None:
    assert parse_dtg("14100330ZMAR23") == PI_DAY + timedelta(seconds=30)


@pytest.mark.parametrize(("letter", "hours"), sorted(ZONES.items()))
def test_dtg_zone_letters(letter: str, hours: int) -> None:
    assert parse_dtg(f"141003{letter}MAR23") == PI_DAY - timedelta(hours=hours)


def test_dtg_zone_table_is_complete() -> None:
    assert len(ZONES) == 25
    assert sorted(ZONES.values()) == list(range(-12, 13))


def test_dtg_format_converts_to_utc() -> None:
    moscow = PI_DAY.astimezone(timezone(timedelta(hours=3)))
    assert format_dtg(moscow) == "141003ZMAR23"
    assert format_dtg(datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC)) == "312359ZDEC23"
    assert format_dtg(datetime(2001, 1, 2, 3, 4, tzinfo=UTC)) == "020304ZJAN01"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "141003JMAR23",  # J is local time: not a zone we can convert
        "141003ZXYZ23",
        "141003ZMAR2",
        "1410ZMAR23",
        "141003ZMAR2023",
        "300000ZFEB23",
        "290000ZFEB23",  # 2023 is not a leap year
        "320000ZJAN23",
        "000000ZJAN23",
        "312400ZJAN23",
        "312360ZJAN23",
        "31235960ZJAN23",
        "141003ZMAR23Z",
        "2023-03-14T10:03Z",
    ],
)
def test_dtg_invalid(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_dtg(text)


def test_dtg_leap_day() -> None:
    assert parse_dtg("290000ZFEB24") == datetime(2024, 2, 29, tzinfo=UTC)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidInput):
        format_dtg(datetime(2023, 3, 14, 10, 3))
    with pytest.raises(InvalidInput):
        format_utc(datetime(2023, 3, 14, 10, 3))


def test_format_utc() -> None:
    assert format_utc(PI_DAY) == "2023-03-14T10:03:00.000Z"
    assert format_utc(PI_DAY.replace(microsecond=123_999)) == "2023-03-14T10:03:00.123Z"
    assert format_utc(PI_DAY.astimezone(timezone(timedelta(hours=-5)))) == (
        "2023-03-14T10:03:00.000Z"
    )


@pytest.mark.parametrize(
    "text",
    [
        "2023-03-14T10:03:00.000Z",
        "2023-03-14T10:03Z",
        "2023-03-14T10:03:00+00:00",
        "2023-03-14T13:03:00+03:00",
        "2023-03-14T05:03:00-05:00",
        "2023-03-14 10:03:00Z",
    ],
)
def test_parse_utc(text: str) -> None:
    parsed = parse_utc(text)
    assert parsed == PI_DAY
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2023-03-14T10:03:00",  # no offset
        "2023-03-14",
        "yesterday",
        "",
        "2023-02-30T00:00Z",
        "2023-03-14T10:03:00.000Z" + " " * 20,
        "0001-01-01T00:00+01:00",  # regression: OverflowError leaked
        "9999-12-31T23:59-01:00",  # regression: OverflowError leaked
        None,
        1678788180,
    ],
)
def test_parse_utc_invalid(text: object) -> None:
    with pytest.raises(InvalidInput):
        parse_utc(text)  # type: ignore[arg-type]


_AWARE = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300)
@given(_AWARE)
def test_utc_round_trip(when: datetime) -> None:
    millis = when.replace(microsecond=when.microsecond // 1000 * 1000)
    assert parse_utc(format_utc(when)) == millis
    assert format_utc(parse_utc(format_utc(when))) == format_utc(when)


@settings(max_examples=300)
@given(_AWARE)
def test_dtg_round_trip(when: datetime) -> None:
    assert parse_dtg(format_dtg(when)) == when.replace(second=0, microsecond=0)


@settings(max_examples=500)
@given(st.text(max_size=30) | st.from_regex(r"\A\d{6,8}\s?[A-Z]\s?[A-Z]{3}\s?\d{2}\Z"))
def test_parse_dtg_raises_only_invalid_input(text: str) -> None:
    with contextlib.suppress(InvalidInput):
        assert parse_dtg(text).tzinfo is UTC


_OFFSETS = st.sampled_from([timezone(timedelta(hours=h)) for h in range(-12, 13)])


@settings(max_examples=500)
@given(
    st.text(max_size=45)
    | st.from_regex(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})\Z")
    | st.datetimes(timezones=_OFFSETS).map(datetime.isoformat)
)
def test_parse_utc_raises_only_invalid_input(text: str) -> None:
    with contextlib.suppress(InvalidInput):
        assert parse_utc(text).tzinfo is UTC
