"""Derived key material is computed once and cannot be changed through what is returned;
party ids are checked by a regular expression equal to their definition."""

from __future__ import annotations

import pickle

from molink.core.keys import PartyKeys, PartyPublicKeys, is_party_id, jwk_thumbprint
from tests.vectors.generate import fixed_keys


def test_public_is_derived_once_and_equals_a_fresh_derivation() -> None:
    keys = fixed_keys("US")
    assert keys.public is keys.public
    fresh = PartyKeys.from_seeds("US", *keys.seeds()).public
    assert fresh == keys.public
    assert hash(fresh) == hash(keys.public)


def test_kids_are_the_thumbprints_of_the_keys() -> None:
    public = fixed_keys("RU").public
    for jwk, kid in ((public.sig_jwk, public.sig_kid), (public.enc_jwk, public.enc_kid)):
        assert kid == jwk["kid"] == jwk_thumbprint(jwk)


def test_returned_jwks_are_copies() -> None:
    public = fixed_keys("RU").public
    kid = public.sig_kid
    public.sig_jwk["kid"] = "changed"
    public.enc_jwk["x"] = "changed"
    public.jwks()["keys"][0]["kid"] = "changed"
    assert public.sig_kid == kid
    assert public.sig_jwk["kid"] == kid
    assert public.enc_jwk["x"] != "changed"


def test_caches_stay_out_of_equality_repr_and_pickling() -> None:
    public = fixed_keys("AE").public
    copy = PartyPublicKeys(public.party, public.sig_public, public.enc_public)
    assert copy == public
    assert repr(copy) == (
        f"PartyPublicKeys(party='AE', sig_public={public.sig_public!r}, "
        f"enc_public={public.enc_public!r})"
    )
    assert "_public" not in repr(fixed_keys("AE"))
    again = pickle.loads(pickle.dumps(public))
    assert again == public
    assert again.sig_kid == public.sig_kid
    other = fixed_keys("AE", generation=1).public
    assert other != public
    assert other.sig_kid != public.sig_kid


def _reference_is_party_id(value: str) -> bool:
    return 2 <= len(value) <= 16 and all(
        c.isascii() and (c.isupper() or c.isdigit() or c == "-") for c in value
    )


def test_is_party_id_matches_its_definition() -> None:
    chars = [chr(c) for c in range(0x300)] + ["\u0410", "\u2028", "\uff21", "\U0001f600"]
    for char in chars:
        for text in (char * 2, "U" + char, char + "S", "US" + char, char * 16, char * 17, char):
            assert is_party_id(text) == _reference_is_party_id(text), repr(text)
    for text in ("", "U", "US", "A-1", "-" * 16, "A" * 17, "US\n", "\nUS", "us", "U S"):
        assert is_party_id(text) == _reference_is_party_id(text), repr(text)
