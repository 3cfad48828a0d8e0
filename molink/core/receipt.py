"""Signed delivery receipts (DESIGN.md "Message life" step 7).

A receipt is a compact JWS by the RECIPIENT party over::

    {"v": 1, "type": "receipt", "message_id": "<uuid>", "jws_sha256": "<hex>",
     "from": "<recipient party>", "to": "<sender party>",
     "received": "<ISO 8601 UTC>", "log_origin": "<origin>", "log_index": 12}

It proves that the recipient stored exactly that JWS (by hash) at that time, at
that index of its own log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from molink.core.canonical import canonical_json, parse_json
from molink.core.dtg import format_utc, parse_utc
from molink.core.envelope import Directory
from molink.core.ids import is_uuid
from molink.core.jose import jws_parse, jws_sign
from molink.core.keys import PartyKeys, is_party_id
from molink.core.note import is_valid_key_name
from molink.errors import InvalidInput, MalformedData, SignatureInvalid

__all__ = ["RECEIPT_TYP", "Receipt", "make_receipt", "verify_receipt"]

RECEIPT_TYP = "molink-receipt+jws"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Receipt:
    """A verified delivery receipt."""

    jws: str
    message_id: str
    jws_sha256: str
    recipient: str
    sender: str
    received: datetime
    log_origin: str
    log_index: int


def make_receipt(
    keys: PartyKeys,
    *,
    message_id: str,
    jws_sha256: str,
    sender: str,
    received: datetime,
    log_origin: str,
    log_index: int,
) -> str:
    """Sign a receipt as the recipient party ``keys.party``."""
    payload = {
        "v": 1,
        "type": "receipt",
        "message_id": message_id,
        "jws_sha256": jws_sha256,
        "from": keys.party,
        "to": sender,
        "received": format_utc(received),
        "log_origin": log_origin,
        "log_index": log_index,
    }
    try:
        _check(payload)
    except MalformedData as exc:
        raise InvalidInput(exc.message) from exc
    return jws_sign(
        canonical_json(payload), keys.sig_private, kid=keys.public.sig_kid, typ=RECEIPT_TYP
    )


def _check(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict) or payload.get("type") != "receipt" or payload.get("v") != 1:
        raise MalformedData("not a v1 receipt")
    ok = {
        "message_id": is_uuid(payload.get("message_id")),
        "jws_sha256": isinstance(payload.get("jws_sha256"), str)
        and bool(_HEX64.fullmatch(payload["jws_sha256"])),
        "from": isinstance(payload.get("from"), str) and is_party_id(payload["from"]),
        "to": isinstance(payload.get("to"), str) and is_party_id(payload["to"]),
        "received": isinstance(payload.get("received"), str),
        # The recipient's log origin names its checkpoints' first line and the key of
        # its log (c2sp.org/tlog-checkpoint, signed-note): a key name, nothing looser.
        "log_origin": isinstance(payload.get("log_origin"), str)
        and is_valid_key_name(payload["log_origin"]),
        "log_index": isinstance(payload.get("log_index"), int) and payload["log_index"] >= 0,
    }
    for name, good in ok.items():
        if not good:
            raise MalformedData(f"receipt field {name!r} is missing or invalid")
    return payload


def verify_receipt(
    text: str,
    directory: Directory,
    *,
    message_id: str | None = None,
    jws_sha256: str | None = None,
) -> Receipt:
    """Verify a receipt's signature by the recipient party and, if given, what it covers.

    Raises:
        MalformedData, UnknownPeer, SignatureInvalid (also when it covers another message).
    """
    jws = jws_parse(text)
    payload = _check(parse_json(jws.payload))
    signer = directory.find(payload["from"], jws.kid)
    jws.verify(signer.sig_public)
    if message_id is not None and payload["message_id"] != message_id:
        raise SignatureInvalid("receipt is for another message", evidence={"receipt": text})
    if jws_sha256 is not None and payload["jws_sha256"] != jws_sha256:
        raise SignatureInvalid("receipt covers different content", evidence={"receipt": text})
    try:
        received = parse_utc(payload["received"])
    except InvalidInput as exc:
        raise MalformedData("receipt 'received' is not a UTC time") from exc
    return Receipt(
        jws=text,
        message_id=payload["message_id"],
        jws_sha256=payload["jws_sha256"],
        recipient=payload["from"],
        sender=payload["to"],
        received=received,
        log_origin=payload["log_origin"],
        log_index=payload["log_index"],
    )
