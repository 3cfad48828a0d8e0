"""Administrative use cases: peers, operators and tokens."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from molink.core.authz import parse_scopes
from molink.core.b64 import b64url_encode
from molink.core.keys import PartyPublicKeys, fingerprint
from molink.errors import InvalidInput, MalformedData
from molink.services.registry import provision_terminal
from molink.storage.db import Database
from molink.storage.log import LogRepo
from molink.storage.operators import OperatorRepo
from molink.storage.peers import Peer, PeerRepo

__all__ = [
    "BUNDLE_FORMAT",
    "add_operator",
    "issue_token",
    "parse_bundle",
    "public_bundle",
    "register_peer",
]

BUNDLE_FORMAT = "molink-peer/1"


def public_bundle(
    keys: PartyPublicKeys,
    *,
    urls: list[str],
    tls_cert: str,
    log_origin: str | None,
    log_vkey: str | None = None,
    witness_vkey: str | None = None,
    mediator: bool = False,
) -> dict[str, Any]:
    """What a party hands to its peers (out of band) so they can pin it."""
    return {
        "format": BUNDLE_FORMAT,
        "party": keys.party,
        "jwks": keys.jwks(),
        "urls": urls,
        "tls_cert": tls_cert,
        "log_origin": log_origin,
        "log_vkey": log_vkey,
        "witness_vkey": witness_vkey,
        "mediator": mediator,
        "fingerprint": fingerprint(keys),
    }


def parse_bundle(bundle: Mapping[str, Any]) -> Peer:
    """Validate a public key bundle. The fingerprint inside is recomputed, never trusted."""
    try:
        if bundle.get("format") != BUNDLE_FORMAT:
            raise MalformedData(f"not a {BUNDLE_FORMAT} bundle")
        keys = PartyPublicKeys.from_jwks(str(bundle["party"]), bundle["jwks"])
        urls = bundle["urls"]
        if not isinstance(urls, list) or not all(
            isinstance(u, str) and u.startswith("https://") for u in urls
        ):
            raise MalformedData("urls must be a list of https:// URLs")
        cert = bundle["tls_cert"]
        if not isinstance(cert, str) or "BEGIN CERTIFICATE" not in cert:
            raise MalformedData("tls_cert must be a PEM certificate")
    except (KeyError, TypeError, AttributeError) as exc:
        raise MalformedData(f"incomplete peer bundle: {exc}") from exc
    return Peer(
        party=keys.party,
        urls=tuple(urls),
        tls_cert=cert,
        keys=keys,
        log_origin=bundle.get("log_origin"),
        log_vkey=bundle.get("log_vkey"),
        witness_vkey=bundle.get("witness_vkey"),
        mediator=bool(bundle.get("mediator")),
    )


def register_peer(db: Database, peer: Peer, now_us: int, *, own_party: str) -> None:
    if peer.party == own_party:
        raise InvalidInput("a node does not pin itself as a peer")
    with db.write() as conn:
        PeerRepo().upsert(conn, peer, now_us)


def add_operator(
    db: Database,
    *,
    operator_id: str,
    role: str,
    now_us: int,
    display_name: str | None = None,
    pseudonym: str | None = None,
) -> None:
    with db.write() as conn:
        OperatorRepo.add(
            conn,
            operator_id=operator_id,
            pseudonym=pseudonym or operator_id,
            role=role,
            display_name=display_name or operator_id,
            now_us=now_us,
        )


def issue_token(
    db: Database, *, operator_id: str, terminal: str, now_us: int, scopes: list[str] | None = None
) -> str:
    """A new bearer token (shown once; only its hash is stored), for provisioning.

    The token is bound to ``terminal``. A terminal name that is not registered yet
    (e.g. ``cli``) is registered as an approved, keyless *provisioned* terminal, and
    logged; a rejected or revoked terminal is refused.
    """
    token = "mlk_" + b64url_encode(secrets.token_bytes(32))
    with db.write() as conn:
        OperatorRepo.get(conn, operator_id)
        provision_terminal(conn, LogRepo(db), terminal, now_us)
        OperatorRepo.add_token(
            conn,
            token=token,
            operator_id=operator_id,
            terminal=terminal,
            scopes=list(parse_scopes(scopes or ["*"])),
            now_us=now_us,
        )
    return token
