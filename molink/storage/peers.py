"""Pinned peers: their keys, addresses and TLS certificates."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from molink.core.envelope import Directory
from molink.core.keys import PartyPublicKeys
from molink.errors import NotFound
from molink.storage.schema import peer_keys, peers

__all__ = ["Peer", "PeerRepo"]


@dataclass(frozen=True, slots=True)
class Peer:
    party: str
    urls: tuple[str, ...]
    tls_cert: str
    keys: PartyPublicKeys
    log_origin: str | None = None
    log_vkey: str | None = None
    witness_vkey: str | None = None
    mediator: bool = False


class PeerRepo:
    """One repository for the peer aggregate (peers + their key history)."""

    def upsert(self, conn: Connection, peer: Peer, now_us: int) -> None:
        row = {
            "urls": list(peer.urls),
            "tls_cert": peer.tls_cert,
            "log_origin": peer.log_origin,
            "log_vkey": peer.log_vkey,
            "witness_vkey": peer.witness_vkey,
            "mediator": peer.mediator,
        }
        exists = conn.execute(select(peers.c.party).where(peers.c.party == peer.party)).first()
        if exists:
            conn.execute(update(peers).where(peers.c.party == peer.party).values(**row))
        else:
            conn.execute(insert(peers).values(party=peer.party, added_at=now_us, **row))
        self.add_key(conn, peer.keys, now_us, current=True)

    def add_key(
        self, conn: Connection, keys: PartyPublicKeys, now_us: int, *, current: bool
    ) -> None:
        if current:
            conn.execute(
                update(peer_keys).where(peer_keys.c.party == keys.party).values(current=False)
            )
        conn.execute(delete(peer_keys).where(peer_keys.c.sig_kid == keys.sig_kid))
        conn.execute(
            insert(peer_keys).values(
                sig_kid=keys.sig_kid,
                party=keys.party,
                sig_public=keys.sig_public,
                enc_public=keys.enc_public,
                current=current,
                added_at=now_us,
            )
        )

    def all(self, conn: Connection) -> list[Peer]:
        keys = {r.party: r for r in conn.execute(select(peer_keys).where(peer_keys.c.current))}
        out = []
        for row in conn.execute(select(peers).order_by(peers.c.party)):
            k = keys[row.party]
            out.append(
                Peer(
                    party=row.party,
                    urls=tuple(row.urls),
                    tls_cert=row.tls_cert,
                    keys=PartyPublicKeys(
                        party=row.party, sig_public=k.sig_public, enc_public=k.enc_public
                    ),
                    log_origin=row.log_origin,
                    log_vkey=row.log_vkey,
                    witness_vkey=row.witness_vkey,
                    mediator=row.mediator,
                )
            )
        return out

    def get(self, conn: Connection, party: str) -> Peer:
        for peer in self.all(conn):
            if peer.party == party:
                return peer
        raise NotFound(f"no peer {party!r}")

    def directory(self, conn: Connection, own: PartyPublicKeys) -> Directory:
        """Every pinned key (old ones too) plus our own, for verification."""
        directory = Directory([own])
        rows = conn.execute(select(peer_keys).order_by(peer_keys.c.current, peer_keys.c.added_at))
        for row in rows:
            directory.add(
                PartyPublicKeys(
                    party=row.party, sig_public=row.sig_public, enc_public=row.enc_public
                ),
                current=row.current,
            )
        return directory
