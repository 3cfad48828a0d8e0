"""Key rotation announcements (core): a round trip, and every way to get one wrong."""

from __future__ import annotations

from typing import Any

import pytest

from molink.core.b64 import b64url_encode
from molink.core.keyrotation import read_rotation, rotation_fields, rotation_statement
from molink.core.keys import PartyKeys
from molink.errors import MalformedData, SignatureInvalid

OLD = PartyKeys.generate("US")
NEW = PartyKeys.generate("US")


def _fields(**changes: Any) -> dict[str, Any]:
    return {**rotation_fields(OLD, NEW), **changes}


def test_round_trip_names_the_new_keys() -> None:
    new = read_rotation("US", OLD.public.sig_kid, rotation_fields(OLD, NEW))
    assert new == NEW.public
    assert new.sig_kid == NEW.public.sig_kid
    assert new.enc_kid == NEW.public.enc_kid


def test_the_proof_covers_party_old_key_and_both_new_keys() -> None:
    statement = rotation_statement("US", OLD.public.sig_kid, NEW.public).decode()
    for part in ("US", OLD.public.sig_kid, NEW.public.sig_kid, NEW.public.enc_kid):
        assert part in statement


def test_it_must_be_signed_by_the_key_it_retires() -> None:
    with pytest.raises(MalformedData, match="signed by the key it retires"):
        read_rotation("US", NEW.public.sig_kid, rotation_fields(OLD, NEW))


def test_a_proof_by_another_key_is_refused_with_evidence() -> None:
    other = PartyKeys.generate("US")
    forged = other.sig_private.sign(rotation_statement("US", OLD.public.sig_kid, NEW.public))
    with pytest.raises(SignatureInvalid) as caught:
        read_rotation("US", OLD.public.sig_kid, _fields(proof=b64url_encode(forged)))
    assert caught.value.evidence["sig_kid"] == NEW.public.sig_kid


def test_a_proof_for_another_party_does_not_transfer() -> None:
    with pytest.raises((SignatureInvalid, MalformedData)):
        read_rotation("RU", OLD.public.sig_kid, rotation_fields(OLD, NEW))


@pytest.mark.parametrize(
    "bad",
    [
        {"proof": None},
        {"proof": "!!"},
        {"sig_jwk": "not a jwk"},
        {"enc_jwk": OLD.public.sig_jwk},
        {"sig_jwk": NEW.public.enc_jwk},
        {"sig_jwk": {**NEW.public.sig_jwk, "kid": OLD.public.sig_kid}},
        {"sig_jwk": OLD.public.sig_jwk},
    ],
)
def test_malformed_fields_are_malformed_data(bad: dict[str, Any]) -> None:
    with pytest.raises(MalformedData):
        read_rotation("US", OLD.public.sig_kid, _fields(**bad))


def test_missing_fields_are_named() -> None:
    fields = _fields()
    del fields["proof"]
    with pytest.raises(MalformedData, match="proof"):
        read_rotation("US", OLD.public.sig_kid, fields)


def test_building_refuses_nonsense() -> None:
    with pytest.raises(MalformedData):
        rotation_fields(OLD, OLD)
    with pytest.raises(MalformedData):
        rotation_fields(OLD, PartyKeys.generate("RU"))
