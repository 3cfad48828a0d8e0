"""Party identity: an Ed25519 signing key and an X25519 encryption key.

Public keys are exported as JWK (RFC 8037 OKP) with the RFC 7638 thumbprint
as ``kid``. :func:`fingerprint` renders a party's public keys as groups of
digits that two officers can read to each other over a phone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from molink.core.b64 import b64url_decode, b64url_encode
from molink.core.canonical import canonical_json
from molink.errors import InvalidInput, MalformedData

__all__ = [
    "PartyKeys",
    "PartyPublicKeys",
    "fingerprint",
    "is_party_id",
    "jwk_thumbprint",
]

_RAW = serialization.Encoding.Raw
_RAW_PUB = serialization.PublicFormat.Raw
_RAW_PRIV = serialization.PrivateFormat.Raw
_NO_ENC = serialization.NoEncryption()


_PARTY_ID = re.compile(r"[A-Z0-9-]{2,16}")


def is_party_id(value: str) -> bool:
    """A party id is 2-16 characters of A-Z, 0-9 and '-' (e.g. ``US``, ``RU``, ``AE``)."""
    return isinstance(value, str) and _PARTY_ID.fullmatch(value) is not None


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) of an OKP or EC/RSA/oct public JWK."""
    required = {
        "OKP": ("crv", "kty", "x"),
        "EC": ("crv", "kty", "x", "y"),
        "RSA": ("e", "kty", "n"),
        "oct": ("k", "kty"),
    }
    kty = jwk.get("kty")
    if not isinstance(kty, str) or kty not in required:
        raise MalformedData(f"unsupported JWK kty {kty!r}")
    try:
        members = {name: jwk[name] for name in required[kty]}
    except KeyError as exc:
        raise MalformedData(f"JWK lacks member {exc.args[0]!r}") from exc
    return b64url_encode(hashlib.sha256(canonical_json(members)).digest())


def _okp_jwk(crv: str, raw: bytes, use: str, alg: str) -> dict[str, str]:
    jwk = {"kty": "OKP", "crv": crv, "x": b64url_encode(raw)}
    return {**jwk, "kid": jwk_thumbprint(jwk), "use": use, "alg": alg}


@dataclass(frozen=True, slots=True)
class PartyPublicKeys:
    """A party's public keys, as pinned by its peers.

    Invariant: both keys are valid 32-byte OKP keys; ``sig_kid``/``enc_kid`` are their
    RFC 7638 thumbprints. The JWKs and thumbprints are derived once, at construction
    (they sit on the path of every message), and take no part in equality or ``repr``.
    """

    party: str
    sig_public: bytes
    enc_public: bytes
    _sig_jwk: dict[str, str] = field(init=False, repr=False, compare=False)
    _enc_jwk: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not is_party_id(self.party):
            raise InvalidInput(f"invalid party id {self.party!r}")
        if len(self.sig_public) != 32 or len(self.enc_public) != 32:
            raise MalformedData("OKP public keys are 32 bytes")
        sig_jwk = _okp_jwk("Ed25519", self.sig_public, "sig", "Ed25519")
        enc_jwk = _okp_jwk("X25519", self.enc_public, "enc", "ECDH-ES+A256KW")
        object.__setattr__(self, "_sig_jwk", sig_jwk)
        object.__setattr__(self, "_enc_jwk", enc_jwk)

    @property
    def sig_jwk(self) -> dict[str, str]:
        return dict(self._sig_jwk)

    @property
    def enc_jwk(self) -> dict[str, str]:
        return dict(self._enc_jwk)

    @property
    def sig_kid(self) -> str:
        return self._sig_jwk["kid"]

    @property
    def enc_kid(self) -> str:
        return self._enc_jwk["kid"]

    def jwks(self) -> dict[str, Any]:
        """The public JWKS served at ``/federation/v1/keys``."""
        return {"keys": [self.sig_jwk, self.enc_jwk]}

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Raw Ed25519 verification (RFC 8032) of ``data``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.sig_public).verify(signature, data)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def from_jwks(cls, party: str, jwks: Mapping[str, Any]) -> PartyPublicKeys:
        """Read the Ed25519 ``sig`` key and X25519 ``enc`` key from a JWKS."""
        keys = jwks.get("keys")
        if not isinstance(keys, list):
            raise MalformedData("JWKS lacks a 'keys' array")
        found: dict[str, bytes] = {}
        for key in keys:
            if not isinstance(key, dict) or key.get("kty") != "OKP":
                continue
            crv = key.get("crv")
            if crv in ("Ed25519", "X25519") and crv not in found:
                raw = b64url_decode(str(key.get("x", "")))
                if "kid" in key and key["kid"] != jwk_thumbprint(key):
                    raise MalformedData(f"JWK kid does not match its thumbprint ({crv})")
                found[crv] = raw
        if set(found) != {"Ed25519", "X25519"}:
            raise MalformedData("JWKS needs one Ed25519 and one X25519 key")
        return cls(party=party, sig_public=found["Ed25519"], enc_public=found["X25519"])


@dataclass(frozen=True, slots=True)
class PartyKeys:
    """A party's private keys. Never logged, never serialised except by ``keyfile``.

    ``public`` is derived on first use and kept (it sits on the path of every message).
    """

    party: str
    sig_private: Ed25519PrivateKey
    enc_private: X25519PrivateKey
    _public: PartyPublicKeys | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def generate(cls, party: str) -> PartyKeys:
        return cls(
            party=party,
            sig_private=Ed25519PrivateKey.generate(),
            enc_private=X25519PrivateKey.generate(),
        )

    @classmethod
    def from_seeds(cls, party: str, sig_seed: bytes, enc_seed: bytes) -> PartyKeys:
        if len(sig_seed) != 32 or len(enc_seed) != 32:
            raise InvalidInput("private key seeds are 32 bytes")
        return cls(
            party=party,
            sig_private=Ed25519PrivateKey.from_private_bytes(sig_seed),
            enc_private=X25519PrivateKey.from_private_bytes(enc_seed),
        )

    def seeds(self) -> tuple[bytes, bytes]:
        """The raw private seeds (for the encrypted key file only)."""
        return (
            self.sig_private.private_bytes(_RAW, _RAW_PRIV, _NO_ENC),
            self.enc_private.private_bytes(_RAW, _RAW_PRIV, _NO_ENC),
        )

    @property
    def public(self) -> PartyPublicKeys:
        public = self._public
        if public is None:
            public = PartyPublicKeys(
                party=self.party,
                sig_public=self.sig_private.public_key().public_bytes(_RAW, _RAW_PUB),
                enc_public=self.enc_private.public_key().public_bytes(_RAW, _RAW_PUB),
            )
            object.__setattr__(self, "_public", public)
        return public

    def sign(self, data: bytes) -> bytes:
        """Raw Ed25519 signature (RFC 8032) over ``data``."""
        return self.sig_private.sign(data)

    def sig_private_jwk(self) -> dict[str, str]:
        seed = self.seeds()[0]
        return {**self.public.sig_jwk, "d": b64url_encode(seed)}

    def enc_private_jwk(self) -> dict[str, str]:
        seed = self.seeds()[1]
        return {**self.public.enc_jwk, "d": b64url_encode(seed)}


def fingerprint(public: PartyPublicKeys) -> str:
    """A phone-readable fingerprint: 8 groups of 5 digits over both key thumbprints.

    It commits to the party id and both public keys (about 132 bits), like Signal's
    safety numbers, so two officers can compare it by reading it aloud.
    """
    material = canonical_json({"party": public.party, "sig": public.sig_kid, "enc": public.enc_kid})
    digest = hashlib.sha256(b"molink-fingerprint-v1\n" + material).digest()
    groups = []
    for i in range(8):
        chunk = int.from_bytes(digest[i * 4 : i * 4 + 4], "big") % 100_000
        groups.append(f"{chunk:05d}")
    return " ".join(groups)
