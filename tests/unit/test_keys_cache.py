"""Derived key material is computed once and cannot be changed through what is returned."""

from __future__ import annotations

import pickle

from molink.core.keys import PartyKeys, PartyPublicKeys, jwk_thumbprint
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
