"""The JOSE primitives molink uses, on the ``cryptography`` library.

* JWS Compact Serialization (RFC 7515 §7.1) with ``alg: Ed25519``
  (RFC 9864, the fully-specified form of RFC 8037's EdDSA).
* JWE General JSON Serialization (RFC 7516 §7.2.1) with ``ECDH-ES+A256KW``
  key agreement per recipient (RFC 7518 §4.6, X25519 per RFC 8037) and
  ``A256GCM`` content encryption, with the JWE ``aad`` member carrying the
  routing header so that it is authenticated but readable (RFC 7516 §5.1).

These are small and fixed, so molink writes them directly over the primitives
instead of going through a generic JOSE library: that keeps the envelope cost
near the raw primitives. Interoperability with two independent libraries
(joserfc and jwcrypto), in both directions, is pinned by the test suite.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from molink.core.b64 import b64url_decode, b64url_encode
from molink.core.canonical import canonical_json, parse_json
from molink.errors import DecryptionFailed, MalformedData, SignatureInvalid, WrongRecipient

__all__ = [
    "JWE_ALG",
    "JWE_ENC",
    "JWS_ALG",
    "CompactJws",
    "JweRecipientKey",
    "Random",
    "jwe_open",
    "jwe_seal",
    "jws_parse",
    "jws_sign",
]

JWS_ALG = "Ed25519"
JWE_ALG = "ECDH-ES+A256KW"
JWE_ENC = "A256GCM"
_ACCEPTED_JWS_ALGS = frozenset({"Ed25519", "EdDSA"})
_X25519_P = 2**255 - 19
Random = Callable[[int], bytes]


@dataclass(frozen=True, slots=True)
class CompactJws:
    """A parsed, NOT yet verified, compact JWS. ``text`` is exactly what was received."""

    text: str
    header: dict[str, Any]
    payload: bytes
    signature: bytes

    @classmethod
    def sign(cls, payload: bytes, key: Ed25519PrivateKey, *, kid: str, typ: str) -> CompactJws:
        """Sign ``payload`` with a canonical protected header (RFC 7515 §5.1).

        The result is what :func:`jws_parse` would return for the serialisation, built
        from the parts in hand instead of parsing them back.
        """
        header = {"alg": JWS_ALG, "kid": kid, "typ": typ}
        signing_input = f"{_jws_header(kid, typ)}.{b64url_encode(payload)}"
        signature = key.sign(signing_input.encode("ascii"))
        text = f"{signing_input}.{b64url_encode(signature)}"
        return cls(text=text, header=header, payload=payload, signature=signature)

    @property
    def signing_input(self) -> bytes:
        return self.text[: self.text.rindex(".")].encode("ascii")

    @property
    def kid(self) -> str:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else ""

    def verify(self, public_key: bytes) -> None:
        """Verify the Ed25519 signature over the received signing input (RFC 7515 §5.2).

        Raises:
            SignatureInvalid: the signature does not verify under ``public_key``.
        """
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(
                self.signature, self.signing_input
            )
        except (InvalidSignature, ValueError) as exc:
            raise SignatureInvalid(
                "JWS signature does not verify", evidence={"jws": self.text}
            ) from exc

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the compact serialisation, as logged and receipted."""
        return hashlib.sha256(self.text.encode("ascii")).hexdigest()


@functools.lru_cache(maxsize=64)
def _jws_header(kid: str, typ: str) -> str:
    """The base64url protected header; a party signs with one or two (kid, typ) pairs."""
    return b64url_encode(canonical_json({"alg": JWS_ALG, "kid": kid, "typ": typ}))


def jws_sign(payload: bytes, key: Ed25519PrivateKey, *, kid: str, typ: str) -> str:
    """Sign ``payload`` as a compact JWS with a canonical protected header."""
    return CompactJws.sign(payload, key, kid=kid, typ=typ).text


def jws_parse(text: str, *, max_len: int = 1 << 20) -> CompactJws:
    """Parse a compact JWS strictly. Does not verify: call ``CompactJws.verify``.

    Raises:
        MalformedData: not a compact JWS with an Ed25519 protected header.
    """
    if not isinstance(text, str) or len(text) > max_len or not text.isascii():
        raise MalformedData("JWS must be an ASCII string within the size limit")
    parts = text.split(".")
    if len(parts) != 3:
        raise MalformedData("compact JWS has three parts")
    header = parse_json(b64url_decode(parts[0]))
    alg = header.get("alg") if isinstance(header, dict) else None
    if not isinstance(alg, str) or alg not in _ACCEPTED_JWS_ALGS:
        raise MalformedData("JWS header must name alg Ed25519")
    if "crit" in header:
        raise MalformedData("JWS crit header parameters are not supported")
    signature = b64url_decode(parts[2])
    if len(signature) != 64:
        raise MalformedData("Ed25519 signatures are 64 bytes")
    return CompactJws(
        text=text, header=header, payload=b64url_decode(parts[1]), signature=signature
    )


@dataclass(frozen=True, slots=True)
class JweRecipientKey:
    """One recipient of a sealed envelope: its X25519 public key and RFC 7638 kid."""

    kid: str
    public: bytes


def _concat_kdf(shared: bytes, alg: str, apu: bytes, apv: bytes) -> bytes:
    """NIST SP 800-56A Concat KDF as profiled by RFC 7518 §4.6.2, for a 256-bit key."""

    def _len_prefixed(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data

    other = _len_prefixed(alg.encode()) + _len_prefixed(apu) + _len_prefixed(apv)
    other += (256).to_bytes(4, "big")
    return hashlib.sha256(b"\x00\x00\x00\x01" + shared + other).digest()


_PROTECTED = {"cty": "JOSE", "enc": JWE_ENC, "typ": "molink-env"}
_PROTECTED_B64 = b64url_encode(canonical_json(_PROTECTED))


def jwe_seal(
    plaintext: bytes,
    recipients: Sequence[JweRecipientKey],
    *,
    aad: bytes,
    random: Random = os.urandom,
) -> dict[str, Any]:
    """Encrypt ``plaintext`` to every recipient; ``aad`` is authenticated, not encrypted."""
    if not recipients:
        raise MalformedData("a sealed envelope needs at least one recipient")
    cek = random(32)
    entries = []
    for recipient in recipients:
        eph = X25519PrivateKey.from_private_bytes(random(32))
        shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient.public))
        kek = _concat_kdf(shared, JWE_ALG, b"", b"")
        epk = eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        entries.append(
            {
                "header": {
                    "alg": JWE_ALG,
                    "kid": recipient.kid,
                    "epk": {"kty": "OKP", "crv": "X25519", "x": b64url_encode(epk)},
                },
                "encrypted_key": b64url_encode(aes_key_wrap(kek, cek)),
            }
        )
    protected = _PROTECTED_B64
    aad_b64 = b64url_encode(aad)
    iv = random(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, f"{protected}.{aad_b64}".encode("ascii"))
    return {
        "protected": protected,
        "aad": aad_b64,
        "iv": b64url_encode(iv),
        "ciphertext": b64url_encode(sealed[:-16]),
        "tag": b64url_encode(sealed[-16:]),
        "recipients": entries,
    }


def _member(envelope: Mapping[str, Any], name: str) -> str:
    value = envelope.get(name)
    if not isinstance(value, str):
        raise MalformedData(f"JWE member {name!r} missing or not a string")
    return value


def _find_recipient(envelope: Mapping[str, Any], kid: str) -> dict[str, Any]:
    recipients = envelope.get("recipients")
    if not isinstance(recipients, list) or not recipients or len(recipients) > 64:
        raise MalformedData("JWE 'recipients' must be a non-empty array")
    for entry in recipients:
        if not isinstance(entry, dict) or not isinstance(entry.get("header"), dict):
            raise MalformedData("JWE recipient entry lacks a header")
        if entry["header"].get("kid") == kid:
            return entry
    raise WrongRecipient(f"envelope is not sealed to key {kid}")


def jwe_open(envelope: Mapping[str, Any], *, kid: str, private: X25519PrivateKey) -> bytes:
    """Decrypt a general-JSON JWE sealed by :func:`jwe_seal` (or any conforming sender).

    Raises:
        MalformedData: structure or headers are wrong.
        WrongRecipient: no entry for ``kid``.
        DecryptionFailed: the key unwrap or the GCM tag fails (tampering).
    """
    protected_b64 = _member(envelope, "protected")
    # Our own header (every molink envelope) needs no parsing; any other is parsed.
    if protected_b64 == _PROTECTED_B64:
        protected: Any = _PROTECTED
    else:
        protected = parse_json(b64url_decode(protected_b64))
    if not isinstance(protected, dict) or protected.get("enc") != JWE_ENC:
        raise MalformedData("JWE protected header must name enc A256GCM")
    if "crit" in protected or "zip" in protected:
        raise MalformedData("JWE crit and zip are not supported")
    entry = _find_recipient(envelope, kid)
    header = entry["header"]
    epk = header.get("epk")
    if header.get("alg") != JWE_ALG or not isinstance(epk, dict) or epk.get("crv") != "X25519":
        raise MalformedData("JWE recipient must use ECDH-ES+A256KW with an X25519 epk")
    epk_raw = b64url_decode(str(epk.get("x", "")))
    if len(epk_raw) != 32 or int.from_bytes(epk_raw, "little") >= _X25519_P:
        # RFC 7748 §5 ignores the top bit and reduces mod p: refusing non-canonical
        # encodings keeps the envelope from having two spellings that both open.
        raise MalformedData("X25519 epk must be 32 bytes, canonically encoded")
    apu = b64url_decode(header["apu"]) if isinstance(header.get("apu"), str) else b""
    apv = b64url_decode(header["apv"]) if isinstance(header.get("apv"), str) else b""
    aad_b64 = envelope.get("aad")
    auth = protected_b64 if aad_b64 is None else f"{protected_b64}.{aad_b64}"
    iv = b64url_decode(_member(envelope, "iv"))
    body = b64url_decode(_member(envelope, "ciphertext")) + b64url_decode(_member(envelope, "tag"))
    wrapped = b64url_decode(_member(entry, "encrypted_key"))
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(epk_raw))
        cek = aes_key_unwrap(_concat_kdf(shared, JWE_ALG, apu, apv), wrapped)
        return AESGCM(cek).decrypt(iv, body, auth.encode("ascii"))
    except (InvalidUnwrap, InvalidTag, ValueError) as exc:
        raise DecryptionFailed(
            "envelope does not decrypt: ciphertext, key or header was altered",
            evidence={"envelope": json.dumps(dict(envelope), sort_keys=True)},
        ) from exc
