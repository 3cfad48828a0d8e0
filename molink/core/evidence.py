"""Offline verification of an evidence bundle (DESIGN.md "Log and proof").

:func:`verify_bundle` takes the bundle's files (``{name: bytes}``, e.g. from
:func:`~molink.core.evidence_format.read_bundle`) and checks everything it can with no
node and no network:

* each disclosed message's compact JWS (RFC 7515) against its sender's key in
  ``keys/jwks/<party>.json``;
* each delivery receipt (:func:`molink.core.receipt.verify_receipt`): signed by the
  recipient, over that message id and JWS SHA-256;
* each acknowledgement: a signed object of type ``ack`` by a recipient, whose ``ref`` and
  ``ref_sha256`` name the message and its JWS SHA-256;
* each log (:mod:`molink.core.evidence_logs`): checkpoint signature (C2SP signed note),
  cosignatures (C2SP tlog-cosignature), consistency proofs (RFC 6962 §2.1.2) and
  inclusion proofs (RFC 6962 §2.1.1);
* that log entries agree with the objects they name, and that the entry each receipt
  names in the recipient's log records that very message.

A bad item never raises: it becomes a FAIL :class:`Check` with the reason. Only a bundle
that cannot be read at all (no or malformed manifest, unsafe file names) raises
``MalformedData``. The keys come from the bundle itself: the report shows their
fingerprints, which the reader must compare with those pinned out of band.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from molink.core.dtg import format_utc
from molink.core.envelope import Directory, SignedObject, verify_signed
from molink.core.evidence_format import (
    BundleLog,
    BundleMessage,
    Manifest,
    ack_path,
    check_name,
    message_path,
    parse_manifest,
    receipt_path,
)
from molink.core.evidence_keys import (
    KeyView,
    load_log_keys,
    load_party_keys,
    load_witness_keys,
)
from molink.core.evidence_logs import Check, LogEntry, Outcome, VerifiedLog, check_log
from molink.core.receipt import Receipt, verify_receipt
from molink.errors import MalformedData, MolinkError

__all__ = [
    "AckView",
    "Check",
    "EvidenceReport",
    "KeyView",
    "LogRecord",
    "LogView",
    "MessageView",
    "Outcome",
    "ReceiptView",
    "verify_bundle",
]


@dataclass(frozen=True, slots=True)
class ReceiptView:
    party: str
    received: str
    log_origin: str
    log_index: int
    ok: bool


@dataclass(frozen=True, slots=True)
class AckView:
    id: str
    party: str
    operator: str
    terminal: str
    created: str
    ok: bool
    receipts: tuple[ReceiptView, ...]


@dataclass(frozen=True, slots=True)
class LogRecord:
    """A log entry that names the message (or one of its acks)."""

    origin: str
    index: int
    type: str
    included: bool
    witnesses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MessageView:
    """What the bundle shows about one message; content fields only if its JWS verified."""

    id: str
    jws_sha256: str
    verified: bool
    disclosed: bool
    type: str | None
    sender: str | None
    to: tuple[str, ...]
    created: str | None
    precedence: str | None
    subject: str | None
    body: str | None
    receipts: tuple[ReceiptView, ...]
    acks: tuple[AckView, ...]
    records: tuple[LogRecord, ...]


@dataclass(frozen=True, slots=True)
class LogView:
    origin: str
    party: str
    included: bool
    reason: str | None
    tree_size: int | None
    checkpoint_ok: bool
    cosignatures: tuple[tuple[str, int, int], ...]
    entries: int


@dataclass(frozen=True, slots=True)
class EvidenceReport:
    """The outcome of :func:`verify_bundle`. ``ok`` is True when no check failed."""

    exporter: str
    created: str
    messages: tuple[MessageView, ...]
    logs: tuple[LogView, ...]
    keys: tuple[KeyView, ...]
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.outcome is Outcome.FAIL)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for c in self.checks if c.outcome is outcome)


class _Checks:
    def __init__(self) -> None:
        self.items: list[Check] = []

    def __call__(self, outcome: Outcome, kind: str, subject: str, detail: str) -> None:
        self.items.append(Check(outcome, kind, subject, detail))


def _sha256(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


def _text(data: bytes) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise MalformedData("not ASCII") from exc


# ------------------------------------------------------------------------ messages


class _Objects:
    """Checks signed objects and receipts against the bundle's keys and logs."""

    def __init__(
        self,
        files: Mapping[str, bytes],
        directory: Directory,
        logs: Mapping[str, VerifiedLog],
        manifest_logs: Mapping[str, BundleLog],
        report: _Checks,
    ) -> None:
        self.files = files
        self.directory = directory
        self.logs = logs
        self.manifest_logs = manifest_logs
        self.report = report
        self.verified_receipts: set[tuple[str, str]] = set()
        self.by_ref: dict[str, list[tuple[str, LogEntry]]] = {}
        for origin, log in logs.items():
            for entry in log.entries.values():
                payload = entry.payload or {}
                keys = [payload.get("id"), payload.get("ref"), payload.get("target")]
                for key in dict.fromkeys(k for k in keys if isinstance(k, str)):
                    self.by_ref.setdefault(key, []).append((origin, entry))

    def signed(self, path: str, kind: str, subject: str) -> SignedObject | None:
        data = self.files.get(path)
        try:
            if data is None:
                raise MalformedData(f"{path} is missing")
            return verify_signed(_text(data), self.directory)
        except MolinkError as exc:
            self.report(Outcome.FAIL, kind, subject, exc.message)
            return None

    def message(self, item: BundleMessage) -> MessageView:
        subject = f"message {item.id}"
        signed = None
        sha = item.jws_sha256
        if not item.disclosed:
            detail = "content not disclosed: checked by its SHA-256 only"
            self.report(Outcome.SKIP, "signature", subject, detail)
        else:
            signed = self.signed(message_path(item.id), "signature", subject)
        if signed is not None:
            problem = _mismatch(signed.id, item.id, signed.sha256, sha)
            if problem:
                self.report(Outcome.FAIL, "signature", subject, problem)
                signed = None
            else:
                detail = f"{signed.type} signed by {signed.sender} (key {signed.jws.kid})"
                self.report(Outcome.PASS, "signature", subject, detail)
        receipts = tuple(self.receipt(item.id, sha, p, signed) for p in item.receipts)
        checked = [self.ack(item.id, sha, a.id, a.receipts, signed) for a in item.acks]
        shas = {item.id: sha, **{ack.id: ack_sha for ack, ack_sha in checked}}
        payload = signed.payload if signed else {}
        return MessageView(
            id=item.id,
            jws_sha256=sha,
            verified=signed is not None,
            disclosed=item.disclosed,
            type=signed.type if signed else None,
            sender=signed.sender if signed else None,
            to=signed.to if signed else (),
            created=payload.get("created"),
            precedence=payload.get("precedence"),
            subject=payload.get("subject"),
            body=payload.get("body"),
            receipts=receipts,
            acks=tuple(ack for ack, _ in checked),
            records=self.records(shas),
        )

    def receipt(
        self, object_id: str, sha: str, party: str, signed: SignedObject | None
    ) -> ReceiptView:
        subject = f"receipt for {object_id} by {party}"
        path = receipt_path(object_id, party)
        data = self.files.get(path)
        try:
            if data is None:
                raise MalformedData(f"{path} is missing")
            text = _text(data)
            receipt = verify_receipt(text, self.directory, message_id=object_id, jws_sha256=sha)
            _receipt_fits(receipt, party, signed)
        except MolinkError as exc:
            self.report(Outcome.FAIL, "receipt", subject, exc.message)
            return ReceiptView(party, "", "", -1, ok=False)
        received = format_utc(receipt.received)
        where = f"{receipt.log_origin} #{receipt.log_index}"
        self.report(Outcome.PASS, "receipt", subject, f"received {received}, logged at {where}")
        self.verified_receipts.add((object_id, party))
        self._receipt_logged(receipt, subject)
        return ReceiptView(party, received, receipt.log_origin, receipt.log_index, ok=True)

    def _receipt_logged(self, receipt: Receipt, subject: str) -> None:
        """The entry the receipt names in the recipient's own log must record the object."""
        subject = f"{subject}: {receipt.log_origin} #{receipt.log_index}"
        log = self.logs.get(receipt.log_origin)
        if log is None:
            known = self.manifest_logs.get(receipt.log_origin)
            why = known.reason if known and known.reason else "the log is not in the bundle"
            self.report(Outcome.SKIP, "log-record", subject, f"not included: {why}")
            return
        entry = log.entries.get(receipt.log_index)
        if entry is None:
            self.report(Outcome.SKIP, "log-record", subject, "entry not included in the bundle")
            return
        payload = entry.payload or {}
        agrees = (
            str(payload.get("type", "")).endswith(".received")
            and payload.get("id") == receipt.message_id
            and payload.get("jws_sha256") == receipt.jws_sha256
        )
        if not agrees:
            detail = "that entry does not record the receipt of this object"
            self.report(Outcome.FAIL, "log-record", subject, detail)
        elif not entry.included:
            self.report(Outcome.FAIL, "log-record", subject, "that entry is not proven in the log")
        else:
            self.report(Outcome.PASS, "log-record", subject, "recipient's log records it")

    def ack(
        self,
        ref: str,
        ref_sha: str,
        ack_id: str,
        receipt_parties: Sequence[str],
        message: SignedObject | None,
    ) -> tuple[AckView, str]:
        """The ack's view and its JWS SHA-256 ("" if it did not verify)."""
        subject = f"ack {ack_id} of {ref}"
        signed = self.signed(ack_path(ack_id), "ack", subject)
        problem = None if signed is None else _ack_problem(signed, ack_id, ref, ref_sha, message)
        if problem:
            self.report(Outcome.FAIL, "ack", subject, problem)
            signed = None
        elif signed is not None:
            p = signed.payload
            detail = f"by {signed.sender} operator {p['operator']} at {p['created']}"
            self.report(Outcome.PASS, "ack", subject, detail)
        sha = signed.sha256 if signed else ""
        receipts = tuple(self.receipt(ack_id, sha, r, signed) for r in receipt_parties)
        p = signed.payload if signed else {}
        view = AckView(
            id=ack_id,
            party=signed.sender if signed else "",
            operator=str(p.get("operator", "")),
            terminal=str(p.get("terminal", "")),
            created=str(p.get("created", "")),
            ok=signed is not None,
            receipts=receipts,
        )
        return view, sha

    def records(self, shas: Mapping[str, str]) -> tuple[LogRecord, ...]:
        """Entries of every verified log naming these objects; contradictions FAIL."""
        out: dict[tuple[str, int], LogRecord] = {}
        for object_id in shas:
            for origin, entry in self.by_ref.get(object_id, []):
                payload = entry.payload or {}
                problem = _record_problem(payload, shas, self.files, self.verified_receipts)
                subject = f"log {origin} #{entry.index} ({payload.get('type')})"
                if problem:
                    self.report(Outcome.FAIL, "log-record", subject, problem)
                    continue
                witnesses = self.logs[origin].witnesses_of(entry.index)
                record = LogRecord(
                    origin, entry.index, str(payload.get("type")), entry.included, witnesses
                )
                out[(origin, entry.index)] = record
        return tuple(sorted(out.values(), key=lambda r: (r.origin, r.index)))


def _mismatch(got_id: str, want_id: str, got_sha: str, want_sha: str) -> str | None:
    if got_id != want_id:
        return f"the JWS is for {got_id}, not {want_id}"
    if got_sha != want_sha:
        return f"the JWS's SHA-256 {got_sha} differs from the manifest's {want_sha}"
    return None


def _receipt_fits(receipt: Receipt, party: str, signed: SignedObject | None) -> None:
    if receipt.recipient != party:
        raise MalformedData(f"receipt is signed by {receipt.recipient}, not {party}")
    if signed is not None and receipt.recipient not in signed.to:
        raise MalformedData(f"{party} is not a recipient of this object")
    if signed is not None and receipt.sender != signed.sender:
        raise MalformedData(f"receipt names sender {receipt.sender}, not {signed.sender}")


def _ack_problem(
    ack: SignedObject, ack_id: str, ref: str, ref_sha: str, message: SignedObject | None
) -> str | None:
    p = ack.payload
    if ack.type != "ack" or ack.id != ack_id:
        return f"{ack_path(ack_id)} holds a {ack.type} with id {ack.id}"
    if p.get("ref") != ref or p.get("ref_sha256") != ref_sha:
        return "the ack does not name this message and its JWS SHA-256"
    if message is not None and (ack.sender not in message.to or message.sender not in ack.to):
        return f"{ack.sender} is not a recipient acknowledging to the sender"
    return None


def _record_problem(
    payload: Mapping[str, Any],
    shas: Mapping[str, str],
    files: Mapping[str, bytes],
    verified_receipts: set[tuple[str, str]],
) -> str | None:
    """Why a log entry contradicts the bundle's objects (None if it agrees)."""
    own, ref = str(payload.get("id")), str(payload.get("ref"))
    recorded, recorded_ref = payload.get("jws_sha256"), payload.get("ref_sha256")
    if shas.get(own) and recorded is not None and recorded != shas[own]:
        return f"the entry records SHA-256 {recorded} for {own}"
    if shas.get(ref) and recorded_ref is not None and recorded_ref != shas[ref]:
        return f"the entry records SHA-256 {recorded_ref} for {ref}"
    if payload.get("type") == "receipt.received":
        party = str(payload.get("recipient"))
        held = files.get(receipt_path(own, party))
        verified = (own, party) in verified_receipts
        if held is not None and verified and _sha256(held) != payload.get("receipt_sha256"):
            return f"the entry records another receipt from {party}"
    return None


# -------------------------------------------------------------------------- bundle


def _unlisted(files: Mapping[str, bytes], manifest: Manifest, report: _Checks) -> None:
    for name in sorted(set(files) - manifest.files()):
        report(Outcome.FAIL, "file", name, "file is not described by the manifest")


def verify_bundle(files: Mapping[str, bytes]) -> EvidenceReport:
    """Verify an evidence bundle offline; see the module docstring for what is checked.

    Raises:
        MalformedData: an unsafe file name, or no valid ``manifest.json``.
    """
    for name in files:
        check_name(name)
    manifest = parse_manifest(files.get("manifest.json"))
    report = _Checks()
    keys: list[KeyView] = []
    directory = load_party_keys(manifest, files, report, keys)
    log_keys = load_log_keys(manifest.logs, files, report, keys)
    witnesses = load_witness_keys(manifest.witnesses, files, report, keys)
    logs: dict[str, VerifiedLog] = {}
    for log in manifest.logs:
        if not log.included:
            detail = f"not included: {log.reason or 'no reason given'}"
            report(Outcome.SKIP, "checkpoint", f"log {log.origin}", detail)
            continue
        logs[log.origin] = check_log(log.origin, files, log_keys[log.origin], witnesses, report)
    objects = _Objects(files, directory, logs, {log.origin: log for log in manifest.logs}, report)
    messages = tuple(objects.message(m) for m in manifest.messages)
    _unlisted(files, manifest, report)
    return EvidenceReport(
        exporter=manifest.exporter,
        created=manifest.created,
        messages=messages,
        logs=tuple(_log_view(log, logs.get(log.origin)) for log in manifest.logs),
        keys=tuple(keys),
        checks=tuple(report.items),
    )


def _log_view(log: BundleLog, verified: VerifiedLog | None) -> LogView:
    return LogView(
        origin=log.origin,
        party=log.party,
        included=log.included,
        reason=log.reason,
        tree_size=verified.tree_size if verified else None,
        checkpoint_ok=verified.checkpoint_ok if verified else False,
        cosignatures=tuple(verified.cosignatures) if verified else (),
        entries=len(verified.entries) if verified else 0,
    )
