"""Loading the keys an evidence bundle carries (docs/formats.md "Evidence bundle").

* ``keys/jwks/<party>.json``: a JWKS (RFC 7517) with the party's Ed25519 signing key(s)
  and X25519 key(s), current pair first; each ``kid`` must be the RFC 7638 thumbprint.
* ``keys/log/<origin>.vkey``: the log's C2SP note verifier key (type 0x01).
* ``keys/witness/<name>.vkey``: a witness's C2SP cosignature/v1 verifier key (type 0x04).

A key that cannot be read is a FAIL check, never an exception. The keys are only as
trustworthy as their fingerprints, which the report shows for comparison out of band.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from molink.core.b64 import b64url_decode
from molink.core.canonical import parse_json
from molink.core.cosignature import CosignatureVerifier
from molink.core.envelope import Directory
from molink.core.evidence_format import (
    BundleLog,
    Manifest,
    jwks_path,
    log_vkey_path,
    witness_vkey_path,
)
from molink.core.evidence_logs import Outcome, Report
from molink.core.keys import PartyPublicKeys, fingerprint, jwk_thumbprint
from molink.core.note import Ed25519Verifier
from molink.errors import MalformedData, MolinkError

__all__ = ["KeyView", "load_log_keys", "load_party_keys", "load_witness_keys", "parse_jwks"]

_MAX_JWKS_KEYS = 64


@dataclass(frozen=True, slots=True)
class KeyView:
    """A key the bundle carries: ``kind`` is ``party``, ``log`` or ``witness``."""

    kind: str
    name: str
    value: str
    ok: bool


def parse_jwks(party: str, data: bytes) -> list[PartyPublicKeys]:
    """The party's Ed25519 keys, each paired with an X25519 key (first pair = current)."""
    body = parse_json(data)
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list) or len(keys) > _MAX_JWKS_KEYS:
        raise MalformedData("JWKS needs a 'keys' array")
    sig: list[bytes] = []
    enc: list[bytes] = []
    for key in keys:
        if not isinstance(key, dict) or key.get("kty") != "OKP":
            continue
        if key.get("crv") not in ("Ed25519", "X25519"):
            continue
        raw = b64url_decode(key.get("x", ""))
        if "kid" in key and key["kid"] != jwk_thumbprint(key):
            raise MalformedData(f"JWK kid {key['kid']!r} is not its RFC 7638 thumbprint")
        (sig if key["crv"] == "Ed25519" else enc).append(raw)
    if not sig:
        raise MalformedData("JWKS holds no Ed25519 key")
    return [
        PartyPublicKeys(party, s, enc[i] if i < len(enc) else (enc[0] if enc else bytes(32)))
        for i, s in enumerate(sig)
    ]


def load_party_keys(
    manifest: Manifest, files: Mapping[str, bytes], report: Report, views: list[KeyView]
) -> Directory:
    directory = Directory()
    for party in manifest.parties:
        path = jwks_path(party)
        data = files.get(path)
        try:
            if data is None:
                raise MalformedData(f"{path} is missing")
            keys = parse_jwks(party, data)
        except MolinkError as exc:
            report(Outcome.FAIL, "key", f"keys of {party}", exc.message)
            views.append(KeyView("party", party, exc.message, ok=False))
            continue
        for n, key in enumerate(keys):
            directory.add(key, current=n == 0)
        shown = fingerprint(keys[0])
        report(Outcome.PASS, "key", f"keys of {party}", f"{len(keys)} signing key(s), {shown}")
        views.append(KeyView("party", party, shown, ok=True))
    return directory


def _vkey(files: Mapping[str, bytes], path: str) -> str:
    data = files.get(path)
    if data is None:
        raise MalformedData(f"{path} is missing")
    try:
        return data.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise MalformedData(f"{path} is not ASCII") from exc


def load_log_keys(
    logs: Sequence[BundleLog], files: Mapping[str, bytes], report: Report, views: list[KeyView]
) -> dict[str, Ed25519Verifier | None]:
    out: dict[str, Ed25519Verifier | None] = {}
    for log in logs:
        if not log.included:
            continue
        try:
            verifier = Ed25519Verifier.from_vkey(_vkey(files, log_vkey_path(log.origin)))
            if verifier.name != log.origin:
                raise MalformedData(f"log key is named {verifier.name!r}, not the origin")
        except MolinkError as exc:
            report(Outcome.FAIL, "key", f"log key of {log.origin}", exc.message)
            views.append(KeyView("log", log.origin, exc.message, ok=False))
            out[log.origin] = None
            continue
        views.append(KeyView("log", log.origin, verifier.vkey, ok=True))
        out[log.origin] = verifier
    return out


def load_witness_keys(
    names: Sequence[str], files: Mapping[str, bytes], report: Report, views: list[KeyView]
) -> dict[tuple[str, int], CosignatureVerifier]:
    out: dict[tuple[str, int], CosignatureVerifier] = {}
    for name in names:
        try:
            verifier = CosignatureVerifier.from_vkey(_vkey(files, witness_vkey_path(name)))
            if verifier.name != name:
                raise MalformedData(f"witness key is named {verifier.name!r}, not {name!r}")
        except MolinkError as exc:
            report(Outcome.FAIL, "key", f"witness key of {name}", exc.message)
            views.append(KeyView("witness", name, exc.message, ok=False))
            continue
        views.append(KeyView("witness", name, verifier.vkey, ok=True))
        out[(verifier.name, verifier.key_id)] = verifier
    return out
