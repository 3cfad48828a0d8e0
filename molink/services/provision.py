"""Creating a node on disk: keys, TLS certificate, config, database, first operators.

The first operators are ``duty-<party>`` (duty officer), ``supervisor-<party>`` and
``admin-<party>`` (administrator), each with a bearer token in ``tokens/<role>.token``
bound to the provisioned terminal ``cli`` (``molink terminal revoke cli`` ends them all).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from molink.config import ApiConfig, NodeConfig
from molink.core.b64 import b64url_encode
from molink.core.keys import PartyKeys, fingerprint, is_party_id
from molink.errors import ConfigError, InvalidInput
from molink.services.admin import add_operator, issue_token, public_bundle
from molink.services.logkeys import verifier_keys
from molink.storage.db import Database, micros
from molink.storage.files import make_tls_certificate, save_keys, write_private
from molink.storage.keyring import current_message_keys
from molink.storage.migrate import migrate

__all__ = ["CreatedNode", "create_node", "node_bundle"]


@dataclass(frozen=True, slots=True)
class CreatedNode:
    config: NodeConfig
    fingerprint: str
    duty_token: str
    admin_token: str


def create_node(
    home: Path,
    *,
    party: str,
    port: int,
    now: datetime,
    host: str = "127.0.0.1",
    database_url: str = "sqlite:///node.db",
    passphrase: str | None = None,
    scrypt_n: int = 2**15,
) -> CreatedNode:
    """Create a node in ``home`` (which must not hold one yet)."""
    if not is_party_id(party):
        raise InvalidInput(f"invalid party id {party!r} (2-16 of A-Z, 0-9, -)")
    if (home / "node.toml").exists():
        raise ConfigError(f"{home} already holds a node")
    home.mkdir(parents=True, exist_ok=True)
    keys = PartyKeys.generate(party)
    if passphrase is None:
        passphrase = b64url_encode(secrets.token_bytes(24))
        write_private(home / "keys" / "passphrase", passphrase.encode() + b"\n")
    save_keys(home / "keys" / "party.key", keys, passphrase, scrypt_n=scrypt_n)
    cert, key = make_tls_certificate(party, [host, "localhost"], now)
    (home / "tls").mkdir(exist_ok=True)
    (home / "tls" / "cert.pem").write_bytes(cert)
    write_private(home / "tls" / "key.pem", key)
    origin = f"molink.local/{party}/{secrets.token_hex(4)}"
    config = NodeConfig(
        party=party,
        database_url=database_url,
        log_origin=origin,
        api=ApiConfig(host=host, port=port, public_url=f"https://{host}:{port}"),
        home=home.resolve(),
    )
    (home / "node.toml").write_text(config.to_toml(), encoding="utf-8")
    db = Database(database_url, base=home)
    try:
        migrate(db)
        now_us = micros(now)
        add_operator(
            db,
            operator_id=f"duty-{party.lower()}",
            role="duty_officer",
            now_us=now_us,
            display_name=f"{party} duty officer",
        )
        add_operator(
            db,
            operator_id=f"admin-{party.lower()}",
            role="administrator",
            now_us=now_us,
            display_name=f"{party} administrator",
        )
        add_operator(
            db,
            operator_id=f"supervisor-{party.lower()}",
            role="supervisor",
            now_us=now_us,
            display_name=f"{party} supervisor",
        )
        duty = issue_token(db, operator_id=f"duty-{party.lower()}", terminal="cli", now_us=now_us)
        admin = issue_token(db, operator_id=f"admin-{party.lower()}", terminal="cli", now_us=now_us)
        supervisor = issue_token(
            db, operator_id=f"supervisor-{party.lower()}", terminal="cli", now_us=now_us
        )
    finally:
        db.dispose()
    write_private(home / "tokens" / "duty.token", duty.encode() + b"\n")
    write_private(home / "tokens" / "admin.token", admin.encode() + b"\n")
    write_private(home / "tokens" / "supervisor.token", supervisor.encode() + b"\n")
    return CreatedNode(
        config=config, fingerprint=fingerprint(keys.public), duty_token=duty, admin_token=admin
    )


def node_bundle(config: NodeConfig, keys: PartyKeys, *, mediator: bool = False) -> str:
    """The node's public bundle: keys, address, TLS certificate, log and witness vkeys.

    ``keys`` are the party's first keys (``party.key``), which the log and witness keys
    derive from; after a rotation the bundle carries the current message keys.
    """
    url = config.api.public_url or f"https://{config.api.host}:{config.api.port}"
    cert = config.path(config.api.tls_cert).read_text(encoding="utf-8")
    vkeys = verifier_keys(keys, config.log_origin)
    current = current_message_keys(config.path(config.keys.file), config.passphrase()) or keys
    bundle = public_bundle(
        current.public,
        urls=[url],
        tls_cert=cert,
        log_origin=config.log_origin,
        log_vkey=vkeys["log_vkey"],
        witness_vkey=vkeys["witness_vkey"],
        mediator=mediator,
    )
    return json.dumps(bundle, indent=2)
