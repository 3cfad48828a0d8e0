"""Party keys, JWKs, RFC 7638 thumbprints and fingerprints (molink/core/keys.py)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molink.core.b64 import b64url_decode, b64url_encode
from molink.core.canonical import canonical_json
from molink.core.keys import PartyKeys, PartyPublicKeys, fingerprint, is_party_id, jwk_thumbprint
from molink.errors import InvalidInput, MalformedData
from tests.vectors.generate import fixed_keys

VECTORS = Path(__file__).parents[1] / "vectors"
RFC8032 = json.loads((VECTORS / "rfc8032_ed25519.json").read_text())["vectors"]
RFC8037 = json.loads((VECTORS / "rfc8037_ed25519.json").read_text())
RFC7638 = json.loads((VECTORS / "rfc7638_rsa.json").read_text())
ENC_SEED = bytes(range(32))


# --- RFC 8032 §7.1 ---------------------------------------------------------------------


@pytest.mark.parametrize("vector", RFC8032, ids=[v["name"] for v in RFC8032])
def test_rfc8032_ed25519(vector: dict[str, str]) -> None:
    keys = PartyKeys.from_seeds("US", bytes.fromhex(vector["secret_key"]), ENC_SEED)
    message = bytes.fromhex(vector["message"])
    signature = bytes.fromhex(vector["signature"])
    assert keys.public.sig_public.hex() == vector["public_key"]
    assert keys.sign(message) == signature
    assert keys.public.verify(signature, message)


@pytest.mark.parametrize("vector", RFC8032, ids=[v["name"] for v in RFC8032])
def test_rfc8032_altered_inputs_fail(vector: dict[str, str]) -> None:
    public = PartyKeys.from_seeds("US", bytes.fromhex(vector["secret_key"]), ENC_SEED).public
    message = bytes.fromhex(vector["message"])
    signature = bytes.fromhex(vector["signature"])
    for i in (0, 31, 32, 63):
        bad = bytearray(signature)
        bad[i] ^= 0x01
        assert not public.verify(bytes(bad), message)
    assert not public.verify(signature, message + b"\x00")
    other = PartyKeys.from_seeds("US", bytes(32), ENC_SEED).public
    assert not other.verify(signature, message)


# --- RFC 8037 Appendix A and RFC 7638 §3.1 ---------------------------------------------


def _rfc8037_keys() -> PartyKeys:
    return PartyKeys.from_seeds("US", b64url_decode(RFC8037["private_jwk"]["d"]), ENC_SEED)


def test_rfc8037_a1_a2_jwk() -> None:
    keys = _rfc8037_keys()
    jwk = keys.public.sig_jwk
    assert {k: jwk[k] for k in ("kty", "crv", "x")} == RFC8037["public_jwk"]
    private = keys.sig_private_jwk()
    assert {k: private[k] for k in ("kty", "crv", "d", "x")} == RFC8037["private_jwk"]


def test_rfc8037_a3_thumbprint() -> None:
    members = {k: RFC8037["public_jwk"][k] for k in ("crv", "kty", "x")}
    assert canonical_json(members).decode() == RFC8037["thumbprint_input"]
    assert hashlib.sha256(canonical_json(members)).hexdigest() == RFC8037["thumbprint_sha256"]
    assert jwk_thumbprint(RFC8037["public_jwk"]) == RFC8037["thumbprint"]
    assert jwk_thumbprint(RFC8037["private_jwk"]) == RFC8037["thumbprint"]
    assert _rfc8037_keys().public.sig_kid == RFC8037["thumbprint"]


def test_rfc7638_rsa_thumbprint() -> None:
    jwk = RFC7638["jwk"]
    assert (
        canonical_json({k: jwk[k] for k in ("e", "kty", "n")}).decode()
        == (RFC7638["thumbprint_input"])
    )
    assert jwk_thumbprint(jwk) == RFC7638["thumbprint"]


def test_thumbprint_ignores_optional_members_but_not_key_material() -> None:
    base = dict(RFC8037["public_jwk"])
    extended = {**base, "kid": "anything", "use": "sig", "alg": "EdDSA", "d": "secret"}
    assert jwk_thumbprint(extended) == jwk_thumbprint(base)
    flipped = bytearray(b64url_decode(base["x"]))
    flipped[0] ^= 1
    assert jwk_thumbprint({**base, "x": b64url_encode(bytes(flipped))}) != jwk_thumbprint(base)
    assert jwk_thumbprint({**base, "crv": "X25519"}) != jwk_thumbprint(base)


def test_thumbprint_of_ec_and_oct_keys() -> None:
    ec = {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"}
    ec["y"] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
    expected = b64url_encode(hashlib.sha256(canonical_json(ec)).digest())
    assert jwk_thumbprint({**ec, "use": "sig"}) == expected
    assert jwk_thumbprint({"kty": "oct", "k": "AAAA"}) == b64url_encode(
        hashlib.sha256(b'{"k":"AAAA","kty":"oct"}').digest()
    )


@pytest.mark.parametrize(
    "jwk",
    [
        {},
        {"kty": "XYZ"},
        {"kty": None},
        {"kty": []},  # regression: used to raise TypeError (unhashable)
        {"kty": {"a": 1}},
        {"kty": "OKP", "crv": "Ed25519"},
        {"kty": "RSA", "n": "AQAB"},
        {"kty": "EC", "crv": "P-256", "x": "AA"},
    ],
)
def test_thumbprint_refuses_bad_jwk(jwk: dict[str, Any]) -> None:
    with pytest.raises(MalformedData):
        jwk_thumbprint(jwk)


# --- PartyPublicKeys / PartyKeys -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("US", True),
        ("RU", True),
        ("NATO-2", True),
        ("A" * 16, True),
        ("U", False),
        ("A" * 17, False),
        ("us", False),
        ("U S", False),
        ("U_S", False),
        ("ÜS", False),
        ("", False),
    ],
)
def test_is_party_id(value: str, ok: bool) -> None:
    assert is_party_id(value) is ok


def test_public_keys_validate() -> None:
    good = fixed_keys("US").public
    with pytest.raises(InvalidInput):
        PartyPublicKeys(party="us", sig_public=good.sig_public, enc_public=good.enc_public)
    with pytest.raises(MalformedData):
        PartyPublicKeys(party="US", sig_public=good.sig_public[:31], enc_public=good.enc_public)
    with pytest.raises(MalformedData):
        PartyPublicKeys(party="US", sig_public=good.sig_public, enc_public=good.enc_public + b"\0")


def test_jwks_shape() -> None:
    public = fixed_keys("US").public
    sig, enc = public.jwks()["keys"]
    assert sig == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url_encode(public.sig_public),
        "kid": public.sig_kid,
        "use": "sig",
        "alg": "Ed25519",
    }
    assert enc == {
        "kty": "OKP",
        "crv": "X25519",
        "x": b64url_encode(public.enc_public),
        "kid": public.enc_kid,
        "use": "enc",
        "alg": "ECDH-ES+A256KW",
    }
    assert public.sig_kid == jwk_thumbprint(sig)
    assert public.enc_kid == jwk_thumbprint(enc)
    assert public.sig_kid != public.enc_kid


def test_jwks_round_trip() -> None:
    public = fixed_keys("RU").public
    assert PartyPublicKeys.from_jwks("RU", public.jwks()) == public
    reordered = {"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}, *reversed(public.jwks()["keys"])]}
    assert PartyPublicKeys.from_jwks("RU", reordered) == public
    without_kids = {"keys": [{k: v for k, v in j.items() if k != "kid"} for j in reordered["keys"]]}
    assert PartyPublicKeys.from_jwks("RU", without_kids) == public


@pytest.mark.parametrize(
    "mutate",
    [
        lambda j: {},
        lambda j: {"keys": "nope"},
        lambda j: {"keys": j["keys"][:1]},
        lambda j: {"keys": j["keys"][1:]},
        lambda j: {"keys": [{**j["keys"][0], "kid": "wrong"}, j["keys"][1]]},
        lambda j: {"keys": [j["keys"][0], {**j["keys"][1], "x": "AAAA"}]},
        lambda j: {"keys": [j["keys"][0], {**j["keys"][1], "x": "not base64!"}]},
    ],
)
def test_from_jwks_refuses(mutate: Any) -> None:
    with pytest.raises(MalformedData):
        PartyPublicKeys.from_jwks("RU", mutate(fixed_keys("RU").public.jwks()))


def test_from_seeds_and_seeds_round_trip() -> None:
    keys = fixed_keys("UA")
    sig_seed, enc_seed = keys.seeds()
    again = PartyKeys.from_seeds("UA", sig_seed, enc_seed)
    assert again.public == keys.public
    assert again.sign(b"x") == keys.sign(b"x")  # Ed25519 is deterministic
    assert keys.sig_private_jwk()["d"] == b64url_encode(sig_seed)
    assert keys.enc_private_jwk()["d"] == b64url_encode(enc_seed)
    assert keys.enc_private_jwk()["x"] == b64url_encode(keys.public.enc_public)


@pytest.mark.parametrize(("sig", "enc"), [(31, 32), (32, 33), (0, 0)])
def test_from_seeds_refuses_wrong_lengths(sig: int, enc: int) -> None:
    with pytest.raises(InvalidInput):
        PartyKeys.from_seeds("US", bytes(sig), bytes(enc))


def test_generate_gives_fresh_keys() -> None:
    a, b = PartyKeys.generate("US"), PartyKeys.generate("US")
    assert a.public != b.public
    assert a.public.verify(a.sign(b"m"), b"m")


# --- fingerprints ----------------------------------------------------------------------


def test_fingerprint_format_and_stability() -> None:
    public = fixed_keys("US").public
    text = fingerprint(public)
    assert re.fullmatch(r"\d{5}( \d{5}){7}", text)
    assert fingerprint(fixed_keys("US").public) == text
    vectors = json.loads((VECTORS / "molink_envelope_v1.json").read_text(encoding="utf-8"))
    assert vectors["parties"]["US"]["fingerprint"] == text


def test_fingerprint_commits_to_party_and_both_keys() -> None:
    us, rotated = fixed_keys("US").public, fixed_keys("US", generation=1).public
    base = fingerprint(us)
    assert fingerprint(PartyPublicKeys("RU", us.sig_public, us.enc_public)) != base
    assert fingerprint(PartyPublicKeys("US", rotated.sig_public, us.enc_public)) != base
    assert fingerprint(PartyPublicKeys("US", us.sig_public, rotated.enc_public)) != base


@settings(max_examples=100)
@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_any_seed_signs_and_verifies(sig_seed: bytes, enc_seed: bytes) -> None:
    keys = PartyKeys.from_seeds("AE", sig_seed, enc_seed)
    assert keys.public.verify(keys.sign(b"msg"), b"msg")
    assert PartyPublicKeys.from_jwks("AE", keys.public.jwks()) == keys.public
