"""``sign_and_seal`` and ``CompactJws.sign``: the signing path that skips re-parsing.

They must give exactly the bytes of ``seal(sign_object(...))`` and ``jws_sign``, and a
value equal to what parsing and verifying those bytes gives.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from molink.core.canonical import canonical_json
from molink.core.envelope import JWS_TYP, open_envelope, seal, sign_and_seal, sign_object
from molink.core.jose import CompactJws, jws_parse, jws_sign
from molink.core.message import ack_fields, message_fields
from molink.core.precedence import Precedence
from molink.errors import InvalidInput, UnknownPeer
from tests.vectors.generate import directory, drbg, fixed_keys

NOW = datetime(2026, 2, 5, 10, 0, tzinfo=UTC)
US, RU, UA = (fixed_keys(p) for p in ("US", "RU", "UA"))
DIR = directory("US", "RU", "UA")
ID = "01947a6e-2000-7000-8000-000000000001"


def _args(**change: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "type": "message",
        "id": ID,
        "to": ["RU", "UA"],
        "channel": "hotline",
        "seq": 7,
        "created": NOW,
        "precedence": Precedence.FLASH,
        "fields": message_fields(subject="Тема", body='Тело\n"x"\\ \u2028 😀', lang="ru"),
    }
    return {**args, **change}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"to": ["RU"], "precedence": Precedence.ROUTINE, "seq": 0},
        {
            "type": "ack",
            "fields": ack_fields(ref=ID, ref_sha256="0" * 64, operator="o", terminal="t"),
        },
    ],
)
def test_same_bytes_as_sign_object_then_seal(change: dict[str, Any]) -> None:
    signed, envelope = sign_and_seal(US, DIR, **_args(**change), random=drbg("seal"))
    jws = sign_object(US, **_args(**change))
    assert signed.jws.text == jws
    assert envelope == seal(jws, DIR, random=drbg("seal"))
    assert signed.sha256 == jws_parse(jws).sha256
    assert signed.signer == US.public
    opened = open_envelope(envelope, me=RU, directory=DIR, now=NOW, max_skew=NOW - NOW)
    assert opened.signed.jws == signed.jws
    assert opened.signed.payload == signed.payload
    assert opened.routing == signed.routing()


def test_compact_jws_sign_equals_parsing_jws_sign() -> None:
    payload = canonical_json({"a": "ж" * 1000, "b": [1, 2.5, None]})
    for typ in (JWS_TYP, "molink+receipt"):
        built = CompactJws.sign(payload, US.sig_private, kid=US.public.sig_kid, typ=typ)
        text = jws_sign(payload, US.sig_private, kid=US.public.sig_kid, typ=typ)
        assert built == jws_parse(text)
        built.verify(US.public.sig_public)


def test_refuses_invalid_input_and_unknown_recipients() -> None:
    with pytest.raises(InvalidInput):
        sign_and_seal(US, DIR, **_args(channel=""))
    with pytest.raises(UnknownPeer):
        sign_and_seal(US, DIR, **_args(to=["AE"]))
