"""Signed objects and sealed envelopes (DESIGN.md "Message life", ADR 0001).

A *signed object* is canonical JSON (RFC 8785) signed as a compact JWS by the
sending party. Every signed object shares a header of fields::

    {"v": 1, "type": "message", "id": "<uuid7>", "from": "US", "to": ["RU"],
     "channel": "<channel id>", "seq": 7, "created": "2026-02-05T10:00:00.000Z",
     "precedence": "FLASH", ...type-specific fields}

An *envelope* seals the JWS as a general-JSON JWE to every recipient party. Its
``aad`` member carries the routing header (id, from, to, channel, precedence,
type) as canonical JSON: a relay can route on it but can neither read nor alter
the message, and the recipient checks that it agrees with the signed content.

:func:`open_envelope` verifies everything, in order, each failure a distinct
typed error: structure, recipient, decryption, sender key, signature, routing
agreement and clock skew.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from molink.core.b64 import b64url_decode
from molink.core.canonical import canonical_json, parse_json
from molink.core.dtg import format_utc, parse_utc
from molink.core.ids import is_uuid
from molink.core.jose import CompactJws, JweRecipientKey, Random, jwe_open, jwe_seal, jws_parse
from molink.core.keys import PartyKeys, PartyPublicKeys, is_party_id
from molink.core.message import check_content
from molink.core.precedence import Precedence
from molink.errors import (
    ClockSkewExceeded,
    InvalidInput,
    MalformedData,
    PeerDataInvalid,
    RoutingMismatch,
    SignatureInvalid,
    UnknownPeer,
    WrongRecipient,
)

__all__ = [
    "ENVELOPE_VERSION",
    "JWS_TYP",
    "ROUTED_FIELDS",
    "Directory",
    "Opened",
    "Routing",
    "SignedObject",
    "is_peer_fault",
    "open_envelope",
    "read_routing",
    "seal",
    "sign_and_seal",
    "sign_object",
    "verify_signed",
]

ENVELOPE_VERSION = 1
JWS_TYP = "molink+jws"
ROUTED_FIELDS = ("id", "from", "to", "channel", "precedence", "type")
_MAX_CHANNEL = 64
_PRECEDENCES = {p.value: p for p in Precedence}  # Precedence(value) is an order slower


class Directory:
    """The pinned public keys of every known party, including old (rotated) keys.

    ``current(party)`` is the key set used to seal to a party; ``find`` accepts any
    key the party has held, so old messages stay verifiable after rotation.
    """

    def __init__(self, keys: Iterable[PartyPublicKeys] = ()) -> None:
        self._current: dict[str, PartyPublicKeys] = {}
        self._by_kid: dict[str, PartyPublicKeys] = {}
        for key in keys:
            self.add(key)

    def add(self, key: PartyPublicKeys, *, current: bool = True) -> None:
        if current:
            self._current[key.party] = key
        self._by_kid[key.sig_kid] = key

    def current(self, party: str) -> PartyPublicKeys:
        try:
            return self._current[party]
        except KeyError as exc:
            raise UnknownPeer(f"party {party!r} is not a pinned peer") from exc

    def find(self, party: str, sig_kid: str) -> PartyPublicKeys:
        """The key of ``party`` with signing thumbprint ``sig_kid``.

        Raises:
            UnknownPeer: ``party`` is unknown.
            SignatureInvalid: ``party`` is known but never held that key.
        """
        self.current(party)
        key = self._by_kid.get(sig_kid)
        if key is None or key.party != party:
            raise SignatureInvalid(f"key {sig_kid!r} is not a key of {party}")
        return key

    def by_kid(self, sig_kid: str) -> PartyPublicKeys:
        """Any pinned key (current or old) with this signing thumbprint."""
        key = self._by_kid.get(sig_kid)
        if key is None:
            raise UnknownPeer(f"no pinned peer holds key {sig_kid!r}")
        return key

    def __contains__(self, party: object) -> bool:
        return party in self._current

    def parties(self) -> list[str]:
        return sorted(self._current)


@dataclass(frozen=True, slots=True)
class Routing:
    """The plain routing header of an envelope (authenticated, not encrypted)."""

    id: str
    sender: str
    to: tuple[str, ...]
    channel: str
    precedence: Precedence
    type: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.sender,
            "to": list(self.to),
            "channel": self.channel,
            "precedence": self.precedence.value,
            "type": self.type,
        }

    @classmethod
    def from_json(cls, data: Any) -> Routing:
        if not isinstance(data, dict) or set(data) != set(ROUTED_FIELDS):
            raise MalformedData(f"routing header must have exactly {list(ROUTED_FIELDS)}")
        return _routing_of(_check_header_fields(data))


@dataclass(frozen=True, slots=True)
class SignedObject:
    """A verified signed object: the JWS as received and its parsed payload."""

    jws: CompactJws
    payload: dict[str, Any]
    signer: PartyPublicKeys

    @property
    def id(self) -> str:
        return str(self.payload["id"])

    @property
    def sender(self) -> str:
        return str(self.payload["from"])

    @property
    def to(self) -> tuple[str, ...]:
        return tuple(self.payload["to"])

    @property
    def type(self) -> str:
        return str(self.payload["type"])

    @property
    def channel(self) -> str:
        return str(self.payload["channel"])

    @property
    def seq(self) -> int:
        return int(self.payload["seq"])

    @property
    def precedence(self) -> Precedence:
        return Precedence(self.payload["precedence"])

    @property
    def created(self) -> datetime:
        return parse_utc(self.payload["created"])

    @property
    def sha256(self) -> str:
        return self.jws.sha256

    def routing(self) -> Routing:
        return Routing.from_json({name: self.payload[name] for name in ROUTED_FIELDS})


def _routing_of(header: Mapping[str, Any]) -> Routing:
    """The routing fields of ``header``, which ``_check_header_fields`` has accepted."""
    return Routing(
        id=header["id"],
        sender=header["from"],
        to=tuple(header["to"]),
        channel=header["channel"],
        precedence=_PRECEDENCES[header["precedence"]],
        type=header["type"],
    )


@dataclass(frozen=True, slots=True)
class Opened:
    """The result of opening an envelope: routing header and the verified object."""

    routing: Routing
    signed: SignedObject


def _check_header_fields(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Validate the shared header fields; raise MalformedData naming the bad one."""
    checks = {
        "id": is_uuid(data.get("id")),
        "from": isinstance(data.get("from"), str) and is_party_id(data["from"]),
        "to": _valid_recipients(data.get("to")),
        "channel": isinstance(data.get("channel"), str)
        and 0 < len(data["channel"]) <= _MAX_CHANNEL,
        "precedence": isinstance(data.get("precedence"), str)
        and data["precedence"] in _PRECEDENCES,
        "type": isinstance(data.get("type"), str) and 0 < len(data["type"]) <= 32,
    }
    for name, ok in checks.items():
        if not ok:
            raise MalformedData(f"field {name!r} is missing or invalid")
    return data


def _valid_recipients(value: Any) -> bool:
    return (
        isinstance(value, list)
        and 0 < len(value) <= 16
        and all(isinstance(p, str) and is_party_id(p) for p in value)
        and len(set(value)) == len(value)
    )


def _check_payload(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise MalformedData("signed payload must be a JSON object")
    if payload.get("v") != ENVELOPE_VERSION:
        raise MalformedData(f"unsupported payload version {payload.get('v')!r}")
    _check_header_fields(payload)
    seq = payload.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise MalformedData("field 'seq' is missing or invalid")
    try:
        parse_utc(payload.get("created"))  # type: ignore[arg-type]
    except InvalidInput as exc:
        raise MalformedData("field 'created' is not an ISO 8601 UTC time") from exc
    check_content(payload)
    return payload


def sign_object(
    keys: PartyKeys,
    *,
    type: str,
    id: str,
    to: Sequence[str],
    channel: str,
    seq: int,
    created: datetime,
    precedence: Precedence,
    fields: Mapping[str, Any],
) -> str:
    """Build the canonical payload and sign it as the party. Returns the compact JWS."""
    return _sign(
        keys,
        _header(type, id, keys.party, to, channel, seq, created, precedence),
        fields,
    ).jws.text


def sign_and_seal(
    keys: PartyKeys,
    directory: Directory,
    *,
    type: str,
    id: str,
    to: Sequence[str],
    channel: str,
    seq: int,
    created: datetime,
    precedence: Precedence,
    fields: Mapping[str, Any],
    random: Random = os.urandom,
) -> tuple[SignedObject, dict[str, Any]]:
    """:func:`sign_object` then :func:`seal`, without parsing back what was just signed.

    The envelope is byte for byte what ``seal(sign_object(...), directory)`` gives with
    the same ``random``. The returned :class:`SignedObject` carries the payload as built
    (the mapping the JWS encodes) and ``keys.public`` as signer.

    Raises:
        InvalidInput: a field is invalid. UnknownPeer: a recipient is not pinned.
    """
    signed = _sign(
        keys, _header(type, id, keys.party, to, channel, seq, created, precedence), fields
    )
    return signed, seal(signed, directory, random=random)


def _header(
    type: str,
    id: str,
    sender: str,
    to: Sequence[str],
    channel: str,
    seq: int,
    created: datetime,
    precedence: Precedence,
) -> dict[str, Any]:
    return {
        "v": ENVELOPE_VERSION,
        "type": type,
        "id": id,
        "from": sender,
        "to": list(to),
        "channel": channel,
        "seq": seq,
        "created": format_utc(created),
        "precedence": precedence.value,
    }


def _sign(keys: PartyKeys, header: dict[str, Any], fields: Mapping[str, Any]) -> SignedObject:
    """Validate ``fields`` under the shared ``header`` (header wins) and sign them."""
    payload: dict[str, Any] = {**fields, **header}
    try:
        _check_payload(payload)
    except MalformedData as exc:
        raise InvalidInput(exc.message) from exc
    public = keys.public
    jws = CompactJws.sign(
        canonical_json(payload), keys.sig_private, kid=public.sig_kid, typ=JWS_TYP
    )
    return SignedObject(jws=jws, payload=payload, signer=public)


def verify_signed(jws_text: str, directory: Directory) -> SignedObject:
    """Parse and verify a signed object against the pinned key of its ``from`` party.

    Raises:
        MalformedData, UnknownPeer, SignatureInvalid.
    """
    jws = jws_parse(jws_text)
    payload = _check_payload(parse_json(jws.payload))
    signer = directory.find(payload["from"], jws.kid)
    jws.verify(signer.sig_public)
    try:
        canonical = canonical_json(payload)
    except InvalidInput as exc:
        raise MalformedData("signed payload is not I-JSON (RFC 7493)") from exc
    if canonical != jws.payload:
        raise MalformedData("signed payload is not canonical JSON (RFC 8785)")
    return SignedObject(jws=jws, payload=payload, signer=signer)


def seal(
    signed: SignedObject | str,
    directory: Directory,
    *,
    random: Random = os.urandom,
) -> dict[str, Any]:
    """Seal a signed object to every party in its ``to`` list.

    The routing header is derived from the signed payload, so it agrees by construction.
    """
    payload = (
        signed.payload
        if isinstance(signed, SignedObject)
        else (_check_payload(parse_json(jws_parse(signed).payload)))
    )
    text = signed.jws.text if isinstance(signed, SignedObject) else signed
    routing = {name: payload[name] for name in ROUTED_FIELDS}
    recipients = [
        JweRecipientKey(kid=directory.current(p).enc_kid, public=directory.current(p).enc_public)
        for p in payload["to"]
    ]
    return jwe_seal(text.encode("ascii"), recipients, aad=canonical_json(routing), random=random)


def read_routing(envelope: Mapping[str, Any]) -> Routing:
    """Read the routing header without decrypting (what a relay does)."""
    aad = envelope.get("aad")
    if not isinstance(aad, str):
        raise MalformedData("envelope lacks its routing header (JWE aad)")
    return Routing.from_json(parse_json(b64url_decode(aad)))


def open_envelope(
    envelope: Mapping[str, Any],
    *,
    me: PartyKeys,
    directory: Directory,
    now: datetime,
    max_skew: timedelta,
) -> Opened:
    """Open and verify an envelope addressed to ``me``.

    Checks, in order: routing header (MalformedData), addressed to me (WrongRecipient),
    sender is pinned (UnknownPeer), decryption (DecryptionFailed), signature by the
    sender's pinned key (SignatureInvalid), routing agrees with the signed content
    (RoutingMismatch), creation time not beyond ``now + max_skew`` (ClockSkewExceeded).
    Old creation times are accepted: delayed delivery is normal; replays are caught
    by id at the storage layer.
    """
    if not isinstance(envelope, Mapping):
        raise MalformedData("envelope must be a JSON object")
    routing = read_routing(envelope)
    if me.party not in routing.to:
        raise WrongRecipient(f"envelope is addressed to {list(routing.to)}, not {me.party}")
    directory.current(routing.sender)
    plaintext = jwe_open(envelope, kid=me.public.enc_kid, private=me.enc_private)
    try:
        jws_text = plaintext.decode("ascii")
    except UnicodeDecodeError as exc:
        raise MalformedData("decrypted content is not a compact JWS") from exc
    signed = verify_signed(jws_text, directory)
    signed_routing = _routing_of(signed.payload)  # verify_signed checked the payload
    if signed_routing != routing:
        raise RoutingMismatch(
            "routing header disagrees with the signed content",
            evidence={
                "routing": routing.to_json(),
                "signed": signed_routing.to_json(),
                "jws": signed.jws.text,
            },
        )
    if signed.created - now > max_skew:
        raise ClockSkewExceeded(
            f"created {format_utc(signed.created)} is more than {max_skew} ahead of "
            f"{format_utc(now)}",
            evidence={"jws": signed.jws.text},
        )
    return Opened(routing=routing, signed=signed)


def is_peer_fault(exc: BaseException) -> bool:
    """True when ``exc`` proves the peer sent invalid data (never worth retrying)."""
    return isinstance(exc, PeerDataInvalid)
