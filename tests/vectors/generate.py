"""Generate ``molink_envelope_v1.json``: molink's own known-answer vectors.

Everything is derived from fixed seeds and a deterministic byte stream, so the
output is reproducible byte for byte. ``tests/unit/test_envelope.py`` regenerates
the file and compares it, so any change to the wire format shows up as a diff
(python-tuf ``tests/generated_data/`` style).

Run from the repository root after an intended format change::

    .venv/bin/python -m tests.vectors.generate
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from molink.core.canonical import canonical_json, parse_json
from molink.core.dtg import format_dtg, format_utc
from molink.core.envelope import Directory, open_envelope, read_routing, seal, sign_object
from molink.core.ids import uuid7
from molink.core.jose import Random, jws_parse
from molink.core.keyfile import encrypt_keyfile
from molink.core.keys import PartyKeys, fingerprint
from molink.core.message import ack_fields, message_fields
from molink.core.precedence import Precedence
from molink.core.receipt import make_receipt

PATH = Path(__file__).with_name("molink_envelope_v1.json")
PARTIES = ("US", "RU", "UA", "AE")
NOW = datetime(2026, 2, 5, 10, 0, 0, 123_000, tzinfo=UTC)
KEYFILE_PASSPHRASE = "correct horse battery staple"
KEYFILE_N = 2**14


def drbg(label: str) -> Random:
    """A deterministic ``os.urandom`` stand-in: SHA-256 in counter mode over ``label``."""
    counter = itertools.count()

    def random(n: int) -> bytes:
        out = b""
        while len(out) < n:
            block = next(counter).to_bytes(8, "big")
            out += hashlib.sha256(f"molink-test-drbg/{label}/".encode() + block).digest()
        return out[:n]

    return random


def fixed_keys(party: str, generation: int = 0) -> PartyKeys:
    """The test key pair of ``party``; ``generation`` > 0 gives a rotated (different) key."""
    seed = drbg(f"keys/{party}/{generation}")
    return PartyKeys.from_seeds(party, seed(32), seed(32))


def directory(*parties: str) -> Directory:
    return Directory(fixed_keys(p).public for p in parties)


def build() -> dict[str, Any]:
    """Build the vector document (a plain JSON value)."""
    keys = {p: fixed_keys(p) for p in PARTIES}
    dirs = directory(*PARTIES)
    us, ru = keys["US"], keys["RU"]
    msg_id = uuid7(NOW, drbg("ids")(10))
    jws = sign_object(
        us,
        type="message",
        id=msg_id,
        to=["RU", "UA"],
        channel="us-ru-ua-hotline",
        seq=7,
        created=NOW,
        precedence=Precedence.FLASH,
        fields=message_fields(
            subject="Test message / Тестовое сообщение",
            body="Unplanned launch window 1000Z-1030Z. Acknowledge.\nЭто тест.",
            lang="en",
        ),
    )
    envelope = seal(jws, dirs, random=drbg("seal"))
    opened = open_envelope(envelope, me=ru, directory=dirs, now=NOW, max_skew=timedelta(0))
    ack = sign_object(
        ru,
        type="ack",
        id=uuid7(NOW + timedelta(minutes=3), drbg("ack-id")(10)),
        to=["US"],
        channel="us-ru-ua-hotline",
        seq=1,
        created=NOW + timedelta(minutes=3),
        precedence=Precedence.FLASH,
        fields=ack_fields(
            ref=msg_id, ref_sha256=opened.signed.sha256, operator="op-7f3a", terminal="ru-term-1"
        ),
    )
    receipt = make_receipt(
        ru,
        message_id=msg_id,
        jws_sha256=opened.signed.sha256,
        sender="US",
        received=NOW + timedelta(seconds=1),
        log_origin="molink.example/RU/log",
        log_index=12,
    )
    keyfile = encrypt_keyfile(us, KEYFILE_PASSPHRASE, n=KEYFILE_N, random=drbg("keyfile"))
    return {
        "description": (
            "molink signed object, envelope, acknowledgement, receipt and key file, made from "
            "fixed keys and deterministic randomness by tests/vectors/generate.py"
        ),
        "now": format_utc(NOW),
        "now_dtg": format_dtg(NOW),
        "parties": {
            p: {
                "sig_seed": k.seeds()[0].hex(),
                "enc_seed": k.seeds()[1].hex(),
                "jwks": k.public.jwks(),
                "fingerprint": fingerprint(k.public),
            }
            for p, k in keys.items()
        },
        "message": {
            "jws": jws,
            "jws_sha256": opened.signed.sha256,
            "payload": parse_json(jws_parse(jws).payload),
            "payload_canonical": jws_parse(jws).payload.decode("utf-8"),
        },
        "envelope": envelope,
        "routing": read_routing(envelope).to_json(),
        "ack": {"jws": ack},
        "receipt": {"jws": receipt},
        "keyfile": {
            "party": "US",
            "passphrase": KEYFILE_PASSPHRASE,
            "n": KEYFILE_N,
            "file": keyfile.decode("ascii"),
        },
    }


def render() -> str:
    """The exact text of the vector file."""
    text = json.dumps(build(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    canonical_json(json.loads(text))  # the document itself must be I-JSON
    return text


def main() -> int:
    PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
