"""The node's log key and witness key, derived from the party's signing seed.

C2SP requires the log key and a cosigner key to be distinct keys. Both are derived
with HKDF-SHA256 from the party's Ed25519 seed under different labels, so a node
keeps one encrypted key file and still signs its log (type 0x01, key name = log
origin) and cosigns peers' logs (cosignature/v1, type 0x04) with separate keys.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from molink.core.cosignature import Cosigner
from molink.core.keys import PartyKeys
from molink.core.note import Ed25519Signer

__all__ = ["log_signer", "verifier_keys", "witness_cosigner", "witness_name"]


def _derive(keys: PartyKeys, label: bytes) -> bytes:
    seed = keys.seeds()[0]
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(seed)


def log_signer(keys: PartyKeys, origin: str) -> Ed25519Signer:
    return Ed25519Signer(origin, _derive(keys, b"molink log key v1"))


def witness_name(origin: str) -> str:
    return f"{origin}/witness"


def witness_cosigner(keys: PartyKeys, origin: str) -> Cosigner:
    return Cosigner(witness_name(origin), _derive(keys, b"molink witness key v1"))


def verifier_keys(keys: PartyKeys, origin: str) -> dict[str, str]:
    """``log_vkey`` (type 0x01) and ``witness_vkey`` (type 0x04) as C2SP vkey strings."""
    return {
        "log_vkey": log_signer(keys, origin).vkey,
        "witness_vkey": witness_cosigner(keys, origin).vkey,
    }
