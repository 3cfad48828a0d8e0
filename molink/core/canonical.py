"""RFC 8785 JSON Canonicalization Scheme (JCS).

Everything molink signs is serialised with :func:`canonical_json`: object
members sorted by their UTF-16 code units (RFC 8785 §3.2.3), no insignificant
white space, strings escaped minimally (§3.2.2.2) and numbers written as
ECMAScript writes IEEE 754 doubles (§3.2.2.3).

Only I-JSON values are accepted (RFC 7493): integers must be exactly
representable as doubles, floats must be finite, strings must be valid
Unicode (no lone surrogates). Anything else raises ``InvalidInput``.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from json.encoder import encode_basestring as _encode_basestring
from typing import Any

from molink.errors import InvalidInput, MalformedData

__all__ = ["MAX_SAFE_INTEGER", "canonical_json", "is_canonical", "parse_json"]

MAX_SAFE_INTEGER = 2**53 - 1


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` as RFC 8785 canonical JSON (UTF-8 bytes)."""
    text = _PLAIN_ENCODER.encode(value) if _plain(value) else _canonical_text(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput("string is not valid Unicode (lone surrogate)") from exc


# For "plain" values - no floats, integers within I-JSON, ASCII member names, only the
# built-in types - RFC 8785 output is exactly what the json module's C encoder writes
# with sorted keys and no white space: code-point order equals UTF-16 order for ASCII
# names, integers print as repr(), and strings are escaped by the same
# ``encode_basestring`` as ``_string``. Everything else takes ``_canonical_text``.
_PLAIN_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    allow_nan=False,
    sort_keys=True,
    separators=(",", ":"),
    check_circular=False,  # _plain has walked the value: a cycle never gets here
)


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                return False
            if type(item) is not str and not _plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        return all(type(item) is str or _plain(item) for item in value)
    return False


def _canonical_text(value: Any) -> str:
    """The general serialiser: RFC 8785 for any I-JSON value, ``InvalidInput`` otherwise."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def parse_json(data: bytes | str, *, max_depth: int = 32) -> Any:
    """Parse JSON strictly: duplicate member names, NaN/Infinity and deep nesting are refused.

    Numbers that overflow a double are refused; integers beyond 2^53 - 1 are read as
    the double they denote, as RFC 8785 reads every number.

    Raises:
        MalformedData: the bytes are not strict I-JSON.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        if isinstance(text, str) and not text.startswith("\ufeff"):
            value = _DECODER.decode(text)  # what json.loads does, without building a decoder
        else:
            value = json.loads(text, **_HOOKS)
        too_deep = _depth(value) > max_depth
    except (ValueError, RecursionError) as exc:
        raise MalformedData(f"invalid JSON: {exc}") from exc
    if too_deep:
        raise MalformedData(f"JSON nested deeper than {max_depth}")
    return value


def is_canonical(data: bytes) -> bool:
    """True if ``data`` is exactly the canonical serialisation of what it encodes."""
    try:
        return canonical_json(parse_json(data)) == data
    except (MalformedData, InvalidInput):
        return False


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, val in pairs:
        if key in out:
            raise ValueError(f"duplicate member name {key!r}")
        out[key] = val
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} overflows a double")
    return value


def _ijson_int(text: str) -> int | float:
    """Integers beyond 2^53 are read as the double they denote (RFC 8785 §3.2.2.3).

    ``canonical_json`` writes such doubles (e.g. 2^60) as plain digits, so reading
    them back as doubles keeps ``canonical_json(parse_json(c)) == c``.
    """
    value = int(text)
    if abs(value) <= MAX_SAFE_INTEGER:
        return value
    return _finite_float(text)


# Built once: json.loads would build a decoder with these hooks on every call.
_HOOKS: dict[str, Any] = {
    "object_pairs_hook": _no_duplicates,
    "parse_constant": _no_constant,
    "parse_float": _finite_float,
    "parse_int": _ijson_int,
}
_DECODER = json.JSONDecoder(**_HOOKS)


def _depth(value: Any) -> int:
    """Nesting depth of containers: 0 for a scalar, 1 for a flat array or object."""
    if isinstance(value, dict):
        items: Any = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return 0
    deepest = 0
    for item in items:
        if isinstance(item, dict | list):
            deepest = max(deepest, _depth(item))
    return 1 + deepest


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise InvalidInput(f"integer {value} is outside the I-JSON range")
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_number(value))
    elif isinstance(value, dict):
        _write_object(value, out)
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise InvalidInput(f"cannot canonicalise a {type(value).__name__}")


def _write_object(value: dict[Any, Any], out: list[str]) -> None:
    for key in value:
        if not isinstance(key, str):
            raise InvalidInput("object member names must be strings")
    out.append("{")
    for i, key in enumerate(sorted(value, key=_utf16_key)):
        if i:
            out.append(",")
        out.append(_string(key))
        out.append(":")
        _write(value[key], out)
    out.append("}")


def _utf16_key(key: str) -> bytes:
    try:
        return key.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise InvalidInput("member name is not valid Unicode") from exc


def _string(text: str) -> str:
    """RFC 8785 §3.2.2.2 string escaping.

    The json module's ``encode_basestring`` (what ``json.dumps(ensure_ascii=False)``
    uses) escapes exactly what JCS requires - ``"``, ``\\``, the short forms
    ``\\b \\f \\n \\r \\t`` and other controls below U+0020 as lower-case ``\\u00xx`` -
    and nothing else, in C: a Python loop over the characters cost about 4 ms for a
    32K-character body. Lone surrogates pass through here and are refused when the
    result is encoded to UTF-8.
    """
    return _encode_basestring(text)


def _number(value: float) -> str:
    """ECMAScript Number::toString for a finite double (RFC 8785 §3.2.2.3)."""
    if not math.isfinite(value):
        raise InvalidInput("NaN and Infinity are not JSON numbers")
    if value == 0:
        return "0"
    if 1e-4 <= abs(value) < 1e16:
        # Here repr() already writes the shortest round-tripping digits without an
        # exponent, as ECMAScript does (coordinates, altitudes, times: most numbers).
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return _number_general(value)


def _number_general(value: float) -> str:
    """``_number`` for any finite non-zero double, by digits and exponent."""
    sign = "-" if value < 0 else ""
    # repr() gives the shortest round-tripping decimal, as ECMAScript requires.
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    if not isinstance(exponent, int):  # pragma: no cover - finite checked above
        raise InvalidInput("not a finite number")
    exponent += len(digit_tuple) - len(digits)
    k = len(digits)
    n = exponent + k
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        body = f"{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"
    return sign + body
