"""Private keys at rest: a passphrase-encrypted key file.

Format ``molink-keyfile/1`` (documented in docs/formats.md) is a JSON object::

    {"format": "molink-keyfile/1", "party": "US",
     "kdf": {"alg": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": "<b64url 16 bytes>"},
     "enc": "A256GCM", "nonce": "<b64url 12 bytes>", "ciphertext": "<b64url>"}

The key-encryption key is scrypt(passphrase, salt, n, r, p, 32 bytes). The plaintext
is canonical JSON ``{"enc_seed": ..., "sig_seed": ...}`` (base64url seeds); the
additional authenticated data is the canonical JSON of every member except
``nonce`` and ``ciphertext``, so the header cannot be altered either. The file
is written with mode 0600 by the storage layer.
"""

from __future__ import annotations

import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from molink.core.b64 import b64url_decode, b64url_encode
from molink.core.canonical import canonical_json, parse_json
from molink.core.jose import Random
from molink.core.keys import PartyKeys
from molink.errors import InvalidInput, KeyFileError, MalformedData, WrongPassphrase

__all__ = ["FORMAT", "decrypt_keyfile", "encrypt_keyfile"]

FORMAT = "molink-keyfile/1"
_MIN_N = 2**14
_MAX_N = 2**20


def _kek(passphrase: str, kdf: dict[str, Any]) -> bytes:
    salt = b64url_decode(kdf["salt"])
    return Scrypt(salt=salt, length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(
        passphrase.encode("utf-8")
    )


def encrypt_keyfile(
    keys: PartyKeys, passphrase: str, *, n: int = 2**15, random: Random = os.urandom
) -> bytes:
    """Encrypt ``keys`` under ``passphrase``; returns the file's bytes."""
    if not passphrase:
        raise KeyFileError("an empty passphrase is not allowed")
    if not _MIN_N <= n <= _MAX_N or n & (n - 1):
        raise KeyFileError("scrypt n must be a power of two between 2^14 and 2^20")
    header: dict[str, Any] = {
        "format": FORMAT,
        "party": keys.party,
        "kdf": {"alg": "scrypt", "n": n, "r": 8, "p": 1, "salt": b64url_encode(random(16))},
        "enc": "A256GCM",
    }
    sig_seed, enc_seed = keys.seeds()
    plaintext = canonical_json(
        {"enc_seed": b64url_encode(enc_seed), "sig_seed": b64url_encode(sig_seed)}
    )
    nonce = random(12)
    sealed = AESGCM(_kek(passphrase, header["kdf"])).encrypt(
        nonce, plaintext, canonical_json(header)
    )
    body = {**header, "nonce": b64url_encode(nonce), "ciphertext": b64url_encode(sealed)}
    return canonical_json(body) + b"\n"


def decrypt_keyfile(data: bytes, passphrase: str) -> PartyKeys:
    """Decrypt a key file.

    Raises:
        KeyFileError: the file is not a molink key file.
        WrongPassphrase: the passphrase does not open it (or the file was altered).
    """
    try:
        body = parse_json(data)
        header = {k: v for k, v in body.items() if k not in ("nonce", "ciphertext")}
        kdf = header["kdf"]
        if header.get("format") != FORMAT or kdf.get("alg") != "scrypt":
            raise KeyFileError(f"not a {FORMAT} file")
        if not (_MIN_N <= int(kdf["n"]) <= _MAX_N and kdf["r"] == 8 and kdf["p"] == 1):
            raise KeyFileError("unsupported scrypt parameters")
        nonce = b64url_decode(body["nonce"])
        sealed = b64url_decode(body["ciphertext"])
        aad = canonical_json(header)
        kek = _kek(passphrase, kdf)
    except (MalformedData, InvalidInput, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise KeyFileError(f"not a readable {FORMAT} file") from exc
    try:
        plaintext = AESGCM(kek).decrypt(nonce, sealed, aad)
    except (InvalidTag, ValueError) as exc:
        raise WrongPassphrase("wrong passphrase for this key file") from exc
    seeds = parse_json(plaintext)
    return PartyKeys.from_seeds(
        str(header["party"]), b64url_decode(seeds["sig_seed"]), b64url_decode(seeds["enc_seed"])
    )
