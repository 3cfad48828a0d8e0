"""The molink error tree.

Every error molink raises on purpose is a ``MolinkError``. Foreign exceptions
(``ValueError`` from a parser, ``InvalidSignature`` from ``cryptography``,
``httpx.ConnectError`` ...) are translated at the boundary with
``raise ... from exc``; they never leak to callers.

::

    MolinkError
    ├── ConfigError                  local configuration or key material is unusable
    │   └── KeyFileError
    │       └── WrongPassphrase
    ├── InvalidInput                 an operator's request is invalid (400/422)
    │   ├── OversizedInput           larger than the configured limit (413)
    │   └── DeadlinePassed
    ├── NotFound                     (404)
    ├── NotAuthenticated             no or bad credentials (401)
    ├── Forbidden                    authenticated, but not allowed (403)
    ├── RateLimited                  too many attempts, or locked out: retry later (429)
    ├── StateConflict                the action does not fit the current state (409)
    ├── PeerDataInvalid              the PEER's data is invalid: proof of misbehaviour
    │   ├── MalformedData            cannot be parsed at all
    │   ├── UnknownPeer              sender is not a pinned peer
    │   ├── SignatureInvalid         forged, or signed by the wrong key
    │   ├── DecryptionFailed         tampered ciphertext or wrong recipient
    │   │   └── WrongRecipient
    │   ├── RoutingMismatch          routing header disagrees with signed content
    │   ├── ClockSkewExceeded        creation time too far from our clock
    │   ├── ReplayDetected           same id, different content
    │   ├── ProofInvalid             an inclusion or consistency proof fails
    │   └── Equivocation             two signed checkpoints that cannot both be true
    ├── PeerUnreachable              the peer could not be reached (retry later)
    └── StorageError                 the local database failed (retry later)

Errors that prove misbehaviour carry their evidence in ``evidence`` so that an
operator can show it to the other party (STYLE.md point 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ClockSkewExceeded",
    "ConfigError",
    "DeadlinePassed",
    "DecryptionFailed",
    "Equivocation",
    "Forbidden",
    "InvalidInput",
    "KeyFileError",
    "MalformedData",
    "MolinkError",
    "NotAuthenticated",
    "NotFound",
    "OversizedInput",
    "PeerDataInvalid",
    "PeerUnreachable",
    "ProofInvalid",
    "RateLimited",
    "ReplayDetected",
    "RoutingMismatch",
    "SignatureInvalid",
    "StateConflict",
    "StorageError",
    "UnknownPeer",
    "WrongPassphrase",
    "WrongRecipient",
]


class MolinkError(Exception):
    """Root of every error molink raises on purpose.

    Attributes:
        code: a short stable slug, used as the problem type in the HTTP API.
        evidence: data that proves the problem (signed objects, proofs), if any.
    """

    code = "error"

    def __init__(self, message: str, *, evidence: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.evidence: dict[str, Any] = dict(evidence or {})


class ConfigError(MolinkError):
    code = "config"


class KeyFileError(ConfigError):
    code = "key-file"


class WrongPassphrase(KeyFileError):
    code = "wrong-passphrase"


class InvalidInput(MolinkError):
    code = "invalid-input"


class OversizedInput(InvalidInput):
    code = "too-large"


class DeadlinePassed(InvalidInput):
    code = "deadline-passed"


class NotFound(MolinkError):
    code = "not-found"


class NotAuthenticated(MolinkError):
    code = "not-authenticated"


class Forbidden(MolinkError):
    code = "forbidden"


class RateLimited(MolinkError):
    """Too many attempts (per source address), or the operator is locked out.

    ``retry_after_s`` says when to try again (the HTTP ``Retry-After`` header).
    """

    code = "rate-limited"

    def __init__(self, message: str, *, retry_after_s: int = 60) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, retry_after_s)


class StateConflict(MolinkError):
    code = "state-conflict"


class PeerDataInvalid(MolinkError):
    """The other side sent data that is invalid. Never retried: it is evidence."""

    code = "peer-data-invalid"


class MalformedData(PeerDataInvalid):
    code = "malformed"


class UnknownPeer(PeerDataInvalid):
    code = "unknown-peer"


class SignatureInvalid(PeerDataInvalid):
    code = "bad-signature"


class DecryptionFailed(PeerDataInvalid):
    code = "decryption-failed"


class WrongRecipient(DecryptionFailed):
    code = "wrong-recipient"


class RoutingMismatch(PeerDataInvalid):
    code = "routing-mismatch"


class ClockSkewExceeded(PeerDataInvalid):
    code = "clock-skew"


class ReplayDetected(PeerDataInvalid):
    code = "replay"


class ProofInvalid(PeerDataInvalid):
    code = "bad-proof"


class Equivocation(PeerDataInvalid):
    """A log showed two views that cannot both be true (a fork).

    ``evidence`` holds both signed checkpoints and the failed proof.
    """

    code = "equivocation"


class PeerUnreachable(MolinkError):
    """The peer could not be reached. Transient: the caller retries."""

    code = "peer-unreachable"


class StorageError(MolinkError):
    code = "storage"
