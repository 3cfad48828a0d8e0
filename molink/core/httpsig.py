"""HTTP Message Signatures (RFC 9421) with Ed25519, and Content-Digest (RFC 9530).

Every federation request is signed by the sending node's party key over::

    "@method": POST
    "@path": /federation/v1/envelopes
    "content-digest": sha-256=:<base64 SHA-256 of the body>:
    "@signature-params": ("@method" "@path" "content-digest");created=<t>;keyid="<k>";alg="ed25519"

carried as ``Signature-Input: sig1=(...)`` and ``Signature: sig1=:<base64>:``.
The receiver looks the ``keyid`` up among pinned peers before reading the body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from molink.errors import ClockSkewExceeded, MalformedData, SignatureInvalid

__all__ = [
    "SignatureParams",
    "content_digest",
    "parse_signature_input",
    "sign_request",
    "verify_request",
]

COMPONENTS = ("@method", "@path", "content-digest")
_INPUT = re.compile(
    r'^sig1=\(((?:"[a-z@-]+"\s?)*)\);created=(\d{1,12});keyid="([A-Za-z0-9_-]{1,64})";alg="ed25519"$'
)
_SIG = re.compile(r"^sig1=:([A-Za-z0-9+/=]{86,90}):$")


def content_digest(body: bytes) -> str:
    """RFC 9530 Content-Digest with SHA-256."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


@dataclass(frozen=True, slots=True)
class SignatureParams:
    keyid: str
    created: int
    components: tuple[str, ...]


def _params_value(keyid: str, created: int) -> str:
    inner = " ".join(f'"{c}"' for c in COMPONENTS)
    return f'({inner});created={created};keyid="{keyid}";alg="ed25519"'


def _base(method: str, path: str, digest: str, params: str) -> bytes:
    lines = [
        f'"@method": {method.upper()}',
        f'"@path": {path}',
        f'"content-digest": {digest}',
        f'"@signature-params": {params}',
    ]
    return "\n".join(lines).encode("utf-8")


def sign_request(
    key: Ed25519PrivateKey, *, keyid: str, method: str, path: str, body: bytes, now: datetime
) -> dict[str, str]:
    """The headers that sign a request: Content-Digest, Signature-Input, Signature."""
    digest = content_digest(body)
    params = _params_value(keyid, int(now.timestamp()))
    signature = key.sign(_base(method, path, digest, params))
    return {
        "Content-Digest": digest,
        "Signature-Input": f"sig1={params}",
        "Signature": f"sig1=:{base64.b64encode(signature).decode()}:",
    }


def parse_signature_input(headers: Mapping[str, str]) -> SignatureParams:
    """Read the keyid and parameters, without verifying (to find the peer first)."""
    match = _INPUT.match(headers.get("signature-input", "").strip())
    if not match:
        raise MalformedData("missing or unsupported Signature-Input (RFC 9421, sig1, ed25519)")
    components = tuple(c.strip('"') for c in match.group(1).split())
    if components != COMPONENTS:
        raise MalformedData(f"signature must cover exactly {list(COMPONENTS)}")
    return SignatureParams(keyid=match.group(3), created=int(match.group(2)), components=components)


def verify_request(
    public_key: bytes,
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    max_skew_s: int,
) -> SignatureParams:
    """Verify a signed request (headers are matched case-insensitively by the caller).

    Raises:
        MalformedData, SignatureInvalid, ClockSkewExceeded.
    """
    params = parse_signature_input(headers)
    if abs(int(now.timestamp()) - params.created) > max_skew_s:
        raise ClockSkewExceeded("request signature is outside the allowed clock skew")
    digest = headers.get("content-digest", "")
    if digest != content_digest(body):
        raise SignatureInvalid("Content-Digest does not match the body")
    match = _SIG.match(headers.get("signature", "").strip())
    if not match:
        raise MalformedData("missing or malformed Signature header")
    try:
        signature = base64.b64decode(match.group(1), validate=True)
        base = _base(method, path, digest, _params_value(params.keyid, params.created))
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, base)
    except (binascii.Error, InvalidSignature, ValueError) as exc:
        raise SignatureInvalid("HTTP message signature does not verify") from exc
    return params
