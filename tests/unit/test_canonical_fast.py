"""The fast paths of molink/core/canonical.py agree with the straightforward definitions.

``parse_json`` reuses one decoder instead of ``json.loads`` building one per call, and
``canonical_json`` hands plain values (no floats, ASCII member names, built-in types) to
the json module's C encoder; these tests compare both, verdict for verdict and byte for
byte, with the general code.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core.canonical import (
    MAX_SAFE_INTEGER,
    _canonical_text,
    _plain,
    canonical_json,
    parse_json,
)
from molink.core.message import message_fields
from molink.core.precedence import Precedence
from molink.errors import InvalidInput, MalformedData


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, val in pairs:
        if key in out:
            raise ValueError("duplicate")
        out[key] = val
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


def _ijson_int(text: str) -> int | float:
    value = int(text)
    return value if abs(value) <= MAX_SAFE_INTEGER else _finite_float(text)


def _reference_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_reference_depth(v) for v in value), default=0)
    return 0


def reference_parse(data: bytes | str, max_depth: int = 32) -> Any:
    """parse_json as it was: json.loads with the hooks, then the depth check."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_finite_float,
            parse_int=_ijson_int,
        )
        too_deep = _reference_depth(value) > max_depth
    except (ValueError, RecursionError):
        return MalformedData
    return MalformedData if too_deep else value


def parse_or_error(data: bytes | str, max_depth: int = 32) -> Any:
    try:
        return parse_json(data, max_depth=max_depth)
    except MalformedData:
        return MalformedData


JSON_ISH = st.text(alphabet='{}[]",:0123456789.eE+-truefalsnNIfiy \n\t\\u\ufeffé', max_size=40)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=20,
)


@settings(max_examples=800)
@given(JSON_ISH)
def test_parse_json_same_verdicts_on_noise(text: str) -> None:
    assert parse_or_error(text) == reference_parse(text)
    assert parse_or_error(text.encode("utf-8")) == reference_parse(text.encode("utf-8"))


@settings(max_examples=500)
@given(JSON_VALUES, st.integers(0, 4))
def test_parse_json_same_values_and_depth_verdicts(value: Any, max_depth: int) -> None:
    text = json.dumps(value)
    assert repr(parse_or_error(text, max_depth)) == repr(reference_parse(text, max_depth))


def test_parse_json_byte_order_mark_and_nesting() -> None:
    for text in ("\ufeff{}", "\ufeff", "[" * 33 + "]" * 33, '{"a":[{"b":[[]]}]}', "[[],[[]],{}]"):
        assert parse_or_error(text) == reference_parse(text), text
    assert parse_json("[[],[[]],{}]", max_depth=3) == [[], [[]], {}]
    assert parse_or_error("[[],[[]],{}]", max_depth=2) is MalformedData


# --- canonical_json: the C-encoder path against the general serialiser ------------------


def encode_or_error(value: Any, *, general: bool) -> Any:
    try:
        return _canonical_text(value).encode("utf-8") if general else canonical_json(value)
    except (InvalidInput, UnicodeEncodeError):
        return InvalidInput


KEYS = st.text(alphabet='abcAB_$-09 \u00e9\u00ff\ue000\ufb33\U0001f600\ud800"\\\n', max_size=4)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.sampled_from([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER + 1, 0])
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from([Precedence.FLASH, True, "\ud800", "\u2028\x00\x1f\x7f"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(KEYS, inner, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=600)
@given(VALUES)
def test_canonical_json_equals_the_general_serialiser(value: Any) -> None:
    assert encode_or_error(value, general=False) == encode_or_error(value, general=True)


def test_plain_values_take_the_fast_path() -> None:
    payload = {
        **message_fields(subject="Тема", body="Ж" * 100, lang="ru"),
        "v": 1,
        "to": ["RU"],
        "seq": 7,
        "params": {"a": "b"},
    }
    assert _plain(payload)
    assert _plain([None, True, MAX_SAFE_INTEGER, (), {}])
    for value in (1.0, {"é": 1}, {1: 1}, MAX_SAFE_INTEGER + 1, Precedence.FLASH, {"a": [0.5]}):
        assert not _plain(value), value


def test_canonical_json_edge_cases_agree() -> None:
    for value in (
        "",
        [],
        {},
        (),
        {"b": 1, "a": [True, False, None], "": {"": ""}},
        {"\x00": "\x00", "\x7f": "\u007f", "\\": '"'},
        ["\ud83d\ude00", "\U0001f600"],
        {"\ufb33": 1, "\U0001f600": 2, "\ue000": 3, "z": 4},  # UTF-16 order != code points
        {"a": "\udc00"},
        [-0, -MAX_SAFE_INTEGER],
    ):
        assert encode_or_error(value, general=False) == encode_or_error(value, general=True)


@settings(max_examples=3000)
@given(
    st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=1e-5, max_value=1e17)
    | st.floats(min_value=-1e17, max_value=-1e-5)
)
def test_the_number_fast_path_writes_what_the_general_one_does(value: float) -> None:
    """repr() for 1e-4 <= |v| < 1e16 equals the digits-and-exponent definition."""
    from molink.core.canonical import _number, _number_general

    if value != 0:
        assert _number(value) == _number_general(value)


def test_the_number_fast_path_at_its_edges() -> None:
    from molink.core.canonical import _number, _number_general

    for value in (1e-4, 0.00010000000000000002, 9999999999999998.0, 1e16, 123.0, -45.5, 0.1):
        assert _number(value) == _number_general(value), value
        assert _number(-value) == _number_general(-value), value
