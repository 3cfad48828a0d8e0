"""C2SP tlog-witness ``add-checkpoint``: wire format and the witness's pure decision.

Request body (c2sp.org/tlog-witness)::

    old <size of the checkpoint the witness last cosigned>\\n
    <base64 consistency proof hash>\\n      (0 to 63 lines)
    \\n
    <signed checkpoint note>

The witness side is :func:`decide`: bytes, state and ``now`` in; a decision or a typed
error out. The service around it must load the state, decide and store the new state
atomically (one transaction, row locked), or two requests can roll the state back.

HTTP mapping of :func:`decide`'s errors (tlog-witness)::

    NotFound            404  unknown origin (no log key configured)
    SignatureInvalid    403  no valid signature by the log's key
    MalformedData       400  bad body, old size > checkpoint size, proof with old size 0
    OldSizeMismatch     409  body "<known size>\\n", Content-Type text/x.tlog.size
    Equivocation        422  if evidence["reason"] == "consistency-proof-failed"
                        409  if evidence["reason"] == "same-size-different-root"

Both ``Equivocation`` reasons carry the checkpoint last cosigned and the new one, each
signed by the log, plus the proof. "same-size-different-root" proves a fork by itself;
"consistency-proof-failed" shows the log signed a tree it cannot (or would not) prove
consistent, which may also be a bug in the log: weigh the alert accordingly.

The log side uses :func:`format_add_checkpoint`, :func:`parse_size_conflict` and
:func:`accept_cosignatures` to attach the returned cosignatures to its checkpoint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from molink.core.b64 import b64decode, b64encode
from molink.core.checkpoint import Checkpoint, open_checkpoint, parse_size, peek_origin
from molink.core.cosignature import CosignatureVerifier, Cosigner
from molink.core.merkle import HASH_SIZE, MAX_TREE_SIZE, verify_consistency
from molink.core.note import MAX_NOTE_SIZE, NoteSignature, NoteVerifier, parse_signature_lines
from molink.errors import (
    Equivocation,
    InvalidInput,
    MalformedData,
    NotFound,
    ProofInvalid,
    SignatureInvalid,
    StateConflict,
)

__all__ = [
    "MAX_PROOF_LINES",
    "MAX_REQUEST_SIZE",
    "SIZE_CONTENT_TYPE",
    "AddCheckpointRequest",
    "OldSizeMismatch",
    "WitnessDecision",
    "WitnessState",
    "accept_cosignatures",
    "decide",
    "format_add_checkpoint",
    "format_size_conflict",
    "parse_add_checkpoint",
    "parse_size_conflict",
]

MAX_PROOF_LINES = 63
"""Most consistency proof lines a request may carry (tlog-witness)."""

MAX_REQUEST_SIZE = MAX_NOTE_SIZE + 64 * 64
"""Cap, in bytes, on an ``add-checkpoint`` body."""

SIZE_CONTENT_TYPE = "text/x.tlog.size"
"""Content type of the 409 body that tells the log the witness's current size."""

_OLD = re.compile(r"old ([0-9]+)")


class OldSizeMismatch(StateConflict):
    """The request's old size is not the size this witness last cosigned (HTTP 409).

    Attributes:
        known_size: the size of the latest cosigned checkpoint (0 if none); the log
            retries with a proof from that size.
    """

    code = "old-size-mismatch"

    def __init__(self, known_size: int, requested: int) -> None:
        super().__init__(
            f"old size {requested} does not match the last cosigned size {known_size}",
            evidence={"known_size": known_size, "old_size": requested},
        )
        self.known_size = known_size


@dataclass(frozen=True, slots=True)
class AddCheckpointRequest:
    """An ``add-checkpoint`` request. ``checkpoint`` is the signed note, unverified."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: str

    def __post_init__(self) -> None:
        if not isinstance(self.old_size, int) or isinstance(self.old_size, bool):
            raise InvalidInput("old size must be an int")
        if not 0 <= self.old_size <= MAX_TREE_SIZE:
            raise InvalidInput(f"old size {self.old_size} is out of range")
        if not isinstance(self.proof, tuple) or len(self.proof) > MAX_PROOF_LINES:
            raise InvalidInput(f"a proof is a tuple of at most {MAX_PROOF_LINES} hashes")
        if any(not isinstance(h, bytes) or len(h) != HASH_SIZE for h in self.proof):
            raise InvalidInput(f"proof hashes are {HASH_SIZE} bytes")
        if self.old_size == 0 and self.proof:
            raise InvalidInput("the proof must be empty when the old size is 0")
        if not isinstance(self.checkpoint, str) or not self.checkpoint:
            raise InvalidInput("checkpoint must be a signed note")

    @property
    def origin(self) -> str:
        """The checkpoint's origin, NOT verified: use it only to pick the log's keys."""
        return peek_origin(self.checkpoint)

    def format(self) -> bytes:
        """The request body."""
        return format_add_checkpoint(self.old_size, self.proof, self.checkpoint)


def format_add_checkpoint(old_size: int, proof: Sequence[bytes], checkpoint: str) -> bytes:
    """Encode an ``add-checkpoint`` body (tlog-witness)."""
    lines = [f"old {old_size}", *(b64encode(h) for h in proof)]
    return ("".join(line + "\n" for line in lines) + "\n" + checkpoint).encode("utf-8")


def parse_add_checkpoint(body: bytes, *, max_size: int = MAX_REQUEST_SIZE) -> AddCheckpointRequest:
    """Parse an ``add-checkpoint`` body strictly; the note is checked only for UTF-8.

    Raises:
        MalformedData: any deviation from the format, or larger than ``max_size``.
    """
    if len(body) > max_size:
        raise MalformedData(f"add-checkpoint body is larger than {max_size} bytes")
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedData("add-checkpoint body is not valid UTF-8") from exc
    head, sep, checkpoint = text.partition("\n\n")
    if not sep:
        raise MalformedData("add-checkpoint body has no blank line before the checkpoint")
    lines = head.split("\n")
    match = _OLD.fullmatch(lines[0])
    if match is None:
        raise MalformedData("add-checkpoint body does not start with an old size line")
    old_size = parse_size(match.group(1))
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise MalformedData(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = tuple(b64decode(line) for line in lines[1:])
    try:
        return AddCheckpointRequest(old_size, proof, checkpoint)
    except InvalidInput as exc:
        raise MalformedData(f"invalid add-checkpoint request: {exc.message}") from exc


def format_size_conflict(size: int) -> bytes:
    """The 409 body: the witness's latest cosigned size and a newline."""
    return f"{size}\n".encode("ascii")


def parse_size_conflict(body: bytes) -> int:
    """Parse a 409 body from a witness; raises ``MalformedData``."""
    if not body.endswith(b"\n"):
        raise MalformedData("size conflict body must end with a newline")
    try:
        text = body[:-1].decode("ascii")
    except UnicodeDecodeError as exc:
        raise MalformedData("size conflict body is not ASCII") from exc
    return parse_size(text)


@dataclass(frozen=True, slots=True)
class WitnessState:
    """The latest checkpoint this witness cosigned for one origin.

    ``checkpoint`` is that signed note as received: evidence if the log later forks.
    """

    origin: str
    size: int
    root_hash: bytes
    checkpoint: str


@dataclass(frozen=True, slots=True)
class WitnessDecision:
    """A successful ``add-checkpoint``: persist ``state``, then answer ``response_body``."""

    state: WitnessState
    cosignatures: tuple[NoteSignature, ...]

    def response_body(self) -> bytes:
        """The 200 body: one cosignature line per witness key."""
        return "".join(s.line() for s in self.cosignatures).encode("utf-8")


def decide(
    request: AddCheckpointRequest,
    *,
    log_verifiers: Sequence[NoteVerifier],
    cosigners: Sequence[Cosigner],
    state: WitnessState | None,
    now: int,
) -> WitnessDecision:
    """Decide an ``add-checkpoint`` request (c2sp.org/tlog-witness).

    Args:
        request: the parsed request.
        log_verifiers: the keys trusted for the request's origin (empty: unknown log).
        cosigners: this witness's key(s); each returns one cosignature.
        state: the latest checkpoint cosigned for this origin, or ``None``.
        now: the current time, POSIX seconds (the cosignature timestamp).

    Raises:
        NotFound, SignatureInvalid, MalformedData, OldSizeMismatch, Equivocation: see the
            module docstring.
    """
    if not log_verifiers:
        raise NotFound("unknown log origin")
    if not cosigners:
        raise InvalidInput("a witness needs at least one cosigner key")
    signed = open_checkpoint(request.checkpoint, log_verifiers)
    checkpoint = signed.checkpoint
    if state is not None and state.origin != checkpoint.origin:
        raise InvalidInput(f"state is for {state.origin!r}, checkpoint for {checkpoint.origin!r}")
    if request.old_size > checkpoint.size:
        raise MalformedData(
            f"old size {request.old_size} is larger than checkpoint size {checkpoint.size}"
        )
    known_size = 0 if state is None else state.size
    if request.old_size != known_size:
        raise OldSizeMismatch(known_size, request.old_size)
    if state is not None:
        _check_consistent(state, request, checkpoint)
    new_state = WitnessState(checkpoint.origin, checkpoint.size, checkpoint.root_hash, signed.raw)
    return WitnessDecision(new_state, tuple(c.cosign(checkpoint, now) for c in cosigners))


def _check_consistent(
    state: WitnessState, request: AddCheckpointRequest, checkpoint: Checkpoint
) -> None:
    if state.size == checkpoint.size and request.proof:
        raise MalformedData("the proof must be empty when the sizes are equal")
    evidence = {
        "origin": checkpoint.origin,
        "cosigned_checkpoint": state.checkpoint,
        "new_checkpoint": request.checkpoint,
        "old_size": state.size,
        "new_size": checkpoint.size,
        "proof": [b64encode(h) for h in request.proof],
    }
    if state.size == checkpoint.size:
        if state.root_hash != checkpoint.root_hash:
            raise Equivocation(
                f"two checkpoints of size {state.size} with different roots",
                evidence={**evidence, "reason": "same-size-different-root"},
            )
        return
    try:
        verify_consistency(
            state.size, checkpoint.size, state.root_hash, checkpoint.root_hash, request.proof
        )
    except ProofInvalid as exc:
        raise Equivocation(
            f"checkpoint of size {checkpoint.size} is not proven consistent with size "
            f"{state.size}: {exc.message}",
            evidence={**evidence, "reason": "consistency-proof-failed", "detail": exc.message},
        ) from exc


def accept_cosignatures(
    checkpoint: Checkpoint, body: bytes, verifiers: Iterable[CosignatureVerifier]
) -> tuple[NoteSignature, ...]:
    """Log side: check a witness's 200 body and keep its cosignatures to attach.

    Lines by unknown keys are dropped; a known key's bad line, or no line by a known key,
    raises ``SignatureInvalid``.
    """
    known = {(v.name, v.key_id): v for v in verifiers}
    body_bytes = checkpoint.body()
    kept: dict[tuple[str, int], NoteSignature] = {}
    for sig in parse_signature_lines(body):
        verifier = known.get((sig.name, sig.key_id))
        if verifier is not None and (sig.name, sig.key_id) not in kept:
            verifier.verify_cosignature(body_bytes, sig)
            kept[(sig.name, sig.key_id)] = sig
    if not kept:
        raise SignatureInvalid(
            "witness response holds no cosignature by a known witness key",
            evidence={"checkpoint": checkpoint.text(), "response": body.decode("utf-8", "replace")},
        )
    return tuple(kept.values())
