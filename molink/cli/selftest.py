"""``molink selftest``: the cryptographic core, step by step, with two fresh parties."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from rich.console import Console

from molink.core.envelope import Directory, open_envelope, seal, sign_object
from molink.core.ids import uuid7
from molink.core.keys import PartyKeys, fingerprint
from molink.core.message import message_fields
from molink.core.precedence import Precedence
from molink.core.receipt import make_receipt, verify_receipt

__all__ = ["run_selftest"]


def run_selftest(console: Console) -> None:
    now = datetime.now(UTC)
    us, ru = PartyKeys.generate("US"), PartyKeys.generate("RU")
    directory = Directory([us.public, ru.public])
    console.print("[bold]1. Two parties generate Ed25519 + X25519 keys[/bold]")
    for k in (us, ru):
        console.print(f"   {k.party}: sig kid {k.public.sig_kid}  enc kid {k.public.enc_kid}")
        console.print(f"       fingerprint to read aloud: {fingerprint(k.public)}")
    msg_id = uuid7(now, os.urandom(10))
    jws = sign_object(
        us,
        type="message",
        id=msg_id,
        to=["RU"],
        channel="selftest",
        seq=1,
        created=now,
        precedence=Precedence.FLASH,
        fields=message_fields(subject="Self-test", body="Line check.", lang="en"),
    )
    console.print(
        f"[bold]2. US signs the message as a JWS[/bold] ({len(jws)} chars)\n   {jws[:90]}…"
    )
    envelope = seal(jws, directory)
    console.print(
        f"[bold]3. US seals it to RU (JWE ECDH-ES+A256KW, A256GCM)[/bold] "
        f"ciphertext {len(envelope['ciphertext'])} chars, routing header in aad"
    )
    opened = open_envelope(
        envelope, me=ru, directory=directory, now=now, max_skew=timedelta(minutes=5)
    )
    console.print("[bold]4. RU opens it: decrypts, verifies US's signature and the routing[/bold]")
    console.print(
        f"   from {opened.signed.sender}: {opened.signed.payload['subject']!r} "
        f"{opened.signed.payload['body']!r}  sha256 {opened.signed.sha256[:16]}…"
    )
    receipt = make_receipt(
        ru,
        message_id=msg_id,
        jws_sha256=opened.signed.sha256,
        sender="US",
        received=now,
        log_origin="selftest/RU",
        log_index=0,
    )
    verified = verify_receipt(
        receipt, directory, message_id=msg_id, jws_sha256=opened.signed.sha256
    )
    console.print(
        f"[bold]5. RU signs a delivery receipt; US verifies it[/bold] "
        f"(recipient {verified.recipient}, log index {verified.log_index})"
    )
    console.print("[green]self-test passed[/green]")
