"""Terminal identity: Ed25519 keys, ids, fingerprints and the signed login/enrolment texts.

Every client terminal (console browser, CLI install, automation client) holds its own
Ed25519 key pair (RFC 8032). The node knows only the public key. A terminal proves
possession by signing a short text that names its purpose, the node's party, the
terminal and a fresh server challenge, so a signature cannot be replayed for another
purpose, node, terminal or operator. The texts are UTF-8, lines joined by ``\\n`` and
ending with ``\\n``:

* enrolment: ``molink-enrol-v1 / <party> / <public key b64url> / <kind> / <unit> / <label>``
* login: ``molink-login-v1 / <party> / <terminal id> / <operator id> / <challenge>``

(``/`` stands for a newline.) ``docs/roles.md`` documents the same for the web console.
"""

from __future__ import annotations

import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from molink.core.b64 import b64url_decode, b64url_encode
from molink.errors import InvalidInput, MalformedData, NotAuthenticated

__all__ = [
    "KINDS",
    "enrol_text",
    "login_text",
    "parse_public_key",
    "terminal_fingerprint",
    "terminal_id",
    "validate_label",
    "validate_unit",
    "verify_proof",
]

KINDS = ("console", "cli", "automation")
_UNIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_public_key(text: str) -> bytes:
    """A raw 32-byte Ed25519 public key from base64url (no padding)."""
    try:
        raw = b64url_decode(text)
    except MalformedData as exc:
        raise InvalidInput("public_key must be base64url (no padding)") from exc
    if len(raw) != 32:
        raise InvalidInput("public_key must be a raw 32-byte Ed25519 public key")
    try:
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise InvalidInput("public_key is not an Ed25519 public key") from exc
    return raw


def terminal_id(public_key: bytes) -> str:
    """The terminal's id: ``trm-`` and 20 hex digits of SHA-256 over its public key."""
    return "trm-" + hashlib.sha256(public_key).hexdigest()[:20]


def terminal_fingerprint(public_key: bytes) -> str:
    """Six groups of five digits, to compare on the terminal's screen and the admin's."""
    digest = hashlib.sha256(b"molink-terminal-v1\n" + public_key).digest()
    return " ".join(
        f"{int.from_bytes(digest[i * 4 : i * 4 + 4], 'big') % 100_000:05d}" for i in range(6)
    )


def validate_unit(unit: str) -> str:
    if not _UNIT.fullmatch(unit):
        raise InvalidInput("unit: 1-64 of A-Z, a-z, 0-9, '.', '_', '-' (starting alphanumeric)")
    return unit


def validate_label(label: str) -> str:
    if not 1 <= len(label) <= 200 or _CONTROL.search(label) or label != label.strip():
        raise InvalidInput("label: 1-200 characters, no control characters, no outer spaces")
    return label


def enrol_text(party: str, public_key: bytes, kind: str, unit: str, label: str) -> bytes:
    """The text a terminal signs to enrol (proves it holds the private key)."""
    lines = ["molink-enrol-v1", party, b64url_encode(public_key), kind, unit, label]
    return ("\n".join(lines) + "\n").encode("utf-8")


def login_text(party: str, terminal: str, operator: str, challenge: str) -> bytes:
    """The text a terminal signs to log an operator in against a server challenge."""
    lines = ["molink-login-v1", party, terminal, operator, challenge]
    return ("\n".join(lines) + "\n").encode("utf-8")


def verify_proof(public_key: bytes, text: bytes, signature: str) -> None:
    """Check an Ed25519 signature (64 bytes, base64url) by the terminal over ``text``."""
    try:
        raw = b64url_decode(signature)
    except MalformedData as exc:
        raise NotAuthenticated("signature must be base64url (no padding)") from exc
    if len(raw) != 64:
        raise NotAuthenticated("signature must be a 64-byte Ed25519 signature")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(raw, text)
    except InvalidSignature as exc:
        raise NotAuthenticated("the terminal's signature does not verify") from exc
