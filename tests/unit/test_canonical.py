"""RFC 8785 canonical JSON and the strict parser (molink/core/canonical.py)."""

from __future__ import annotations

import contextlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core.canonical import MAX_SAFE_INTEGER, canonical_json, is_canonical, parse_json
from molink.errors import InvalidInput, MalformedData

VECTORS = Path(__file__).parents[1] / "vectors"
EXAMPLES = json.loads((VECTORS / "rfc8785_examples.json").read_text(encoding="utf-8"))
NUMBERS = json.loads((VECTORS / "rfc8785_numbers.json").read_text(encoding="utf-8"))


def _double(hex_bits: str) -> float:
    return float(struct.unpack(">d", bytes.fromhex(hex_bits))[0])


# --- RFC 8785 known answers ------------------------------------------------------------


def test_rfc8785_serialization_sample() -> None:
    sample = EXAMPLES["serialization_sample"]
    out = canonical_json(parse_json(sample["input"]))
    assert out.decode("utf-8") == sample["canonical"]
    assert out == bytes.fromhex(sample["canonical_utf8_hex"])
    assert is_canonical(out)


def test_rfc8785_sorting_by_utf16_code_units() -> None:
    out = canonical_json(parse_json(EXAMPLES["sorting"]["input"]))
    pairs = json.loads(out, object_pairs_hook=lambda p: p)
    assert [value for _, value in pairs] == EXAMPLES["sorting"]["sorted_values"]
    # The emoji (a surrogate pair, D83D DE00) sorts BEFORE U+FB33, unlike code-point order.
    keys = [key for key, _ in pairs]
    assert keys.index("\U0001f600") < keys.index("\ufb33")
    assert sorted(keys) != keys


@pytest.mark.parametrize(
    "case", NUMBERS["appendix_b"], ids=[c["ieee754"] for c in NUMBERS["appendix_b"]]
)
def test_rfc8785_appendix_b_numbers(case: dict[str, Any]) -> None:
    value = _double(case["ieee754"])
    if case["expected"] is None:
        with pytest.raises(InvalidInput):
            canonical_json(value)
        return
    out = canonical_json(value)
    assert out == case["expected"].encode("ascii")
    # Reading the canonical text back gives the same double and the same text.
    assert parse_json(out) == value
    assert canonical_json(parse_json(out)) == out


@pytest.mark.parametrize(
    "case",
    NUMBERS["ecmascript_thresholds"]["cases"],
    ids=[c["value"] for c in NUMBERS["ecmascript_thresholds"]["cases"]],
)
def test_ecmascript_number_thresholds(case: dict[str, str]) -> None:
    assert canonical_json(float(case["value"])) == case["expected"].encode("ascii")


def test_regression_integral_double_beyond_2_53_round_trips() -> None:
    # canonical_json(2.0**60) is "1152921504606847000"; parse_json used to read it as an
    # int that canonical_json then refused, so is_canonical() rejected our own output.
    for value in (2.0**53, 2.0**60, -(2.0**68), 1e20, 9.999999999999999e20):
        out = canonical_json(value)
        assert is_canonical(out), out
        assert parse_json(out) == value


def test_regression_big_integer_text_reads_as_double() -> None:
    assert parse_json("9007199254740993") == 9007199254740992.0
    assert parse_json("9007199254740991") == MAX_SAFE_INTEGER
    assert isinstance(parse_json("9007199254740991"), int)
    assert not is_canonical(b"9007199254740993")


# --- serialisation rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, b"null"),
        (True, b"true"),
        (False, b"false"),
        (0, b"0"),
        (-0.0, b"0"),
        (1.0, b"1"),
        (-17, b"-17"),
        (MAX_SAFE_INTEGER, b"9007199254740991"),
        ("", b'""'),
        ([], b"[]"),
        ({}, b"{}"),
        ((1, "a"), b'[1,"a"]'),
        ({"b": [1, {"d": 1, "c": 2}], "a": None}, b'{"a":null,"b":[1,{"c":2,"d":1}]}'),
    ],
)
def test_serialisation(value: Any, expected: bytes) -> None:
    assert canonical_json(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u0000\u001f", '"\\u0000\\u001f"'),
        ("\b\f\n\r\t", '"\\b\\f\\n\\r\\t"'),
        ('"\\', '"\\"\\\\"'),
        ("/\u007f\u2028\u2029", '"/\u007f\u2028\u2029"'),
        ("é€😀", '"é€😀"'),
    ],
)
def test_string_escaping_is_minimal(text: str, expected: str) -> None:
    assert canonical_json(text) == expected.encode("utf-8")


def _reference_string(text: str) -> str:
    """RFC 8785 §3.2.2.2 written out: the escaping canonical_json must produce."""
    short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n"}
    short |= {"\r": "\\r", "\t": "\\t"}
    out = []
    for ch in text:
        if ch in short:
            out.append(short[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def test_string_escaping_of_every_code_point() -> None:
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert canonical_json(text) == _reference_string(text).encode("utf-8")


@settings(max_examples=300)
@given(st.text(st.characters(codec="utf-8"), max_size=50))
def test_string_escaping_matches_the_rfc_rules(text: str) -> None:
    assert canonical_json(text) == _reference_string(text).encode("utf-8")
    assert canonical_json({text: text}) == (
        "{" + _reference_string(text) + ":" + _reference_string(text) + "}"
    ).encode("utf-8")


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        -float("inf"),
        MAX_SAFE_INTEGER + 1,
        -(MAX_SAFE_INTEGER + 1),
        b"bytes",
        {1, 2},
        object(),
        {1: "non-string key"},
        "lone \ud800 surrogate",
        {"\udfff": "lone surrogate key"},
    ],
)
def test_refuses_values_outside_i_json(value: Any) -> None:
    with pytest.raises(InvalidInput):
        canonical_json(value)


# --- strict parsing --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        '{"a":1,"a":2}',
        '{"a":{"b":1,"b":1}}',
        "NaN",
        "[Infinity]",
        "-Infinity",
        "1e400",
        "[-1e400]",
        "[1] x",
        "\ufeff{}",
        "{'a': 1}",
        "[1,]",
        b"\xff\xfe",
        b'"\xc3"',
    ],
)
def test_parse_json_refuses(text: str | bytes) -> None:
    with pytest.raises(MalformedData):
        parse_json(text)


def test_parse_json_depth_limit() -> None:
    assert parse_json("[" * 32 + "]" * 32) is not None
    with pytest.raises(MalformedData, match="deeper"):
        parse_json("[" * 33 + "]" * 33)
    assert parse_json("[" * 40 + "]" * 40, max_depth=40) is not None


@pytest.mark.parametrize("depth", [600, 990, 5000, 100_000])
def test_regression_deep_nesting_is_malformed_not_recursion_error(depth: int) -> None:
    with pytest.raises(MalformedData):
        parse_json("[" * depth + "]" * depth)
    with pytest.raises(MalformedData):
        parse_json('{"a":' * depth + "1" + "}" * depth)


def test_parse_json_accepts_bytes_and_str() -> None:
    assert parse_json(b'{"a":[1,2.5,"\xc3\xa9"]}') == {"a": [1, 2.5, "é"]}
    assert parse_json('{"a":[1,2.5,"é"]}') == {"a": [1, 2.5, "é"]}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"a":1,"b":[true,null]}', True),
        (b'{"b":1,"a":1}', False),
        (b'{"a": 1}', False),
        (b"1.0", False),
        (b"1E3", False),
        (b'"\\u00e9"', False),
        (b'"\xc3\xa9"', True),
        (b"{", False),
        (b'{"a":1}\n', False),
    ],
)
def test_is_canonical(data: bytes, expected: bool) -> None:
    assert is_canonical(data) is expected


# --- properties ------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8"), max_size=20)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_TEXT, children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300)
@given(JSON_VALUES)
def test_canonical_json_is_idempotent(value: Any) -> None:
    once = canonical_json(value)
    assert canonical_json(parse_json(once)) == once
    assert is_canonical(once)
    assert parse_json(once) == value


@settings(max_examples=200)
@given(st.dictionaries(_TEXT, st.integers(0, 9), min_size=2, max_size=8))
def test_members_sorted_by_utf16_code_units(value: dict[str, int]) -> None:
    pairs = json.loads(canonical_json(value), object_pairs_hook=lambda p: p)
    assert [key for key, _ in pairs] == sorted(value, key=_utf16_units)


def _utf16_units(key: str) -> list[int]:
    raw = key.encode("utf-16-be")
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


@settings(max_examples=200)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_round_trip_exactly(value: float) -> None:
    out = canonical_json(value)
    assert float(out) == value or (value == 0 and float(out) == 0)
    assert b"E" not in out
    assert not out.endswith(b".0")
    # ECMA-262 Number::toString: plain decimal exactly when 1e-6 <= |x| < 1e21.
    assert (b"e" not in out) == (value == 0 or 1e-6 <= abs(value) < 1e21)


@settings(max_examples=500)
@given(st.text(max_size=60) | st.binary(max_size=60))
def test_parse_json_raises_only_malformed_data(data: str | bytes) -> None:
    with contextlib.suppress(MalformedData):
        parse_json(data)


@settings(max_examples=300)
@given(st.text(alphabet='{}[]:,"\\ 01eE.-+truefalsnul\u00e9\ud800', max_size=40))
def test_parse_json_on_json_like_noise_raises_only_malformed_data(text: str) -> None:
    try:
        value = parse_json(text)
    except MalformedData:
        return
    try:
        canonical_json(value)
    except InvalidInput:  # a raw lone surrogate in a str parses, but is not I-JSON
        assert "\ud800" in text
