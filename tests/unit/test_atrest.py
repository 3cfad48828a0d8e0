"""Secrets sealed at rest under a key derived from the party's seed (molink/core/atrest.py)."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from molink.core.atrest import PREFIX, at_rest_key, is_sealed, open_at_rest, seal_at_rest
from molink.core.keys import PartyKeys
from molink.errors import StorageError

US = PartyKeys.generate("US")
KEY = at_rest_key(US, "totp")


def test_round_trip_and_form() -> None:
    sealed = seal_at_rest(KEY, "JBSWY3DPEHPK3PXP", aad="operator:duty-1", random=os.urandom)
    assert sealed.startswith(PREFIX)
    assert is_sealed(sealed)
    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert open_at_rest([KEY], sealed, aad="operator:duty-1") == "JBSWY3DPEHPK3PXP"


def test_the_key_depends_on_party_and_purpose_and_nothing_else() -> None:
    assert at_rest_key(US, "totp") == KEY  # deterministic: a restart opens what was sealed
    assert at_rest_key(US, "other") != KEY
    assert at_rest_key(PartyKeys.generate("US"), "totp") != KEY
    assert len(KEY) == 32


def test_another_row_another_party_or_a_damaged_value_does_not_open() -> None:
    sealed = seal_at_rest(KEY, "secret", aad="operator:duty-1", random=os.urandom)
    with pytest.raises(StorageError):
        open_at_rest([KEY], sealed, aad="operator:duty-2")  # copied onto another row
    with pytest.raises(StorageError):
        open_at_rest([at_rest_key(PartyKeys.generate("RU"), "totp")], sealed, aad="operator:duty-1")
    for damaged in (sealed[:-2], sealed[:-1] + ("A" if sealed[-1] != "A" else "B"), PREFIX, "x"):
        with pytest.raises(StorageError):
            open_at_rest([KEY], damaged, aad="operator:duty-1")


def test_a_retired_key_still_opens_what_it_sealed() -> None:
    old = at_rest_key(PartyKeys.generate("US"), "totp")
    sealed = seal_at_rest(old, "secret", aad="a", random=os.urandom)
    assert open_at_rest([KEY, old], sealed, aad="a") == "secret"


@given(st.text(max_size=200), st.text(max_size=50))
def test_any_text_round_trips(plaintext: str, aad: str) -> None:
    sealed = seal_at_rest(KEY, plaintext, aad=aad, random=os.urandom)
    assert open_at_rest([KEY], sealed, aad=aad) == plaintext


@given(st.text(max_size=120))
def test_opening_anything_raises_only_storage_error(value: str) -> None:
    with contextlib.suppress(StorageError):
        open_at_rest([KEY], PREFIX + value, aad="a")
