"""Compact JWS (Ed25519) and general-JSON JWE (ECDH-ES+A256KW, A256GCM): molink/core/jose.py.

Includes interoperability in both directions with two independent libraries,
joserfc and jwcrypto, and RFC 8037 Appendix A.4/A.5.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwe as rfc_jwe
from joserfc import jws as rfc_jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import KeySet, OKPKey
from jwcrypto import jwe as cry_jwe
from jwcrypto import jwk as cry_jwk
from jwcrypto import jws as cry_jws

from molink.core.b64 import b64url_decode, b64url_encode
from molink.core.canonical import canonical_json
from molink.core.jose import (
    JWE_ALG,
    JWE_ENC,
    JWS_ALG,
    CompactJws,
    JweRecipientKey,
    jwe_open,
    jwe_seal,
    jws_parse,
    jws_sign,
)
from molink.core.keys import PartyKeys
from molink.errors import (
    DecryptionFailed,
    MalformedData,
    MolinkError,
    SignatureInvalid,
    WrongRecipient,
)
from tests.vectors.generate import drbg, fixed_keys

VECTORS = Path(__file__).parents[1] / "vectors"
RFC8037 = json.loads((VECTORS / "rfc8037_ed25519.json").read_text())
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
JWE_ALGS = [JWE_ALG, JWE_ENC]

US, RU, UA = fixed_keys("US"), fixed_keys("RU"), fixed_keys("UA")


def _okp_key(jwk: Mapping[str, str]) -> OKPKey:
    members: dict[str, str | list[str]] = {**jwk}
    return OKPKey.import_key(members)


def _recipient(keys: PartyKeys) -> JweRecipientKey:
    return JweRecipientKey(kid=keys.public.enc_kid, public=keys.public.enc_public)


def _seal(plaintext: bytes, *parties: PartyKeys, aad: bytes = b'{"r":1}') -> dict[str, Any]:
    return jwe_seal(plaintext, [_recipient(p) for p in parties], aad=aad)


def _open(envelope: dict[str, Any], keys: PartyKeys) -> bytes:
    return jwe_open(envelope, kid=keys.public.enc_kid, private=keys.enc_private)


def _sign(payload: bytes = b'{"hello":"world"}') -> str:
    return jws_sign(payload, US.sig_private, kid=US.public.sig_kid, typ="molink+jws")


# --- RFC 8037 A.4 / A.5 ----------------------------------------------------------------


def test_rfc8037_a4_signature_with_raw_primitive() -> None:
    jws = RFC8037["jws"]
    head, body = jws["signing_input"].split(".")
    assert b64url_decode(head) == jws["protected_header"].encode()
    assert b64url_decode(body) == jws["payload"].encode()
    key = Ed25519PrivateKey.from_private_bytes(b64url_decode(RFC8037["private_jwk"]["d"]))
    assert b64url_encode(key.sign(jws["signing_input"].encode())) == jws["signature"]


def test_rfc8037_a5_compact_jws_parses_and_verifies() -> None:
    parsed = jws_parse(RFC8037["jws"]["compact"])
    assert parsed.header == {"alg": "EdDSA"}
    assert parsed.payload == RFC8037["jws"]["payload"].encode()
    assert parsed.signing_input == RFC8037["jws"]["signing_input"].encode()
    assert parsed.kid == ""
    parsed.verify(b64url_decode(RFC8037["public_jwk"]["x"]))
    with pytest.raises(SignatureInvalid):
        parsed.verify(US.public.sig_public)


# --- JWS -------------------------------------------------------------------------------


def test_jws_sign_writes_canonical_header() -> None:
    text = _sign()
    head, body, sig = text.split(".")
    assert b64url_decode(head) == canonical_json(
        {"alg": JWS_ALG, "kid": US.public.sig_kid, "typ": "molink+jws"}
    )
    assert b64url_decode(body) == b'{"hello":"world"}'
    assert len(b64url_decode(sig)) == 64
    parsed = jws_parse(text)
    assert parsed.kid == US.public.sig_kid
    assert parsed.text == text
    parsed.verify(US.public.sig_public)


def test_jws_verify_wrong_key_carries_evidence() -> None:
    text = _sign()
    with pytest.raises(SignatureInvalid) as info:
        jws_parse(text).verify(RU.public.sig_public)
    assert info.value.evidence == {"jws": text}


def test_jws_sha256_is_over_the_compact_text() -> None:
    import hashlib

    text = _sign()
    assert jws_parse(text).sha256 == hashlib.sha256(text.encode()).hexdigest()


def _jws_with_header(header: Any, payload: bytes = b"{}") -> str:
    head = b64url_encode(json.dumps(header).encode())
    body = b64url_encode(payload)
    sig = b64url_encode(US.sig_private.sign(f"{head}.{body}".encode()))
    return f"{head}.{body}.{sig}"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a.b",
        "a.b.c.d",
        "é.e30.AA",
        "x" * ((1 << 20) + 1),
        _jws_with_header({"alg": "none"}),
        _jws_with_header({"alg": "HS256"}),
        _jws_with_header({"alg": "ES256"}),
        _jws_with_header({"alg": "ed25519"}),
        _jws_with_header({"alg": []}),  # regression: TypeError (unhashable) leaked
        _jws_with_header({"alg": {"x": 1}}),
        _jws_with_header({}),
        _jws_with_header(["alg", "Ed25519"]),
        _jws_with_header({"alg": "Ed25519", "crit": ["b64"], "b64": False}),
        _jws_with_header({"alg": "Ed25519", "alg2": 1}).rsplit(".", 1)[0] + ".AAAA",
        _jws_with_header({"alg": "Ed25519"}).replace(".", "=.", 1),
    ],
)
def test_jws_parse_refuses(text: str) -> None:
    with pytest.raises(MalformedData):
        jws_parse(text)


def test_jws_parse_refuses_non_string() -> None:
    with pytest.raises(MalformedData):
        jws_parse(b"a.b.c")  # type: ignore[arg-type]


def test_compact_jws_kid_is_empty_unless_string() -> None:
    parsed = jws_parse(_jws_with_header({"alg": "Ed25519", "kid": 5}))
    assert isinstance(parsed, CompactJws)
    assert parsed.kid == ""


_JWS = _sign(canonical_json({"id": "x", "body": "flash traffic"}))


def _parse_and_verify(text: str) -> None:
    jws_parse(text).verify(US.public.sig_public)


@settings(max_examples=400)
@given(st.data())
def test_jws_any_changed_character_is_rejected(data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(_JWS) - 1))
    if _JWS[index] == ".":
        replacement = data.draw(st.sampled_from(B64URL))
    else:
        replacement = data.draw(st.sampled_from(B64URL + ".=").filter(lambda c: c != _JWS[index]))
    mutated = _JWS[:index] + replacement + _JWS[index + 1 :]
    with pytest.raises(MolinkError) as info:
        _parse_and_verify(mutated)
    assert isinstance(info.value, MalformedData | SignatureInvalid)


@settings(max_examples=300)
@given(st.integers(0, 2), st.integers(0, 10_000), st.integers(1, 255))
def test_jws_any_flipped_byte_is_rejected(segment: int, position: int, mask: int) -> None:
    parts = _JWS.split(".")
    raw = bytearray(b64url_decode(parts[segment]))
    raw[position % len(raw)] ^= mask
    parts[segment] = b64url_encode(bytes(raw))
    with pytest.raises((MalformedData, SignatureInvalid)):
        _parse_and_verify(".".join(parts))


@settings(max_examples=300)
@given(st.text(max_size=200) | st.builds(".".join, st.lists(st.text(B64URL), max_size=4)))
def test_jws_parse_raises_only_malformed_data(text: str) -> None:
    try:
        parsed = jws_parse(text)
    except MalformedData:
        return
    with pytest.raises(SignatureInvalid):
        parsed.verify(US.public.sig_public)


# --- JWE -------------------------------------------------------------------------------


def test_jwe_round_trip_to_several_recipients() -> None:
    envelope = _seal(b"secret", RU, UA, aad=b"routing")
    assert _open(envelope, RU) == b"secret"
    assert _open(envelope, UA) == b"secret"
    assert b64url_decode(envelope["aad"]) == b"routing"
    assert [r["header"]["kid"] for r in envelope["recipients"]] == [
        RU.public.enc_kid,
        UA.public.enc_kid,
    ]
    assert json.loads(b64url_decode(envelope["protected"])) == {
        "cty": "JOSE",
        "enc": JWE_ENC,
        "typ": "molink-env",
    }
    for entry in envelope["recipients"]:
        assert entry["header"]["alg"] == JWE_ALG
        assert entry["header"]["epk"]["crv"] == "X25519"


def test_jwe_is_deterministic_given_the_randomness() -> None:
    a = jwe_seal(b"m", [_recipient(RU)], aad=b"a", random=drbg("x"))
    b = jwe_seal(b"m", [_recipient(RU)], aad=b"a", random=drbg("x"))
    c = jwe_seal(b"m", [_recipient(RU)], aad=b"a", random=drbg("y"))
    assert a == b
    assert a != c


def test_jwe_fresh_ephemeral_key_per_recipient() -> None:
    envelope = _seal(b"m", RU, UA)
    epks = {r["header"]["epk"]["x"] for r in envelope["recipients"]}
    assert len(epks) == 2


def test_jwe_needs_a_recipient() -> None:
    with pytest.raises(MalformedData):
        jwe_seal(b"m", [], aad=b"")


def test_jwe_wrong_recipient() -> None:
    with pytest.raises(WrongRecipient):
        _open(_seal(b"m", RU), UA)


def test_jwe_right_kid_wrong_private_key_fails_decryption() -> None:
    envelope = _seal(b"m", RU)
    with pytest.raises(DecryptionFailed) as info:
        jwe_open(envelope, kid=RU.public.enc_kid, private=UA.enc_private)
    assert not isinstance(info.value, WrongRecipient)
    assert "envelope" in info.value.evidence


def _edit(envelope: dict[str, Any], path: Sequence[str | int], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(envelope)
    target: Any = out
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("protected",), _DELETE),
        (("protected",), 5),
        (("protected",), b64url_encode(b'{"enc":"A128GCM"}')),
        (("protected",), b64url_encode(b'{"enc":"A256GCM","zip":"DEF"}')),
        (("protected",), b64url_encode(b'{"enc":"A256GCM","crit":["x"],"x":1}')),
        (("protected",), b64url_encode(b"[]")),
        (("protected",), "!!"),
        (("recipients",), []),
        (("recipients",), {}),
        (("recipients",), [5]),
        (("recipients",), [{"header": "x"}]),
        (("recipients", 0, "header", "alg"), "ECDH-ES"),
        (("recipients", 0, "header", "epk"), _DELETE),
        (("recipients", 0, "header", "epk"), "x"),
        (("recipients", 0, "header", "epk", "crv"), "X448"),
        (("recipients", 0, "header", "epk", "x"), "AAAA"),
        (("recipients", 0, "header", "apu"), "!"),
        (("recipients", 0, "encrypted_key"), _DELETE),
        (("recipients", 0, "encrypted_key"), 7),
        (("iv",), _DELETE),
        (("ciphertext",), None),
        (("tag",), "A"),
    ],
)
def test_jwe_open_refuses_malformed(path: Sequence[str | int], value: Any) -> None:
    with pytest.raises(MalformedData):
        _open(_edit(_seal(b"m", RU), path, value), RU)


def test_jwe_open_refuses_too_many_recipients() -> None:
    envelope = _seal(b"m", RU)
    envelope["recipients"] = envelope["recipients"] * 65
    with pytest.raises(MalformedData):
        _open(envelope, RU)


def test_regression_epk_with_top_bit_set_is_refused() -> None:
    # X25519 ignores the top bit (RFC 7748 §5); this envelope used to open.
    envelope = _seal(b"m", RU)
    epk = bytearray(b64url_decode(envelope["recipients"][0]["header"]["epk"]["x"]))
    epk[31] ^= 0x80
    path = ("recipients", 0, "header", "epk", "x")
    with pytest.raises(MalformedData):
        _open(_edit(envelope, path, b64url_encode(bytes(epk))), RU)


def test_low_order_epk_fails_decryption() -> None:
    path = ("recipients", 0, "header", "epk", "x")
    with pytest.raises(DecryptionFailed):
        _open(_edit(_seal(b"m", RU), path, b64url_encode(bytes(32))), RU)


SEGMENTS: dict[str, tuple[str | int, ...]] = {
    "ciphertext": ("ciphertext",),
    "tag": ("tag",),
    "iv": ("iv",),
    "encrypted_key": ("recipients", 0, "encrypted_key"),
    "aad": ("aad",),
    "protected": ("protected",),
    "epk": ("recipients", 0, "header", "epk", "x"),
}


def _get(envelope: dict[str, Any], path: Sequence[str | int]) -> Any:
    target: Any = envelope
    for key in path:
        target = target[key]
    return target


def flip_byte(
    envelope: dict[str, Any], path: Sequence[str | int], position: int, mask: int
) -> dict[str, Any]:
    """``envelope`` with one byte of the base64url member at ``path`` XORed with ``mask``."""
    raw = bytearray(b64url_decode(_get(envelope, path)))
    raw[position % len(raw)] ^= mask
    return _edit(envelope, path, b64url_encode(bytes(raw)))


def change_char(
    envelope: dict[str, Any], path: Sequence[str | int], position: int, char: str
) -> dict[str, Any]:
    """``envelope`` with one character of the member at ``path`` replaced by ``char``."""
    text = _get(envelope, path)
    i = position % len(text)
    if text[i] == char:
        char = "A" if char != "A" else "B"
    return _edit(envelope, path, text[:i] + char + text[i + 1 :])


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(sorted(SEGMENTS)),
    st.integers(0, 10_000),
    st.integers(1, 255),
    st.binary(min_size=1, max_size=300),
)
def test_jwe_any_flipped_byte_is_rejected(
    segment: str, position: int, mask: int, plaintext: bytes
) -> None:
    envelope = _seal(plaintext, RU, UA)
    mutated = flip_byte(envelope, SEGMENTS[segment], position, mask)
    expected: type[MolinkError] = DecryptionFailed
    if segment in ("protected", "epk"):
        expected = MolinkError
    with pytest.raises(expected):
        _open(mutated, RU)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(SEGMENTS)), st.integers(0, 10_000), st.sampled_from(B64URL + "=.+/"))
def test_jwe_any_changed_character_is_rejected(segment: str, position: int, char: str) -> None:
    envelope = _seal(b"flash traffic", RU)
    with pytest.raises(MolinkError):
        _open(change_char(envelope, SEGMENTS[segment], position, char), RU)


# --- interoperability: joserfc and jwcrypto, both directions ---------------------------


def test_interop_our_jws_verifies_with_joserfc() -> None:
    text = _sign()
    key = _okp_key(US.public.sig_jwk)
    obj = rfc_jws.deserialize_compact(text, key, algorithms=[JWS_ALG])
    assert obj.payload == b'{"hello":"world"}'
    assert obj.headers()["kid"] == US.public.sig_kid


def test_interop_our_jws_verifies_with_jwcrypto() -> None:
    token = cry_jws.JWS()
    token.deserialize(_sign())
    token.verify(cry_jwk.JWK(**US.public.sig_jwk), alg=JWS_ALG)
    assert token.payload == b'{"hello":"world"}'


def test_interop_joserfc_jws_verifies_with_ours() -> None:
    key = _okp_key(US.sig_private_jwk())
    header = {"alg": JWS_ALG, "kid": US.public.sig_kid}
    text = rfc_jws.serialize_compact(header, b"from joserfc", key, algorithms=[JWS_ALG])
    parsed = jws_parse(text)
    parsed.verify(US.public.sig_public)
    assert parsed.payload == b"from joserfc"
    assert parsed.kid == US.public.sig_kid


def test_interop_jwcrypto_jws_verifies_with_ours() -> None:
    token = cry_jws.JWS(b"from jwcrypto")
    header = json.dumps({"alg": JWS_ALG, "kid": US.public.sig_kid})
    token.add_signature(cry_jwk.JWK(**US.sig_private_jwk()), alg=JWS_ALG, protected=header)
    parsed = jws_parse(token.serialize(compact=True))
    parsed.verify(US.public.sig_public)
    assert parsed.payload == b"from jwcrypto"


def test_interop_rfc8037_eddsa_jws_verifies_with_ours_and_joserfc() -> None:
    compact = RFC8037["jws"]["compact"]
    jws_parse(compact).verify(b64url_decode(RFC8037["public_jwk"]["x"]))
    key = _okp_key(RFC8037["public_jwk"])
    # joserfc accepts the RFC's EdDSA but warns: it is deprecated by RFC 9864 (ADR 0001).
    with pytest.warns(SecurityWarning, match="RFC 9864"):
        obj = rfc_jws.deserialize_compact(compact, key, algorithms=["EdDSA"])
    assert obj.payload == b"Example of Ed25519 signing"


def test_interop_our_jwe_decrypts_with_joserfc() -> None:
    envelope = _seal(b"sealed by molink", RU, aad=b'{"route":"RU"}')
    key = _okp_key(RU.enc_private_jwk())
    obj = rfc_jwe.decrypt_json(cast(Any, envelope), key, algorithms=JWE_ALGS)
    assert obj.plaintext == b"sealed by molink"
    assert obj.aad == b'{"route":"RU"}'


def test_interop_our_multi_recipient_jwe_decrypts_with_joserfc() -> None:
    envelope = _seal(b"to two parties", RU, UA)
    keys = KeySet([_okp_key(k.enc_private_jwk()) for k in (RU, UA)])
    assert rfc_jwe.decrypt_json(cast(Any, envelope), keys, algorithms=JWE_ALGS).plaintext == (
        b"to two parties"
    )
    # A recipient holding only its own key reads its own entry.
    own = {**envelope, "recipients": envelope["recipients"][1:]}
    key = _okp_key(UA.enc_private_jwk())
    assert (
        rfc_jwe.decrypt_json(cast(Any, own), key, algorithms=JWE_ALGS).plaintext
        == b"to two parties"
    )


@pytest.mark.parametrize("reader", [RU, UA])
def test_interop_our_jwe_decrypts_with_jwcrypto(reader: PartyKeys) -> None:
    envelope = _seal(b"sealed by molink", RU, UA, aad=b'{"route":"RU"}')
    token = cry_jwe.JWE()
    token.deserialize(json.dumps(envelope), cry_jwk.JWK(**reader.enc_private_jwk()))
    assert token.payload == b"sealed by molink"


def _joserfc_jwe(plaintext: bytes, header: dict[str, str], aad: bytes | None) -> dict[str, Any]:
    obj = rfc_jwe.GeneralJSONEncryption({"enc": JWE_ENC}, plaintext, aad=aad)
    obj.add_recipient(
        {"alg": JWE_ALG, "kid": RU.public.enc_kid, **header},
        _okp_key(RU.public.enc_jwk),
    )
    return dict(rfc_jwe.encrypt_json(obj, None, algorithms=JWE_ALGS))


@pytest.mark.parametrize(
    ("header", "aad"),
    [({}, b'{"route":"RU"}'), ({}, None), ({"apu": "QWxpY2U", "apv": "Qm9i"}, b"x")],
    ids=["aad", "no-aad", "apu-apv"],
)
def test_interop_joserfc_jwe_opens_with_ours(header: dict[str, str], aad: bytes | None) -> None:
    envelope = _joserfc_jwe(b"sealed by joserfc", header, aad)
    assert _open(envelope, RU) == b"sealed by joserfc"
    with pytest.raises(DecryptionFailed):
        _open(flip_byte(envelope, ("ciphertext",), 0, 1), RU)


def test_interop_jwcrypto_jwe_opens_with_ours() -> None:
    # Two recipients, so jwcrypto writes the general JSON serialisation (RFC 7516 §7.2.1).
    token = cry_jwe.JWE(
        b"sealed by jwcrypto", protected=json.dumps({"enc": JWE_ENC}), aad=b'{"route":"RU"}'
    )
    for party in (RU, UA):
        header = json.dumps({"alg": JWE_ALG, "kid": party.public.enc_kid})
        token.add_recipient(cry_jwk.JWK(**party.public.enc_jwk), header=header)
    envelope = json.loads(token.serialize())
    assert "recipients" in envelope
    assert _open(envelope, RU) == b"sealed by jwcrypto"
    assert _open(envelope, UA) == b"sealed by jwcrypto"
