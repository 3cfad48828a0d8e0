"""The type-specific content of signed objects: text messages and acknowledgements.

``message``: ``subject``, ``body``, ``lang`` (BCP 47), optional ``code`` and
``params`` for pre-agreed catalogue messages.

``ack``: a person's acknowledgement of a received message. It is a signed object of
its own that travels back to the sender: ``ref`` (message id), ``ref_sha256`` (the
acknowledged JWS's SHA-256), ``operator`` (pseudonymous operator id), ``terminal``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from molink.core.ids import is_uuid
from molink.errors import InvalidInput, MalformedData

__all__ = [
    "MAX_BODY_CHARS",
    "MAX_SUBJECT_CHARS",
    "ack_fields",
    "check_content",
    "message_fields",
]

MAX_SUBJECT_CHARS = 256
MAX_BODY_CHARS = 32_768
_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_PSEUDONYM = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def message_fields(
    *,
    subject: str,
    body: str,
    lang: str,
    code: str | None = None,
    params: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The content of a ``message`` built from an operator's input.

    Raises:
        InvalidInput: a field is missing, too long or malformed.
    """
    fields: dict[str, Any] = {"subject": subject, "body": body, "lang": lang}
    if code is not None:
        fields["code"] = code
        fields["params"] = dict(params or {})
    _as_invalid_input(_check_message, fields)
    return fields


def ack_fields(*, ref: str, ref_sha256: str, operator: str, terminal: str) -> dict[str, Any]:
    """The content of an ``ack``. Raises ``InvalidInput`` like :func:`message_fields`."""
    fields = {"ref": ref, "ref_sha256": ref_sha256, "operator": operator, "terminal": terminal}
    _as_invalid_input(_check_ack, fields)
    return fields


def _as_invalid_input(check: Callable[[Mapping[str, Any]], None], fields: dict[str, Any]) -> None:
    # The same checks guard peer data (MalformedData); here the input is our operator's.
    try:
        check(fields)
    except MalformedData as exc:
        raise InvalidInput(exc.message) from exc


def _check_message(p: Mapping[str, Any]) -> None:
    checks = {
        "subject": isinstance(p.get("subject"), str) and len(p["subject"]) <= MAX_SUBJECT_CHARS,
        "body": isinstance(p.get("body"), str) and len(p["body"]) <= MAX_BODY_CHARS,
        "lang": _full(_LANG, p.get("lang")),
        "code": "code" not in p or (isinstance(p["code"], str) and 0 < len(p["code"]) <= 32),
        "params": "params" not in p
        or (
            isinstance(p["params"], dict)
            and len(p["params"]) <= 16
            and all(
                isinstance(k, str) and isinstance(v, str) and len(v) <= 512
                for k, v in p["params"].items()
            )
        ),
    }
    _raise_first(checks)


def _check_ack(p: Mapping[str, Any]) -> None:
    checks = {
        "ref": is_uuid(p.get("ref")),
        "ref_sha256": _full(_HEX64, p.get("ref_sha256")),
        "operator": _full(_PSEUDONYM, p.get("operator")),
        "terminal": _full(_PSEUDONYM, p.get("terminal")),
    }
    _raise_first(checks)


def _full(pattern: re.Pattern[str], value: Any) -> bool:
    # fullmatch, not match: "$" would also accept a trailing newline.
    return isinstance(value, str) and bool(pattern.fullmatch(value))


def _raise_first(checks: Mapping[str, bool]) -> None:
    for name, ok in checks.items():
        if not ok:
            raise MalformedData(f"field {name!r} is missing or invalid")


_CHECKERS = {"message": _check_message, "ack": _check_ack}


def check_content(payload: Mapping[str, Any]) -> None:
    """Validate the type-specific fields of a signed payload, if its type has a checker."""
    checker = _CHECKERS.get(str(payload.get("type")))
    if checker is not None:
        checker(payload)
