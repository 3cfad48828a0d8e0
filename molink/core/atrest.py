"""Small secrets sealed at rest with a key derived from the party's own signing seed.

The database of a node holds secrets that must not be readable by whoever copies the
file: an operator's TOTP seed is the second factor of every console login. Such a value
is stored as ``enc1:`` + base64url(nonce || AES-256-GCM ciphertext), under a key derived
with HKDF-SHA256 (RFC 5869) from the party's Ed25519 seed and a purpose label, and bound
by the associated data to the row it belongs to (an operator's id), so a sealed value
copied onto another operator's row does not open.

The party's seed lives in the passphrase-protected key file, never in the database: a
stolen database alone yields no TOTP seed. After a key rotation the retired keys still
open what the old key sealed (``open_at_rest`` tries every key it is given).

Values written before sealing existed (plain base32) are recognised by the missing
prefix; callers reseal them at the next good use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from molink.core.b64 import b64url_decode, b64url_encode
from molink.core.keys import PartyKeys
from molink.errors import MolinkError, StorageError

__all__ = ["PREFIX", "at_rest_key", "is_sealed", "open_at_rest", "seal_at_rest"]

PREFIX = "enc1:"
_SALT = b"molink at-rest v1"
_NONCE = 12


def at_rest_key(keys: PartyKeys, purpose: str) -> bytes:
    """The 256-bit key for ``purpose`` (e.g. ``"totp"``), derived from the signing seed."""
    seed = keys.sig_private.private_bytes_raw()
    hkdf = HKDF(algorithm=SHA256(), length=32, salt=_SALT, info=purpose.encode("utf-8"))
    return hkdf.derive(seed)


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def seal_at_rest(key: bytes, plaintext: str, *, aad: str, random: Callable[[int], bytes]) -> str:
    """Seal ``plaintext`` for the row named by ``aad``."""
    nonce = random(_NONCE)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), aad.encode("utf-8"))
    return PREFIX + b64url_encode(nonce + sealed)


def open_at_rest(keys: Sequence[bytes], value: str, *, aad: str) -> str:
    """Open a sealed value with the first key that fits; ``StorageError`` if none does."""
    if not is_sealed(value):
        raise StorageError("the stored secret is not sealed")
    try:
        raw = b64url_decode(value[len(PREFIX) :])
    except MolinkError as exc:
        raise StorageError("the stored secret is damaged") from exc
    if len(raw) < _NONCE + 16:
        raise StorageError("the stored secret is damaged")
    nonce, sealed = raw[:_NONCE], raw[_NONCE:]
    for key in keys:
        try:
            return AESGCM(key).decrypt(nonce, sealed, aad.encode("utf-8")).decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            continue
    raise StorageError(
        "the stored secret does not open with this party's keys "
        "(another node's database, a lost retired key, or a changed row)"
    )
