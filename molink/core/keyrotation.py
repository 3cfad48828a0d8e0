"""Key rotation announcements (object type ``key.rotate``), pure.

A party that rotates its message keys tells every peer with a signed object whose
fields (in the JWS payload, RFC 8785 canonical JSON) are:

* ``old_kid``: RFC 7638 thumbprint of the signing key being retired, which is the
  key that signs this very object;
* ``sig_jwk`` and ``enc_jwk``: the new Ed25519 and X25519 public keys (RFC 8037,
  ``kid`` = RFC 7638 thumbprint);
* ``proof``: base64url Ed25519 signature (RFC 8032) by the NEW signing key over
  :func:`rotation_statement`, so that nobody announces a key they do not hold.

A receiver accepts it only when it is signed by the sender's current key (an old,
retired key cannot name a successor) and the proof holds; it then pins the new keys
as current and keeps the old ones, so that everything signed before still verifies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from molink.core.b64 import b64url_decode, b64url_encode
from molink.core.canonical import canonical_json
from molink.core.keys import PartyKeys, PartyPublicKeys
from molink.errors import MalformedData, SignatureInvalid

__all__ = ["ROTATE_TYPE", "read_rotation", "rotation_fields", "rotation_statement"]

ROTATE_TYPE = "key.rotate"
_STATEMENT = "molink-key-rotation/1"
_FIELDS = frozenset({"old_kid", "sig_jwk", "enc_jwk", "proof"})


def rotation_statement(party: str, old_kid: str, new: PartyPublicKeys) -> bytes:
    """The bytes the new signing key signs: who rotates, from which key, to which keys."""
    return canonical_json(
        {
            "type": _STATEMENT,
            "party": party,
            "old_kid": old_kid,
            "sig_kid": new.sig_kid,
            "enc_kid": new.enc_kid,
        }
    )


def rotation_fields(old: PartyKeys, new: PartyKeys) -> dict[str, Any]:
    """The signed fields announcing that ``old`` hands over to ``new`` (same party)."""
    if old.party != new.party:
        raise MalformedData("a key rotation stays within one party")
    old_kid = old.public.sig_kid
    if new.public.sig_kid == old_kid:
        raise MalformedData("the new key is the old key")
    proof = new.sig_private.sign(rotation_statement(new.party, old_kid, new.public))
    return {
        "old_kid": old_kid,
        "sig_jwk": new.public.sig_jwk,
        "enc_jwk": new.public.enc_jwk,
        "proof": b64url_encode(proof),
    }


def read_rotation(party: str, signer_kid: str, fields: Mapping[str, Any]) -> PartyPublicKeys:
    """The new keys of ``party`` announced in ``fields``, signed with key ``signer_kid``.

    Raises:
        MalformedData: fields missing or malformed, or ``old_kid`` is not the signer.
        SignatureInvalid: the proof does not verify under the announced signing key.
    """
    missing = _FIELDS - set(fields)
    if missing:
        raise MalformedData(f"key.rotate lacks {sorted(missing)}")
    if fields["old_kid"] != signer_kid:
        raise MalformedData("key.rotate must be signed by the key it retires")
    sig_jwk, enc_jwk, proof = fields["sig_jwk"], fields["enc_jwk"], fields["proof"]
    if not isinstance(sig_jwk, dict) or not isinstance(enc_jwk, dict):
        raise MalformedData("key.rotate keys must be JWK objects")
    if sig_jwk.get("crv") != "Ed25519" or enc_jwk.get("crv") != "X25519":
        raise MalformedData("key.rotate needs an Ed25519 sig_jwk and an X25519 enc_jwk")
    new = PartyPublicKeys.from_jwks(party, {"keys": [sig_jwk, enc_jwk]})
    if new.sig_kid == signer_kid:
        raise MalformedData("key.rotate names the key it retires")
    if not isinstance(proof, str):
        raise MalformedData("key.rotate proof must be a base64url string")
    signature = b64url_decode(proof)
    if not new.verify(signature, rotation_statement(party, signer_kid, new)):
        raise SignatureInvalid(
            "key.rotate proof does not verify under the announced key",
            evidence={"party": party, "sig_kid": new.sig_kid},
        )
    return new
