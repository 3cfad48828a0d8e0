"""C2SP tlog-cosignature ``cosignature/v1``: timestamped Ed25519 witness cosignatures.

A cosignature (c2sp.org/tlog-cosignature) is a note signature line on a checkpoint, by
a key of signature type ``0x04``. The signed message is::

    cosignature/v1\\n
    time <POSIX seconds, decimal>\\n
    <checkpoint note text, with its final newline>

and the signature bytes (after the 4-byte key ID) are ``timestamp (u64, big-endian) ||
Ed25519 signature (64 bytes)``. It states: as of that time, this is the largest
consistent tree the cosigner has seen for the origin.

Time is always passed in (``int`` seconds); nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from molink.core.checkpoint import Checkpoint
from molink.core.note import (
    NoteSignature,
    SeedSigner,
    VerifierKey,
    parse_note,
)
from molink.errors import InvalidInput, MalformedData, SignatureInvalid

__all__ = [
    "COSIGNATURE_TYPE",
    "MAX_TIMESTAMP",
    "Cosignature",
    "CosignatureVerifier",
    "Cosigner",
    "cosignature_timestamp",
    "cosigned_message",
    "verify_cosignatures",
]

COSIGNATURE_TYPE = 0x04
"""Signature type byte of Ed25519 ``cosignature/v1`` keys."""

MAX_TIMESTAMP = 2**63 - 1
"""Largest timestamp a cosignature may carry (c2sp.org/tlog-cosignature)."""

_HEADER = b"cosignature/v1\ntime "
_SIG_SIZE = 8 + 64


def cosigned_message(checkpoint_body: bytes, timestamp: int) -> bytes:
    """The exact bytes an Ed25519 ``cosignature/v1`` signs."""
    _check_timestamp(timestamp)
    return _HEADER + str(timestamp).encode("ascii") + b"\n" + checkpoint_body


def _check_timestamp(timestamp: int) -> None:
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise InvalidInput("a cosignature timestamp is an int (POSIX seconds)")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise InvalidInput(f"cosignature timestamp {timestamp} is out of range")


def cosignature_timestamp(signature: NoteSignature) -> int:
    """The timestamp a cosignature claims, NOT verified.

    Raises:
        MalformedData: the signature is not ``u64 || 64 bytes`` or the time is too large.
    """
    if len(signature.signature) != _SIG_SIZE:
        raise MalformedData("a cosignature/v1 signature is 72 bytes")
    timestamp = int.from_bytes(signature.signature[:8], "big")
    if timestamp > MAX_TIMESTAMP:
        raise MalformedData("cosignature timestamp is larger than 2**63 - 1")
    return timestamp


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A verified cosignature: who cosigned, and when (POSIX seconds)."""

    name: str
    key_id: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class CosignatureVerifier:
    """Verifies ``cosignature/v1`` signatures of one cosigner (key type ``0x04``).

    Also a :class:`molink.core.note.NoteVerifier`, so :func:`molink.core.note.open_note`
    accepts it; then the note text is the cosigned checkpoint body.
    """

    name: str
    public_key: bytes
    key_id: int = field(init=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        vkey = VerifierKey(self.name, COSIGNATURE_TYPE, self.public_key)
        if len(self.public_key) != 32:
            raise MalformedData("an Ed25519 public key is 32 bytes")
        try:
            key = Ed25519PublicKey.from_public_bytes(self.public_key)
        except ValueError as exc:
            raise MalformedData("invalid Ed25519 public key") from exc
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "key_id", vkey.key_id)

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        """Build from a vkey of type ``0x04``; raises ``MalformedData``."""
        parsed = VerifierKey.parse(vkey)
        if parsed.key_type != COSIGNATURE_TYPE:
            raise MalformedData(f"not a cosignature/v1 key (type {parsed.key_type:#04x})")
        return cls(parsed.name, parsed.public_key)

    @property
    def vkey(self) -> str:
        return str(VerifierKey(self.name, COSIGNATURE_TYPE, self.public_key))

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (``u64 || sig``) cosigns the checkpoint body ``message``."""
        if len(signature) != _SIG_SIZE:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        try:
            self._key.verify(signature[8:], cosigned_message(message, timestamp))
        except InvalidSignature:
            return False
        return True

    def verify_cosignature(self, checkpoint_body: bytes, signature: NoteSignature) -> int:
        """Check one cosignature line on ``checkpoint_body``; return its timestamp.

        Raises:
            SignatureInvalid: another key, or the signature does not verify.
        """
        evidence = {
            "checkpoint": checkpoint_body.decode("utf-8", "replace"),
            "cosignature": signature.line(),
        }
        if (signature.name, signature.key_id) != (self.name, self.key_id):
            raise SignatureInvalid("cosignature is by another key", evidence=evidence)
        if not self.verify(checkpoint_body, signature.signature):
            raise SignatureInvalid(
                f"invalid cosignature by {self.name}+{self.key_id:08x}", evidence=evidence
            )
        return int.from_bytes(signature.signature[:8], "big")


@dataclass(frozen=True, slots=True)
class Cosigner(SeedSigner):
    """A witness key producing ``cosignature/v1`` signatures. ``repr`` hides the seed.

    The spec requires a distinct key per cosigner: never reuse a log key or another
    cosigner's seed here.
    """

    SIG_TYPE: ClassVar[int] = COSIGNATURE_TYPE
    KIND: ClassVar[str] = "a cosignature/v1"

    @property
    def vkey(self) -> str:
        return self.verifier().vkey

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.public_key)

    def cosign(self, checkpoint: Checkpoint, timestamp: int) -> NoteSignature:
        """Cosign ``checkpoint`` as of ``timestamp`` (POSIX seconds); return the line."""
        message = cosigned_message(checkpoint.body(), timestamp)
        raw = timestamp.to_bytes(8, "big") + self._key.sign(message)
        return NoteSignature(self.name, self.key_id, raw)


def verify_cosignatures(
    signed_checkpoint: bytes | str, verifiers: Iterable[CosignatureVerifier]
) -> tuple[Cosignature, ...]:
    """Check the cosignatures on a signed checkpoint by the given cosigners.

    The log's own signature is NOT checked here (use
    :func:`molink.core.checkpoint.open_checkpoint`). Lines by unknown keys are ignored.
    One cosignature per cosigner is returned, in note order; the caller applies its
    quorum and its policy on timestamps in the future.

    Raises:
        MalformedData: the note cannot be parsed.
        SignatureInvalid: a known cosigner's line does not verify.
    """
    note = parse_note(signed_checkpoint)
    body = note.text.encode("utf-8")
    known = {(v.name, v.key_id): v for v in verifiers}
    found: dict[tuple[str, int], Cosignature] = {}
    for sig in note.signatures:
        key = (sig.name, sig.key_id)
        verifier = known.get(key)
        if verifier is None or key in found:
            continue
        timestamp = verifier.verify_cosignature(body, sig)
        found[key] = Cosignature(sig.name, sig.key_id, timestamp)
    return tuple(found.values())
