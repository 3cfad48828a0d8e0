"""Rotating this node's message keys, and learning the keys peers rotate to.

``rotate`` (run by ``molink keys rotate`` with the node stopped) announces the new
keys to every pinned peer in one transaction: one ``key.rotate`` object per peer,
signed by the CURRENT key and sealed to the peer's current key, queued at FLASH
OVERRIDE so that it leaves before anything signed by the new key. The node's log
records ``key.rotated``. Nothing in flight is lost (docs/operations.md):

* envelopes already queued stay signed by the old key, which peers keep pinned
  (``current=False``) and still verify;
* envelopes peers sealed to the old key are opened with the retired key
  (``NodeContext.retired_keys``);
* until a peer has learned the new key, requests to it are signed with the old one
  (``transport.fallback``).

``on_rotate`` is the inbound handler: a ``key.rotate`` signed by the sender's current
key, with a valid proof, pins the new keys as current; anything else is refused and
logged as ``key.rotate.refused`` (the signed object stays stored as evidence).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from sqlalchemy import Connection

from molink.config import NodeConfig
from molink.core.envelope import Opened
from molink.core.keyrotation import ROTATE_TYPE, read_rotation, rotation_fields
from molink.core.keys import PartyKeys, fingerprint
from molink.core.precedence import Precedence
from molink.errors import ConfigError, MolinkError, SignatureInvalid
from molink.services.clock import SystemClock, system_random
from molink.services.context import NodeContext
from molink.services.messaging import MessagingService, Submitted
from molink.storage.db import Database
from molink.storage.keyring import MESSAGE_KEY_SETTING, load_key_ring, stage_rotation
from molink.storage.migrate import migrate
from molink.storage.settings import set_setting

__all__ = ["KeyRotationService", "Rotation", "rotate_node_keys"]


class KeyRotationService:
    """``rotate`` this node's message keys; ``on_rotate`` learns a peer's new keys."""

    def __init__(self, ctx: NodeContext, messaging: MessagingService) -> None:
        self._ctx = ctx
        self._messaging = messaging

    def rotate(self, new: PartyKeys, *, operator: str = "system") -> dict[str, Submitted]:
        """Announce ``new`` to every peer, signed by the current keys (one transaction).

        Returns the announcement sent to each peer. The caller stages ``new`` on disk
        first (``storage.keyring.stage_rotation``) and restarts the node on it after.
        """
        ctx = self._ctx
        fields = rotation_fields(ctx.keys, new)
        with ctx.db.write() as conn:
            now_us = ctx.now_us()
            sent = {
                peer.party: self._messaging.send_object(
                    ROTATE_TYPE,
                    to=[peer.party],
                    precedence=Precedence.FLASH_OVERRIDE,
                    channel=None,
                    fields=fields,
                    summary=f"{ctx.party} rotates its keys",
                    operator=operator,
                    conn=conn,
                )
                for peer in ctx.peers.all(conn)
            }
            ctx.log.append(
                conn,
                [
                    {
                        "type": "key.rotated",
                        "party": ctx.party,
                        "old_kid": ctx.keys.public.sig_kid,
                        "new_kid": new.public.sig_kid,
                        "new_enc_kid": new.public.enc_kid,
                        "announced": {party: s.id for party, s in sorted(sent.items())},
                        "operator": operator,
                        "time": now_us // 1000,
                    }
                ],
                now_us,
            )
            set_setting(conn, MESSAGE_KEY_SETTING, new.public.sig_kid)
        ctx.wake_outbox()
        return sent

    def on_rotate(self, conn: Connection, opened: Opened, now_us: int) -> None:
        """Inbound ``key.rotate``: pin the sender's new keys (in the receiving transaction)."""
        ctx = self._ctx
        signed = opened.signed
        sender, signer = signed.sender, signed.jws.kid
        entry = {"id": signed.id, "party": sender, "old_kid": signer, "time": now_us // 1000}
        try:
            if ctx.peers.directory(conn, ctx.keys.public).current(sender).sig_kid != signer:
                raise SignatureInvalid(f"key.rotate signed by a key {sender} no longer uses")
            new = read_rotation(sender, signer, signed.payload)
        except MolinkError as exc:
            refused = {"type": "key.rotate.refused", **entry, "reason": exc.message[:300]}
            ctx.log.append(conn, [refused], now_us)
            return
        ctx.peers.add_key(conn, new, now_us, current=True)
        applied = {
            "type": "key.rotate.applied",
            **entry,
            "new_kid": new.sig_kid,
            "new_enc_kid": new.enc_kid,
        }
        ctx.log.append(conn, [applied], now_us)


@dataclass(frozen=True, slots=True)
class Rotation:
    """What ``rotate_node_keys`` did."""

    old_kid: str
    new_kid: str
    fingerprint: str
    announced_to: tuple[str, ...]


def rotate_node_keys(
    config: NodeConfig, *, operator: str, scrypt_n: int = 2**15, port_probe: bool = True
) -> Rotation:
    """Rotate the message keys of the node described by ``config``; it must be stopped.

    Order (each step survives a crash): the new key is written as ``pending.key`` and
    the current one kept as retired; ONE transaction queues the signed announcements
    and records the new key id; only then does the new key become ``message.key``
    (``load_key_ring`` finishes that step if the process died before it).
    """
    if port_probe and _listening(config.api.host, config.api.port):
        raise ConfigError(
            f"a node answers on {config.api.host}:{config.api.port}: stop it before rotating"
        )
    root_file, passphrase = config.path(config.keys.file), config.passphrase()
    db = Database(config.database_url, base=config.home, pool_size=1)
    try:
        guard = db.session_lock("serve")
        if not guard.try_acquire():
            raise ConfigError("`molink serve` is running on this database: stop it first")
        try:
            migrate(db)
            ring = load_key_ring(root_file, passphrase, db)
            new = PartyKeys.generate(config.party)
            stage_rotation(root_file, passphrase, ring, new, scrypt_n=scrypt_n)
            ctx = NodeContext(
                keys=ring.current,
                db=db,
                clock=SystemClock(),
                random=system_random,
                log_origin=config.log_origin,
                retired_keys=ring.retired,
                root_keys=ring.log_root,
            )
            sent = KeyRotationService(ctx, MessagingService(ctx)).rotate(new, operator=operator)
            load_key_ring(root_file, passphrase, db)  # pending.key becomes message.key
        finally:
            guard.release()
    finally:
        db.dispose()
    return Rotation(
        old_kid=ring.current.public.sig_kid,
        new_kid=new.public.sig_kid,
        fingerprint=fingerprint(new.public),
        announced_to=tuple(sorted(sent)),
    )


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
