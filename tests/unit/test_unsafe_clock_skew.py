"""The ``unsafe_clock_skew`` test hook of ``molink serve`` (STYLE.md point 7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from molink.cli.serve import UNSAFE_CLOCK_SKEW_ENV, unsafe_clock_skew
from molink.errors import ConfigError


def test_off_unless_set() -> None:
    assert unsafe_clock_skew({}) is None
    assert unsafe_clock_skew({UNSAFE_CLOCK_SKEW_ENV: " "}) is None


def test_skews_the_clock_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    clock = unsafe_clock_skew({UNSAFE_CLOCK_SKEW_ENV: "-600"})
    assert clock is not None
    delta = clock.now() - datetime.now(UTC)
    assert abs(delta + timedelta(minutes=10)) < timedelta(seconds=5)
    assert "unsafe_clock_skew" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["ten", "nan", "1e9", "inf"])
def test_bad_values_are_config_errors(value: str) -> None:
    with pytest.raises(ConfigError):
        unsafe_clock_skew({UNSAFE_CLOCK_SKEW_ENV: value})
