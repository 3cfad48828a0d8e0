"""Signed objects and sealed envelopes (molink/core/envelope.py, message.py).

Every way an envelope can be wrong maps to one typed error; every flipped byte of
what the recipient uses is rejected; and the vector file regenerates exactly.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from molink.core.b64 import b64url_decode, b64url_encode
from molink.core.canonical import canonical_json
from molink.core.envelope import (
    ENVELOPE_VERSION,
    JWS_TYP,
    ROUTED_FIELDS,
    Directory,
    Routing,
    SignedObject,
    is_peer_fault,
    open_envelope,
    read_routing,
    seal,
    sign_object,
    verify_signed,
)
from molink.core.ids import uuid7
from molink.core.jose import JweRecipientKey, jwe_seal, jws_parse, jws_sign
from molink.core.keys import PartyKeys
from molink.core.message import ack_fields, message_fields
from molink.core.precedence import Precedence
from molink.errors import (
    ClockSkewExceeded,
    DecryptionFailed,
    InvalidInput,
    MalformedData,
    MolinkError,
    RoutingMismatch,
    SignatureInvalid,
    StorageError,
    UnknownPeer,
    WrongRecipient,
)
from tests.vectors import generate
from tests.vectors.generate import directory, drbg, fixed_keys

NOW = datetime(2026, 2, 5, 10, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)
US, RU, UA, AE = (fixed_keys(p) for p in ("US", "RU", "UA", "AE"))
ROGUE_US = fixed_keys("US", generation=1)  # claims to be US; nobody pinned this key
DIR = directory("US", "RU", "UA", "AE")
_ids = drbg("test-ids")


def make_jws(
    sender: PartyKeys = US,
    *,
    to: tuple[str, ...] = ("RU",),
    created: datetime = NOW,
    precedence: Precedence = Precedence.FLASH,
    type: str = "message",
    fields: dict[str, Any] | None = None,
    channel: str = "hotline",
    seq: int = 1,
) -> str:
    return sign_object(
        sender,
        type=type,
        id=uuid7(created, _ids(10)),
        to=list(to),
        channel=channel,
        seq=seq,
        created=created,
        precedence=precedence,
        fields=fields or message_fields(subject="Subject", body="Body", lang="en"),
    )


def open_as(envelope: Any, me: PartyKeys, directory_: Directory = DIR, now: datetime = NOW) -> Any:
    return open_envelope(envelope, me=me, directory=directory_, now=now, max_skew=SKEW)


def payload_of(jws: str) -> dict[str, Any]:
    return dict(json.loads(jws_parse(jws).payload))


def resign(payload: dict[str, Any], keys: PartyKeys = US, *, raw: bytes | None = None) -> str:
    body = canonical_json(payload) if raw is None else raw
    return jws_sign(body, keys.sig_private, kid=keys.public.sig_kid, typ=JWS_TYP)


# --- signing and verifying -------------------------------------------------------------


def test_sign_and_verify_round_trip() -> None:
    jws = make_jws(to=("RU", "UA"), seq=42)
    signed = verify_signed(jws, DIR)
    assert isinstance(signed, SignedObject)
    assert signed.jws.text == jws
    assert signed.sender == "US"
    assert signed.to == ("RU", "UA")
    assert signed.type == "message"
    assert signed.channel == "hotline"
    assert signed.seq == 42
    assert signed.precedence is Precedence.FLASH
    assert signed.created == NOW
    assert signed.signer == US.public
    assert signed.sha256 == jws_parse(jws).sha256
    assert signed.payload["v"] == ENVELOPE_VERSION
    assert signed.payload["created"] == "2026-02-05T10:00:00.000Z"
    assert jws_parse(jws).header == {"alg": "Ed25519", "kid": US.public.sig_kid, "typ": JWS_TYP}
    assert jws_parse(jws).payload == canonical_json(signed.payload)
    assert signed.routing() == Routing(
        id=signed.id,
        sender="US",
        to=("RU", "UA"),
        channel="hotline",
        precedence=Precedence.FLASH,
        type="message",
    )


def test_core_fields_cannot_be_overridden_by_content() -> None:
    fields = {**message_fields(subject="s", body="b", lang="en"), "from": "RU", "v": 9}
    signed = verify_signed(make_jws(fields=fields), DIR)
    assert signed.sender == "US"
    assert signed.payload["v"] == 1


@pytest.mark.parametrize(
    "change",
    [
        {"to": ()},
        {"to": ("RU", "RU")},
        {"to": ("ru",)},
        {"to": tuple(f"P{i}" for i in range(17))},
        {"channel": ""},
        {"channel": "c" * 65},
        {"type": ""},
        {"type": "t" * 33},
        {"seq": -1},
        {"fields": {"subject": "s", "body": "b", "lang": "English"}},
        {"fields": {"subject": "s" * 257, "body": "b", "lang": "en"}},
        {"fields": {"subject": "s", "lang": "en"}},
        {"created": datetime(2026, 2, 5, 10, 0)},  # naive
    ],
)
def test_sign_object_refuses_invalid_input(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        make_jws(**change)


def test_sign_object_refuses_bad_id() -> None:
    with pytest.raises(InvalidInput):
        sign_object(
            US,
            type="message",
            id="not-a-uuid",
            to=["RU"],
            channel="c",
            seq=0,
            created=NOW,
            precedence=Precedence.ROUTINE,
            fields=message_fields(subject="s", body="b", lang="en"),
        )


def test_message_fields_with_catalogue_code() -> None:
    fields = message_fields(subject="s", body="b", lang="ru", code="NOTAM-1", params={"t": "10"})
    assert fields == {
        "subject": "s",
        "body": "b",
        "lang": "ru",
        "code": "NOTAM-1",
        "params": {"t": "10"},
    }
    assert verify_signed(make_jws(fields=fields), DIR).payload["params"] == {"t": "10"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"subject": "s" * 257},
        {"body": "b" * 32_769},
        {"lang": "EN"},
        {"lang": "en\n"},  # regression: "$" matched before a trailing newline
        {"code": ""},
        {"code": "c", "params": {f"k{i}": "v" for i in range(17)}},
        {"code": "c", "params": {"k": "v" * 513}},
    ],
)
def test_regression_message_fields_bad_operator_input_is_invalid_input(
    kwargs: dict[str, Any],
) -> None:
    # Used to raise MalformedData, the class that marks a PEER's misbehaviour.
    with pytest.raises(InvalidInput):
        message_fields(**{"subject": "s", "body": "b", "lang": "en", **kwargs})


def test_regression_ack_fields_bad_operator_input_is_invalid_input() -> None:
    good = {"ref": uuid7(NOW, bytes(10)), "ref_sha256": "0" * 64, "operator": "op", "terminal": "t"}
    assert ack_fields(**good) == good
    bad_values = [("ref", "x"), ("ref_sha256", "AB"), ("operator", "a b"), ("terminal", "")]
    bad_values += [(name, f"{value}\n") for name, value in good.items()]  # regression
    for name, bad in bad_values:
        with pytest.raises(InvalidInput):
            ack_fields(**{**good, name: bad})


def test_verify_unknown_sender() -> None:
    with pytest.raises(UnknownPeer):
        verify_signed(make_jws(), directory("RU"))


def test_verify_key_the_directory_does_not_hold() -> None:
    with pytest.raises(SignatureInvalid):
        verify_signed(make_jws(ROGUE_US), DIR)


def test_verify_kid_of_another_party() -> None:
    forged = jws_sign(
        jws_parse(make_jws()).payload, RU.sig_private, kid=RU.public.sig_kid, typ=JWS_TYP
    )
    with pytest.raises(SignatureInvalid):
        verify_signed(forged, DIR)


def test_verify_right_kid_wrong_key() -> None:
    payload = jws_parse(make_jws()).payload
    forged = jws_sign(payload, ROGUE_US.sig_private, kid=US.public.sig_kid, typ=JWS_TYP)
    with pytest.raises(SignatureInvalid) as info:
        verify_signed(forged, DIR)
    assert info.value.evidence == {"jws": forged}


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: {**p, "v": 2},
        lambda p: {k: v for k, v in p.items() if k != "v"},
        lambda p: {**p, "seq": -1},
        lambda p: {**p, "seq": True},
        lambda p: {**p, "created": "yesterday"},
        lambda p: {**p, "created": "2026-02-05T10:00:00"},
        lambda p: {**p, "precedence": "URGENT"},
        lambda p: {**p, "precedence": ["FLASH"]},  # regression: TypeError (unhashable)
        lambda p: {**p, "to": [["RU"]]},  # regression: TypeError (unhashable)
        lambda p: {**p, "to": "RU"},
        lambda p: {**p, "lang": 5},
        lambda p: {**p, "body": None},
        lambda p: {**p, "id": p["id"] + "\n"},  # regression: trailing newline passed is_uuid
        lambda p: {**p, "lang": "en\n"},
    ],
)
def test_verify_refuses_bad_payload_even_when_signed(mutate: Any) -> None:
    with pytest.raises(MalformedData):
        verify_signed(resign(mutate(payload_of(make_jws()))), DIR)


def test_verify_refuses_non_object_payload() -> None:
    with pytest.raises(MalformedData):
        verify_signed(resign({}, raw=b"[1,2]"), DIR)


def test_verify_refuses_non_canonical_payload() -> None:
    payload = payload_of(make_jws())
    pretty = json.dumps(payload, indent=1, ensure_ascii=False).encode()
    with pytest.raises(MalformedData, match="canonical"):
        verify_signed(resign(payload, raw=pretty), DIR)


def test_regression_payload_that_is_not_i_json_is_malformed() -> None:
    # A lone surrogate escape parses but cannot be canonicalised: used to leak InvalidInput.
    payload = payload_of(make_jws())
    raw = canonical_json({**payload, "subject": "X"}).replace(b'"X"', b'"\\ud800"')
    with pytest.raises(MalformedData):
        verify_signed(resign(payload, raw=raw), DIR)


def test_ack_round_trip_and_content_checks() -> None:
    message = verify_signed(make_jws(), DIR)
    fields = ack_fields(ref=message.id, ref_sha256=message.sha256, operator="op-1", terminal="t1")
    ack = make_jws(RU, to=("US",), type="ack", fields=fields)
    signed = verify_signed(ack, DIR)
    assert signed.payload["ref"] == message.id
    assert signed.payload["ref_sha256"] == message.sha256
    bad = {**payload_of(ack), "ref_sha256": "XYZ"}
    with pytest.raises(MalformedData):
        verify_signed(resign(bad, RU), DIR)


# --- directory -------------------------------------------------------------------------


def test_directory_lookups_and_rotation() -> None:
    d = Directory([US.public, RU.public])
    assert "US" in d
    assert "UA" not in d
    assert d.parties() == ["RU", "US"]
    assert d.current("US") == US.public
    with pytest.raises(UnknownPeer):
        d.current("UA")
    with pytest.raises(UnknownPeer):
        d.find("UA", US.public.sig_kid)
    with pytest.raises(SignatureInvalid):
        d.find("RU", US.public.sig_kid)
    old_message = make_jws(US)
    d.add(ROGUE_US.public)  # US rotates to its generation-1 key
    assert d.current("US") == ROGUE_US.public
    assert verify_signed(old_message, d).signer == US.public  # old key still verifies
    assert verify_signed(make_jws(ROGUE_US), d).signer == ROGUE_US.public
    kept = Directory([RU.public])
    kept.add(US.public, current=False)
    with pytest.raises(UnknownPeer):  # a key that is not current does not make a peer
        verify_signed(old_message, kept)


# --- sealing and opening ---------------------------------------------------------------


def test_seal_and_open_by_every_recipient() -> None:
    jws = make_jws(to=("RU", "UA"), precedence=Precedence.IMMEDIATE)
    envelope = seal(jws, DIR)
    assert [r["header"]["kid"] for r in envelope["recipients"]] == [
        RU.public.enc_kid,
        UA.public.enc_kid,
    ]
    for me in (RU, UA):
        opened = open_as(envelope, me)
        assert opened.signed.jws.text == jws
        assert opened.routing == opened.signed.routing()
        assert opened.routing.precedence is Precedence.IMMEDIATE
    assert seal(verify_signed(jws, DIR), DIR, random=drbg("s")) == seal(jws, DIR, random=drbg("s"))


def test_relay_reads_routing_without_keys() -> None:
    jws = make_jws(to=("RU", "UA"), precedence=Precedence.FLASH_OVERRIDE)
    envelope = seal(jws, DIR)
    routing = read_routing(envelope)
    assert routing.sender == "US"
    assert routing.to == ("RU", "UA")
    assert routing.precedence is Precedence.FLASH_OVERRIDE
    assert set(routing.to_json()) == set(ROUTED_FIELDS)
    assert b64url_decode(envelope["aad"]) == canonical_json(routing.to_json())
    assert Routing.from_json(routing.to_json()) == routing
    assert jws.encode() not in json.dumps(envelope).encode()
    assert b"Body" not in json.dumps(envelope).encode()


def test_seal_to_unpinned_party() -> None:
    with pytest.raises(UnknownPeer):
        seal(make_jws(to=("RU",)), directory("US"))


def test_open_tampered_ciphertext() -> None:
    envelope = seal(make_jws(), DIR)
    raw = bytearray(b64url_decode(envelope["ciphertext"]))
    raw[10] ^= 0x01
    with pytest.raises(DecryptionFailed) as info:
        open_as({**envelope, "ciphertext": b64url_encode(bytes(raw))}, RU)
    assert type(info.value) is DecryptionFailed


def test_open_wrong_recipient() -> None:
    with pytest.raises(WrongRecipient):
        open_as(seal(make_jws(to=("RU",)), DIR), UA)


def test_open_listed_recipient_without_an_entry() -> None:
    jws = make_jws(to=("RU", "UA"))
    routing = canonical_json({k: payload_of(jws)[k] for k in ROUTED_FIELDS})
    only_ru = JweRecipientKey(kid=RU.public.enc_kid, public=RU.public.enc_public)
    with pytest.raises(WrongRecipient):
        open_as(jwe_seal(jws.encode(), [only_ru], aad=routing), UA)


def test_open_unknown_sender() -> None:
    envelope = seal(make_jws(), DIR)
    with pytest.raises(UnknownPeer):
        open_as(envelope, RU, directory("RU", "UA"))


def test_open_signed_by_a_key_the_directory_does_not_hold() -> None:
    with pytest.raises(SignatureInvalid):
        open_as(seal(make_jws(ROGUE_US), DIR), RU)


def test_open_signed_by_wrong_key_under_the_right_kid() -> None:
    payload = jws_parse(make_jws()).payload
    forged = jws_sign(payload, ROGUE_US.sig_private, kid=US.public.sig_kid, typ=JWS_TYP)
    with pytest.raises(SignatureInvalid):
        open_as(seal(forged, DIR), RU)


def _seal_with_routing(jws: str, routing: dict[str, Any], *to: PartyKeys) -> dict[str, Any]:
    recipients = [JweRecipientKey(kid=p.public.enc_kid, public=p.public.enc_public) for p in to]
    return jwe_seal(jws.encode(), recipients, aad=canonical_json(routing))


@pytest.mark.parametrize(
    "change",
    [
        {"precedence": "ROUTINE"},
        {"to": ["RU", "UA"]},
        {"channel": "other"},
        {"id": "01890000-0000-7000-8000-000000000000"},
        {"type": "ack"},
        {"from": "AE"},
    ],
)
def test_open_routing_disagreeing_with_signed_content(change: dict[str, Any]) -> None:
    jws = make_jws(to=("RU",))
    routing = {k: payload_of(jws)[k] for k in ROUTED_FIELDS}
    with pytest.raises(RoutingMismatch) as info:
        open_as(_seal_with_routing(jws, {**routing, **change}, RU), RU)
    assert info.value.evidence["jws"] == jws
    assert info.value.evidence["signed"] == routing
    assert info.value.evidence["routing"] == {**routing, **change}


def test_open_created_too_far_in_the_future() -> None:
    jws = make_jws(created=NOW + SKEW + timedelta(milliseconds=1))
    with pytest.raises(ClockSkewExceeded) as info:
        open_as(seal(jws, DIR), RU)
    assert info.value.evidence == {"jws": jws}


@pytest.mark.parametrize(
    "created", [NOW + SKEW, NOW, NOW - timedelta(days=400), datetime(2000, 1, 1, tzinfo=UTC)]
)
def test_open_accepts_old_and_slightly_early_messages(created: datetime) -> None:
    assert open_as(seal(make_jws(created=created), DIR), RU).signed.created == created


@pytest.mark.parametrize("envelope", [None, [], "envelope", 5])
def test_open_non_object(envelope: Any) -> None:
    with pytest.raises(MalformedData):
        open_as(envelope, RU)


def _envelope_with_aad(aad: Any) -> dict[str, Any]:
    envelope = seal(make_jws(), DIR)
    if aad is None:
        del envelope["aad"]
    else:
        envelope["aad"] = aad if isinstance(aad, str) else b64url_encode(json.dumps(aad).encode())
    return envelope


_ROUTING = {
    "id": "01890000-0000-7000-8000-000000000000",
    "from": "US",
    "to": ["RU"],
    "channel": "c",
    "precedence": "FLASH",
    "type": "message",
}


@pytest.mark.parametrize(
    "aad",
    [
        None,
        "!!",
        b64url_encode(b"{"),
        [],
        {k: v for k, v in _ROUTING.items() if k != "type"},
        {**_ROUTING, "extra": 1},
        {**_ROUTING, "precedence": ["FLASH"]},  # regression: TypeError (unhashable)
        {**_ROUTING, "to": [["RU"]]},  # regression: TypeError (unhashable)
        {**_ROUTING, "to": []},
        {**_ROUTING, "from": "us"},
        {**_ROUTING, "id": "01890000-0000-7000-8000-00000000000Z"},
        {**_ROUTING, "channel": 7},
    ],
)
def test_read_routing_refuses_bad_headers(aad: Any) -> None:
    envelope = _envelope_with_aad(aad)
    with pytest.raises(MalformedData):
        read_routing(envelope)
    with pytest.raises(MalformedData):
        open_as(envelope, RU)


def test_is_peer_fault() -> None:
    assert is_peer_fault(RoutingMismatch("x"))
    assert is_peer_fault(WrongRecipient("x"))
    assert not is_peer_fault(InvalidInput("x"))
    assert not is_peer_fault(StorageError("x"))
    assert not is_peer_fault(ValueError("x"))


# --- properties ------------------------------------------------------------------------

_PARTY_SETS = st.lists(st.sampled_from(["RU", "UA", "AE"]), min_size=1, max_size=3, unique=True)
_KEYS = {"RU": RU, "UA": UA, "AE": AE}


@settings(max_examples=60, deadline=None)
@given(
    to=_PARTY_SETS,
    subject=st.text(max_size=256),
    body=st.text(max_size=2000),
    precedence=st.sampled_from(list(Precedence)),
    channel=st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=64),
    seq=st.integers(0, 2**53 - 1),
)
def test_seal_open_round_trip(
    to: list[str], subject: str, body: str, precedence: Precedence, channel: str, seq: int
) -> None:
    try:
        fields = message_fields(subject=subject, body=body, lang="en")
    except InvalidInput:
        return
    jws = make_jws(to=tuple(to), precedence=precedence, channel=channel, seq=seq, fields=fields)
    envelope = seal(jws, DIR)
    for party in to:
        opened = open_as(envelope, _KEYS[party])
        assert opened.signed.jws.text == jws
        assert opened.signed.payload["subject"] == subject
        assert opened.signed.payload["body"] == body
        assert opened.routing.to == tuple(to)
    for party in {"RU", "UA", "AE"} - set(to):
        with pytest.raises(WrongRecipient):
            open_as(envelope, _KEYS[party])


SEGMENTS: dict[str, tuple[str | int, ...]] = {
    "ciphertext": ("ciphertext",),
    "tag": ("tag",),
    "iv": ("iv",),
    "encrypted_key": ("recipients", 0, "encrypted_key"),
    "epk": ("recipients", 0, "header", "epk", "x"),
    "protected": ("protected",),
    "aad": ("aad",),
}
DECRYPTION = {"ciphertext", "tag", "iv", "encrypted_key"}
_SHORT = seal(make_jws(fields=message_fields(subject="s", body="b", lang="en")), DIR)


def _get(envelope: dict[str, Any], path: tuple[str | int, ...]) -> Any:
    target: Any = envelope
    for key in path:
        target = target[key]
    return target


def _with(envelope: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(envelope)
    _get(out, path[:-1])[path[-1]] = value
    return out


def _flip(envelope: dict[str, Any], segment: str, position: int, mask: int) -> dict[str, Any]:
    path = SEGMENTS[segment]
    raw = bytearray(b64url_decode(_get(envelope, path)))
    raw[position % len(raw)] ^= mask
    return _with(envelope, path, b64url_encode(bytes(raw)))


@pytest.mark.parametrize("segment", sorted(SEGMENTS))
def test_every_single_bit_flip_is_rejected(segment: str) -> None:
    """Exhaustive: each bit of each base64url member the recipient uses."""
    size = len(b64url_decode(_get(_SHORT, SEGMENTS[segment])))
    expected: type[MolinkError] = DecryptionFailed if segment in DECRYPTION else MolinkError
    for position in range(size):
        for bit in range(8):
            with pytest.raises(expected):
                open_as(_flip(_SHORT, segment, position, 1 << bit), RU)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SEGMENTS)), st.integers(0, 1 << 16), st.integers(1, 255))
def test_any_flipped_byte_is_rejected(segment: str, position: int, mask: int) -> None:
    envelope = _flip(_SHORT, segment, position, mask)
    try:
        open_as(envelope, RU)
    except DecryptionFailed:
        pass
    except MolinkError:
        assert segment not in DECRYPTION, segment
    else:
        pytest.fail(f"a flipped byte in {segment} was accepted")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(SEGMENTS)),
    st.integers(0, 1 << 16),
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.+/ "),
)
def test_any_changed_character_is_rejected(segment: str, position: int, char: str) -> None:
    text = _get(_SHORT, SEGMENTS[segment])
    i = position % len(text)
    if text[i] == char:
        return
    with pytest.raises(MolinkError):
        open_as(_with(_SHORT, SEGMENTS[segment], text[:i] + char + text[i + 1 :]), RU)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


_SHORT_PATHS = _paths(_SHORT)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(_SHORT_PATHS), _JSON)
def test_open_envelope_raises_only_molink_errors_on_altered_structure(
    path: tuple[Any, ...], value: Any
) -> None:
    """A typed error, or - for members nobody reads, like epk.kty - the very same content."""
    try:
        opened = open_as(_with(_SHORT, path, value), RU)
    except MolinkError:
        return
    assert opened == open_as(_SHORT, RU)
    assert path[-1] in _UNREAD_MEMBERS, path


_UNREAD_MEMBERS = {"kty"}


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*_SHORT, "x"]), _JSON, max_size=8) | _JSON)
def test_open_envelope_raises_only_molink_errors_on_random_input(value: Any) -> None:
    with pytest.raises(MolinkError):
        open_as(value, RU)


@settings(max_examples=400)
@given(st.dictionaries(st.sampled_from([*ROUTED_FIELDS, "x"]), _JSON, max_size=7) | _JSON)
def test_read_routing_raises_only_malformed_data(routing: Any) -> None:
    try:
        aad = b64url_encode(canonical_json(routing))
    except InvalidInput:
        return
    try:
        parsed = read_routing({"aad": aad})
    except MalformedData:
        return
    assert parsed.to_json() == routing


# --- molink's own vectors --------------------------------------------------------------


def test_vector_file_regenerates_exactly() -> None:
    assert generate.render() == generate.PATH.read_text(encoding="utf-8"), (
        "the wire format changed: if intended, run `.venv/bin/python -m tests.vectors.generate`"
        " and record the change in docs/formats.md"
    )


def test_vector_file_opens_and_verifies() -> None:
    vectors = json.loads(generate.PATH.read_text(encoding="utf-8"))
    now = datetime.fromisoformat(vectors["now"])
    envelope = vectors["envelope"]
    for party in ("RU", "UA"):
        opened = open_as(envelope, fixed_keys(party), now=now)
        assert opened.signed.jws.text == vectors["message"]["jws"]
        assert opened.signed.payload == vectors["message"]["payload"]
        assert opened.signed.sha256 == vectors["message"]["jws_sha256"]
        assert opened.routing.to_json() == vectors["routing"]
    with pytest.raises(WrongRecipient):
        open_as(envelope, AE, now=now)
    for party, data in vectors["parties"].items():
        keys = PartyKeys.from_seeds(
            party, bytes.fromhex(data["sig_seed"]), bytes.fromhex(data["enc_seed"])
        )
        assert keys.public.jwks() == data["jwks"]
    ack = verify_signed(vectors["ack"]["jws"], DIR)
    assert ack.payload["ref_sha256"] == vectors["message"]["jws_sha256"]
