"""Per-message cost of molink envelopes against the raw primitives they are built on.

Run: ``.venv/bin/python benchmarks/core_crypto.py`` (about 20-30 s).

For 1 KiB and 64 KiB message bodies and one recipient it measures, one call at a
time, the median and 99th percentile of

* sign + seal: ``sign_and_seal`` (molink.core.envelope; what the messaging service calls);
* open + verify: ``open_envelope`` (decrypt, verify, routing and clock checks);
* the raw primitives those two paths cannot avoid (``cryptography``): Ed25519 sign
  and verify over the JWS signing input, X25519 key generation and exchange,
  AES-256-GCM over the JWS and AES key wrap of the 32-byte content key;

and checks the target of ADR 0001: an envelope costs at most 2x the sum of its raw
primitives. It also times the JOSE layer alone (molink.core.jose) against joserfc
doing the same JWS and JWE work on the 1 KiB message (``--no-joserfc`` skips that).

Times are per-thread CPU time by default (``--clock wall`` for wall-clock): the
machines are shared, and CPU time does not count the time another process ran.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cryptography
from cryptography.hazmat.backends.openssl.backend import backend as openssl_backend
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap
from rich.console import Console
from rich.table import Table

from molink.core.canonical import canonical_json
from molink.core.envelope import Directory, open_envelope, sign_and_seal
from molink.core.ids import uuid7
from molink.core.jose import JweRecipientKey, jwe_open, jwe_seal, jws_parse, jws_sign
from molink.core.keys import PartyKeys
from molink.core.message import message_fields
from molink.core.precedence import Precedence

TARGET = 2.0
NOW = datetime(2026, 2, 5, 10, 0, tzinfo=UTC)
# Bodies are Cyrillic text: 2 UTF-8 bytes per character, so 64 KiB fits the
# 32,768-character body limit (MAX_BODY_CHARS).
SIZES = {"1 KiB": 512, "64 KiB": 32_768}


@dataclass(frozen=True)
class Timing:
    median_us: float
    p99_us: float
    runs: int


CLOCKS = {"cpu": time.thread_time_ns, "wall": time.perf_counter_ns}
_clock = CLOCKS["cpu"]


def measure(fn: Callable[[], object], *, budget_s: float, max_runs: int) -> Timing:
    """Median and p99 of one call of ``fn`` (GC off, after a warm-up), within a time budget.

    Calls faster than about 20 µs are timed in batches and each sample is the batch
    mean, so the clock's own cost does not count; their p99 is then of batch means.
    """
    start = time.perf_counter_ns()
    for _ in range(min(20, max_runs)):
        fn()
    batch = max(1, int(20_000 / max(1.0, (time.perf_counter_ns() - start) / min(20, max_runs))))
    samples: list[float] = []
    gc.collect()
    gc.disable()
    try:
        deadline = time.perf_counter() + budget_s
        while len(samples) < max_runs and (len(samples) < 50 or time.perf_counter() < deadline):
            begin = _clock()
            for _ in range(batch):
                fn()
            samples.append((_clock() - begin) / batch)
    finally:
        gc.enable()
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return Timing(statistics.median(samples) / 1000, p99 / 1000, len(samples) * batch)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{model}; {os.cpu_count()} cores ({usable} usable); "
        f"Python {platform.python_version()} ({platform.python_implementation()}); "
        f"cryptography {cryptography.__version__} on {openssl_backend.openssl_version_text()}"
    )


@dataclass
class Message:
    label: str
    body_bytes: int
    sign_seal: Timing
    open_verify: Timing
    raw: dict[str, Timing]

    @property
    def raw_seal(self) -> float:
        keys = ("ed25519 sign", "x25519 keygen+exchange", "aes-kw wrap", "aes-gcm encrypt")
        return sum(self.raw[k].median_us for k in keys)

    @property
    def raw_open(self) -> float:
        keys = ("x25519 exchange", "aes-kw unwrap", "aes-gcm decrypt", "ed25519 verify")
        return sum(self.raw[k].median_us for k in keys)


def bench_size(label: str, chars: int, budget_s: float) -> Message:
    us, ru = PartyKeys.generate("US"), PartyKeys.generate("RU")
    directory = Directory([us.public, ru.public])
    fields = message_fields(subject="Benchmark", body="Ж" * chars, lang="ru")
    msg_id = uuid7(NOW, os.urandom(10))
    max_runs = 3000 if chars < 4096 else 400

    def sign_seal() -> dict[str, object]:
        _, sealed = sign_and_seal(
            us,
            directory,
            type="message",
            id=msg_id,
            to=["RU"],
            channel="bench",
            seq=1,
            created=NOW,
            precedence=Precedence.FLASH,
            fields=fields,
        )
        return sealed

    envelope = sign_seal()

    def open_and_verify() -> object:
        return open_envelope(
            envelope, me=ru, directory=directory, now=NOW, max_skew=timedelta(minutes=5)
        )

    jws_text = open_and_verify().signed.jws.text  # type: ignore[attr-defined]
    signing_input = jws_parse(jws_text).signing_input
    plaintext = jws_text.encode("ascii")
    timings = {
        "sign+seal": measure(sign_seal, budget_s=budget_s, max_runs=max_runs),
        "open+verify": measure(open_and_verify, budget_s=budget_s, max_runs=max_runs),
    }
    raw = raw_primitives(signing_input, plaintext, budget_s=budget_s / 3, max_runs=max_runs)
    body_bytes = len(fields["body"].encode("utf-8"))
    return Message(label, body_bytes, timings["sign+seal"], timings["open+verify"], raw)


def raw_primitives(
    signing_input: bytes, plaintext: bytes, *, budget_s: float, max_runs: int
) -> dict[str, Timing]:
    sig_key = Ed25519PrivateKey.generate()
    sig_pub = sig_key.public_key()
    signature = sig_key.sign(signing_input)
    recipient = X25519PrivateKey.generate()
    recipient_pub = recipient.public_key()
    ephemeral_pub = X25519PrivateKey.generate().public_key()
    kek, cek, iv = os.urandom(32), os.urandom(32), os.urandom(12)
    wrapped = aes_key_wrap(kek, cek)
    gcm = AESGCM(cek)
    sealed = gcm.encrypt(iv, plaintext, b"aad")

    def keygen_exchange() -> bytes:
        return X25519PrivateKey.generate().exchange(recipient_pub)

    fns: dict[str, Callable[[], object]] = {
        "ed25519 sign": lambda: sig_key.sign(signing_input),
        "ed25519 verify": lambda: sig_pub.verify(signature, signing_input),
        "x25519 keygen+exchange": keygen_exchange,
        "x25519 exchange": lambda: recipient.exchange(ephemeral_pub),
        "aes-gcm encrypt": lambda: AESGCM(cek).encrypt(iv, plaintext, b"aad"),
        "aes-gcm decrypt": lambda: AESGCM(cek).decrypt(iv, sealed, b"aad"),
        "aes-kw wrap": lambda: aes_key_wrap(kek, cek),
        "aes-kw unwrap": lambda: aes_key_unwrap(kek, wrapped),
    }
    return {name: measure(fn, budget_s=budget_s, max_runs=max_runs) for name, fn in fns.items()}


def bench_jose_layers(budget_s: float) -> dict[str, tuple[Timing, Timing]]:
    """molink.core.jose and joserfc on the same 1 KiB message: the JOSE work alone."""
    from joserfc import jwe, jws
    from joserfc.jwk import OKPKey

    algs = ["ECDH-ES+A256KW", "A256GCM"]
    us, ru = PartyKeys.generate("US"), PartyKeys.generate("RU")

    def okp(jwk: dict[str, str]) -> OKPKey:
        members: dict[str, str | list[str]] = {**jwk}
        return OKPKey.import_key(members)

    sig_private, sig_public = okp(us.sig_private_jwk()), okp(us.public.sig_jwk)
    enc_private, enc_public = okp(ru.enc_private_jwk()), okp(ru.public.enc_jwk)
    payload = canonical_json({"body": "Ж" * SIZES["1 KiB"], "subject": "Benchmark"})
    kid, enc_kid = us.public.sig_kid, ru.public.enc_kid
    header = {"alg": "Ed25519", "kid": kid, "typ": "molink+jws"}
    token = jws_sign(payload, us.sig_private, kid=kid, typ="molink+jws")
    recipients = [JweRecipientKey(kid=enc_kid, public=ru.public.enc_public)]
    ours_sealed = jwe_seal(token.encode(), recipients, aad=b"routing")

    def theirs_seal() -> object:
        obj = jwe.GeneralJSONEncryption({"enc": "A256GCM"}, token.encode(), aad=b"routing")
        obj.add_recipient({"alg": "ECDH-ES+A256KW", "kid": enc_kid}, enc_public)
        return jwe.encrypt_json(obj, None, algorithms=algs)

    theirs_sealed = theirs_seal()
    pairs: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "JWS sign": (
            lambda: jws_sign(payload, us.sig_private, kid=kid, typ="molink+jws"),
            lambda: jws.serialize_compact(header, payload, sig_private, algorithms=["Ed25519"]),
        ),
        "JWS parse + verify": (
            lambda: jws_parse(token).verify(us.public.sig_public),
            lambda: jws.deserialize_compact(token, sig_public, algorithms=["Ed25519"]),
        ),
        "JWE seal": (
            lambda: jwe_seal(token.encode(), recipients, aad=b"routing"),
            theirs_seal,
        ),
        "JWE open": (
            lambda: jwe_open(ours_sealed, kid=enc_kid, private=ru.enc_private),
            lambda: jwe.decrypt_json(theirs_sealed, enc_private, algorithms=algs),  # type: ignore[arg-type]
        ),
    }
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (ours, theirs) in pairs.items():
            out[name] = (
                measure(ours, budget_s=budget_s, max_runs=3000),
                measure(theirs, budget_s=budget_s, max_runs=3000),
            )
    return out


def fmt(us: float) -> str:
    return f"{us:,.1f}" if us < 1000 else f"{us:,.0f}"


def report(
    console: Console, results: list[Message], jose: dict[str, tuple[Timing, Timing]] | None
) -> bool:
    console.print(f"[bold]machine[/bold]: {machine()}")
    clock = "per-thread CPU time" if _clock is CLOCKS["cpu"] else "wall-clock time"
    console.print(f"[bold]clock[/bold]: {clock}")
    envelope = Table(title="molink envelope, one recipient (µs per message, one call at a time)")
    for column in ("body", "operation", "median", "p99", "runs", "raw sum", "ratio", "≤ 2×"):
        envelope.add_column(column, justify="left" if column in ("body", "operation") else "right")
    all_met = True
    for r in results:
        for name, timing, raw in (
            ("sign + seal", r.sign_seal, r.raw_seal),
            ("open + verify", r.open_verify, r.raw_open),
        ):
            ratio = timing.median_us / raw
            met = ratio <= TARGET
            all_met &= met
            envelope.add_row(
                f"{r.label} ({r.body_bytes:,} B)",
                name,
                fmt(timing.median_us),
                fmt(timing.p99_us),
                str(timing.runs),
                fmt(raw),
                f"{ratio:.2f}×",
                "[green]met[/green]" if met else "[red]NOT met[/red]",
            )
    console.print(envelope)
    primitives = Table(title="raw primitives, cryptography (µs, median / p99)")
    primitives.add_column("primitive")
    for r in results:
        primitives.add_column(f"{r.label} median", justify="right")
        primitives.add_column(f"{r.label} p99", justify="right")
    for name in results[0].raw:
        cells = []
        for r in results:
            cells += [fmt(r.raw[name].median_us), fmt(r.raw[name].p99_us)]
        primitives.add_row(name, *cells)
    console.print(primitives)
    console.print(
        "raw sum, sign + seal = ed25519 sign + x25519 keygen+exchange + aes-kw wrap + "
        "aes-gcm encrypt;\nraw sum, open + verify = x25519 exchange + aes-kw unwrap + "
        "aes-gcm decrypt + ed25519 verify.\nEd25519 runs over the JWS signing input and "
        "AES-GCM over the JWS: the bytes the envelope has to process."
    )
    if jose is not None:
        table = Table(title="JOSE layer alone, same 1 KiB message (µs, median / p99)")
        for column in ("operation", "molink.core.jose", "p99", "joserfc 1.8", "p99", "ratio"):
            table.add_column(column, justify="left" if column == "operation" else "right")
        for name, (ours, theirs) in jose.items():
            table.add_row(
                name,
                fmt(ours.median_us),
                fmt(ours.p99_us),
                fmt(theirs.median_us),
                fmt(theirs.p99_us),
                f"{ours.median_us / theirs.median_us:.2f}×",
            )
        console.print(table)
    verdict = "[green]met[/green]" if all_met else "[red]NOT met[/red]"
    console.print(f"target: envelope ≤ {TARGET:g}× raw primitives: {verdict}")
    return all_met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--no-joserfc", action="store_true", help="skip the joserfc comparison")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="cpu (default: per-thread CPU time, steady on a shared machine) or wall",
    )
    args = parser.parse_args(argv)
    global _clock
    _clock = CLOCKS[args.clock]
    console = Console()
    if not console.is_terminal:
        console = Console(width=110)  # pipes and CI logs: keep each table row on one line
    started = time.perf_counter()
    results = [bench_size(label, chars, args.budget) for label, chars in SIZES.items()]
    jose = None if args.no_joserfc else bench_jose_layers(args.budget / 2)
    report(console, results, jose)
    console.print(f"[dim]ran in {time.perf_counter() - started:.1f} s[/dim]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
