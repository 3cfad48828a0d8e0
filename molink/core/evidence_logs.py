"""Checking one log's material in an evidence bundle, offline.

For a log with origin ``O`` the bundle holds (docs/formats.md "Evidence bundle"):

* ``log/<O>/checkpoint``: a C2SP signed checkpoint, signed by the log key whose vkey is
  ``keys/log/<O>.vkey``, with ``cosignature/v1`` lines (C2SP tlog-cosignature);
* ``log/<O>/consistency.json``: older signed checkpoints (e.g. the last one each witness
  cosigned) with RFC 6962 §2.1.2 consistency proofs to the main checkpoint;
* ``log/<O>/entries.json``: entries with RFC 6962 §2.1.1 inclusion proofs against the
  main checkpoint.

Every step appends a :class:`Check`; nothing raises for bad material. An entry counts as
*included* only when its proof leads to the root of a checkpoint whose log signature
verified; a witness *covers* an index below the size of a checkpoint it cosigned, when
that checkpoint is the main one or is proven consistent with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from molink.core.b64 import b64decode
from molink.core.canonical import parse_json
from molink.core.checkpoint import SignedCheckpoint, open_checkpoint
from molink.core.cosignature import CosignatureVerifier
from molink.core.evidence_format import checkpoint_path, consistency_path, entries_path
from molink.core.merkle import leaf_hash, verify_consistency, verify_inclusion
from molink.core.note import Ed25519Verifier, NoteSignature
from molink.errors import MalformedData, MolinkError

__all__ = ["Check", "LogEntry", "Outcome", "VerifiedLog", "check_log"]

_MAX_PROOF = 64


class Outcome(StrEnum):
    """PASS: shown true. FAIL: shown false or unprovable as presented. SKIP: not in the bundle."""

    PASS = "PASS"  # noqa: S105 - an outcome, not a password
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True, slots=True)
class Check:
    """One verification step: what was checked, how it came out, and why."""

    outcome: Outcome
    kind: str
    subject: str
    detail: str


@dataclass(frozen=True, slots=True)
class LogEntry:
    """An entry the bundle discloses; ``payload`` is its JSON object (None if not JSON)."""

    index: int
    data: bytes
    payload: dict[str, Any] | None
    included: bool


@dataclass(slots=True)
class VerifiedLog:
    """What the bundle proves about one log."""

    origin: str
    tree_size: int | None = None
    checkpoint_ok: bool = False
    entries: dict[int, LogEntry] = field(default_factory=dict)
    coverage: dict[str, int] = field(default_factory=dict)
    cosignatures: list[tuple[str, int, int]] = field(default_factory=list)

    def witnesses_of(self, index: int) -> tuple[str, ...]:
        """Witnesses whose verified cosignature covers entry ``index``."""
        return tuple(sorted(w for w, size in self.coverage.items() if index < size))


Report = Callable[[Outcome, str, str, str], None]


def check_log(
    origin: str,
    files: Mapping[str, bytes],
    log_key: Ed25519Verifier | None,
    witnesses: Mapping[tuple[str, int], CosignatureVerifier],
    report: Report,
) -> VerifiedLog:
    """Verify one log's checkpoint, cosignatures, consistency proofs and entries."""
    log = VerifiedLog(origin=origin)
    main = _main_checkpoint(origin, files, log_key, report)
    if main is not None:
        log.tree_size = main.checkpoint.size
        log.checkpoint_ok = True
        _cosignatures(log, main, main.checkpoint.size, witnesses, report)
    _older_checkpoints(log, main, files, log_key, witnesses, report)
    _entries(log, main, files, report)
    return log


def _open(
    note: bytes | str, log_key: Ed25519Verifier, origin: str
) -> SignedCheckpoint | MolinkError:
    try:
        return open_checkpoint(note, [log_key], origin=origin)
    except MolinkError as exc:
        return exc


def _main_checkpoint(
    origin: str, files: Mapping[str, bytes], log_key: Ed25519Verifier | None, report: Report
) -> SignedCheckpoint | None:
    subject = f"log {origin}: checkpoint"
    data = files.get(checkpoint_path(origin))
    if data is None:
        report(Outcome.FAIL, "checkpoint", subject, f"{checkpoint_path(origin)} is missing")
        return None
    if log_key is None:
        report(Outcome.FAIL, "checkpoint", subject, "no valid log verifier key in the bundle")
        return None
    opened = _open(data, log_key, origin)
    if isinstance(opened, MolinkError):
        report(Outcome.FAIL, "checkpoint", subject, opened.message)
        return None
    size = opened.checkpoint.size
    report(Outcome.PASS, "checkpoint", subject, f"size {size}, signed by {log_key.vkey}")
    return opened


def _cosignatures(
    log: VerifiedLog,
    signed: SignedCheckpoint,
    size: int,
    witnesses: Mapping[tuple[str, int], CosignatureVerifier],
    report: Report,
) -> None:
    body = signed.checkpoint.body()
    for sig in signed.opened.unverified:
        subject = f"log {log.origin}: cosignature by {sig.name} on size {size}"
        verifier = witnesses.get((sig.name, sig.key_id))
        if verifier is None:
            report(Outcome.SKIP, "cosignature", subject, "signer's key is not in the bundle")
            continue
        timestamp = _cosign(verifier, body, sig)
        if isinstance(timestamp, MolinkError):
            report(Outcome.FAIL, "cosignature", subject, timestamp.message)
            continue
        report(Outcome.PASS, "cosignature", subject, f"cosigned at POSIX time {timestamp}")
        log.cosignatures.append((sig.name, size, timestamp))
        log.coverage[sig.name] = max(log.coverage.get(sig.name, 0), size)


def _cosign(verifier: CosignatureVerifier, body: bytes, sig: NoteSignature) -> int | MolinkError:
    try:
        return verifier.verify_cosignature(body, sig)
    except MolinkError as exc:
        return exc


def _proof(value: Any, where: str) -> list[bytes]:
    if (
        not isinstance(value, list)
        or len(value) > _MAX_PROOF
        or not all(isinstance(h, str) for h in value)
    ):
        raise MalformedData(f"{where} must be a list of at most {_MAX_PROOF} base64 hashes")
    return [b64decode(h) for h in value]


def _json_file(files: Mapping[str, bytes], path: str, key: str) -> list[Any]:
    data = files.get(path)
    if data is None:
        raise MalformedData(f"{path} is missing")
    body = parse_json(data)
    if not isinstance(body, dict) or not isinstance(body.get(key), list):
        raise MalformedData(f"{path} has no {key!r} list")
    return list(body[key])


def _older_checkpoints(
    log: VerifiedLog,
    main: SignedCheckpoint | None,
    files: Mapping[str, bytes],
    log_key: Ed25519Verifier | None,
    witnesses: Mapping[tuple[str, int], CosignatureVerifier],
    report: Report,
) -> None:
    path = consistency_path(log.origin)
    try:
        items = _json_file(files, path, "checkpoints")
    except MolinkError as exc:
        report(Outcome.FAIL, "consistency", f"log {log.origin}: {path}", exc.message)
        return
    for n, item in enumerate(items):
        subject = f"log {log.origin}: older checkpoint #{n}"
        if main is None or log_key is None:
            report(Outcome.FAIL, "consistency", subject, "main checkpoint is not verified")
            continue
        try:
            if not isinstance(item, dict) or not isinstance(item.get("checkpoint"), str):
                raise MalformedData("item needs a 'checkpoint' string")
            proof = _proof(item.get("consistency_proof"), "consistency_proof")
        except MolinkError as exc:
            report(Outcome.FAIL, "consistency", subject, exc.message)
            continue
        opened = _open(item["checkpoint"], log_key, log.origin)
        if isinstance(opened, MolinkError):
            report(Outcome.FAIL, "consistency", subject, f"checkpoint: {opened.message}")
            continue
        old, new = opened.checkpoint, main.checkpoint
        subject = f"log {log.origin}: consistency {old.size} -> {new.size}"
        try:
            verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
        except MolinkError as exc:
            report(Outcome.FAIL, "consistency", subject, exc.message)
            continue
        report(Outcome.PASS, "consistency", subject, "RFC 6962 consistency proof verifies")
        _cosignatures(log, opened, old.size, witnesses, report)


def _entries(
    log: VerifiedLog, main: SignedCheckpoint | None, files: Mapping[str, bytes], report: Report
) -> None:
    path = entries_path(log.origin)
    try:
        items = _json_file(files, path, "entries")
    except MolinkError as exc:
        report(Outcome.FAIL, "inclusion", f"log {log.origin}: {path}", exc.message)
        return
    for n, item in enumerate(items):
        parsed = _parse_entry(item)
        if isinstance(parsed, MolinkError):
            report(Outcome.FAIL, "inclusion", f"log {log.origin}: entry #{n}", parsed.message)
            continue
        index, data, proof = parsed
        subject = f"log {log.origin}: entry {index}"
        if index in log.entries:
            report(Outcome.FAIL, "inclusion", subject, "entry listed twice")
            continue
        included = _included(main, index, data, proof)
        if included is None:
            report(Outcome.PASS, "inclusion", subject, "inclusion proof verifies")
        else:
            report(Outcome.FAIL, "inclusion", subject, included)
        log.entries[index] = LogEntry(index, data, _payload(data), included is None)


def _parse_entry(item: Any) -> tuple[int, bytes, list[bytes]] | MolinkError:
    try:
        if not isinstance(item, dict):
            raise MalformedData("entry must be an object")
        index, data = item.get("index"), item.get("data")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise MalformedData("entry 'index' must be a non-negative integer")
        if not isinstance(data, str):
            raise MalformedData("entry 'data' must be a base64 string")
        return index, b64decode(data), _proof(item.get("inclusion_proof"), "inclusion_proof")
    except MolinkError as exc:
        return exc


def _included(
    main: SignedCheckpoint | None, index: int, data: bytes, proof: list[bytes]
) -> str | None:
    """None if the entry is proven in the verified main checkpoint; else the reason."""
    if main is None:
        return "no verified checkpoint to prove it against"
    cp = main.checkpoint
    try:
        verify_inclusion(leaf_hash(data), index, cp.size, proof, cp.root_hash)
    except MolinkError as exc:
        return exc.message
    return None


def _payload(data: bytes) -> dict[str, Any] | None:
    try:
        value = parse_json(data)
    except MolinkError:
        return None
    return value if isinstance(value, dict) else None
