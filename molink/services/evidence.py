"""Exporting an evidence bundle (docs/formats.md "Evidence bundle").

The node collects, for the chosen messages: the compact JWS of each (exactly as
signed), the receipts and acknowledgements, its own log's latest checkpoint with
cosignatures, the last checkpoint each witness cosigned with a consistency proof,
every entry of its own log that names the messages (with inclusion proofs), and the
keys to check all of it. For each receipt naming a PEER's log, it asks that peer
(signed requests over the ``PeerTransport``) for its checkpoint and the tiles that
prove the named entry; a peer that cannot be reached, or serves bad material, makes
that log "not included" with the reason. Nothing here signs anything new.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import Connection, select

from molink.core.b64 import b64encode
from molink.core.canonical import parse_json
from molink.core.dtg import format_utc
from molink.core.evidence_format import (
    MAX_BUNDLE_FILES,
    BundleAck,
    BundleLog,
    BundleMessage,
    Manifest,
    Selection,
    ack_path,
    checkpoint_path,
    consistency_path,
    entries_path,
    jwks_path,
    log_vkey_path,
    message_path,
    receipt_path,
    witness_vkey_path,
    write_bundle,
)
from molink.core.jose import jws_parse
from molink.core.keys import PartyPublicKeys
from molink.core.merkle import consistency_proof, inclusion_proof
from molink.core.note import is_valid_key_name
from molink.errors import InvalidInput, MolinkError, NotFound
from molink.services.context import NodeContext
from molink.services.logkeys import witness_cosigner
from molink.services.logsvc import LogService
from molink.services.peerlog import PeerLogMaterial, fetch_peer_entries
from molink.storage.db import micros
from molink.storage.logtree import DbHashReader, LogTreeRepo
from molink.storage.peers import Peer
from molink.storage.schema import messages, peer_keys
from molink.transport.base import PeerTransport

__all__ = ["MAX_EXPORT_OBJECTS", "EvidenceService"]

MAX_EXPORT_OBJECTS = 2_000
"""Most messages one bundle may hold: narrow the selection beyond that."""

_SCAN_CHUNK = 4096


@dataclass(slots=True)
class _Object:
    """One signed object (message or ack) and the receipts held for it."""

    id: str
    jws: str
    sha: str
    log_index: int | None
    receipts: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Item:
    message: _Object
    acks: list[_Object]


@dataclass(slots=True)
class _OwnLog:
    note: str
    size: int
    entries: list[dict[str, Any]]
    older: list[dict[str, Any]]


@dataclass(slots=True)
class _Collected:
    items: list[_Item]
    own: _OwnLog
    parties: dict[str, list[PartyPublicKeys]]
    peers: list[Peer]


class EvidenceService:
    """Builds evidence bundles from this node's store (and its peers' logs)."""

    def __init__(self, ctx: NodeContext, log: LogService, transport: PeerTransport) -> None:
        self._ctx = ctx
        self._log = log
        self._transport = transport
        self._tree = LogTreeRepo()

    async def export(
        self,
        message_ids: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> bytes:
        """The evidence bundle (zip bytes) for the given ids and/or creation-time range.

        With neither ids nor a range, every message is taken (up to the limit).

        Raises:
            NotFound: an id names no stored message.
            InvalidInput: more than :data:`MAX_EXPORT_OBJECTS` messages are selected.
        """
        await anyio.to_thread.run_sync(self._log.integrate)
        collected = await anyio.to_thread.run_sync(self._collect, message_ids, since, until)
        peer_logs = await self._peer_logs(collected)
        selection = Selection(
            ids=None if message_ids is None else tuple(message_ids),
            since=None if since is None else format_utc(since),
            until=None if until is None else format_utc(until),
        )
        return self._pack(collected, peer_logs, selection)

    # ------------------------------------------------------------------ collect

    def _collect(
        self, ids: Sequence[str] | None, since: datetime | None, until: datetime | None
    ) -> _Collected:
        ctx = self._ctx
        with ctx.db.read() as conn:
            rows = self._select(conn, ids, since, until)
            items = [_Item(self._object(conn, r), self._acks(conn, r.id)) for r in rows]
            own = self._own_log(conn, items)
            parties = {ctx.party} | {p for r in rows for p in [r.sender, *r.recipients]}
            for item in items:
                parties |= set(item.message.receipts)
                for ack in item.acks:
                    parties |= set(ack.receipts)
            own_keys = [ctx.keys.public, *(k.public for k in ctx.retired_keys)]
            keys = _party_keys(conn, sorted(parties), own_keys)
            peers = ctx.peers.all(conn)
        return _Collected(items=items, own=own, parties=keys, peers=peers)

    def _select(
        self,
        conn: Connection,
        ids: Sequence[str] | None,
        since: datetime | None,
        until: datetime | None,
    ) -> list[Any]:
        query = select(messages).where(messages.c.type != "ack")
        if ids is not None:
            query = query.where(messages.c.id.in_(list(ids)))
        if since is not None:
            query = query.where(messages.c.created >= micros(since))
        if until is not None:
            query = query.where(messages.c.created < micros(until))
        rows = list(
            conn.execute(
                query.order_by(messages.c.created, messages.c.id).limit(MAX_EXPORT_OBJECTS + 1)
            )
        )
        if ids is not None:
            missing = sorted(set(ids) - {r.id for r in rows})
            if missing:
                raise NotFound(f"no stored message {', '.join(missing[:5])}")
        if len(rows) > MAX_EXPORT_OBJECTS:
            raise InvalidInput(
                f"more than {MAX_EXPORT_OBJECTS} messages selected: narrow the time range"
            )
        return rows

    def _object(self, conn: Connection, row: Any) -> _Object:
        obj = _Object(row.id, str(row.jws), str(row.jws_sha256), row.log_index)
        if row.direction == "in":
            if row.receipt:
                obj.receipts[self._ctx.party] = str(row.receipt)
        else:
            for d in self._ctx.messages.deliveries_of(conn, row.id):
                if d.receipt:
                    obj.receipts[d.recipient] = str(d.receipt)
        return obj

    def _acks(self, conn: Connection, message_id: str) -> list[_Object]:
        rows = sorted(self._ctx.messages.acks_of(conn, message_id), key=lambda r: r.id)
        return [self._object(conn, r) for r in rows]

    def _own_log(self, conn: Connection, items: list[_Item]) -> _OwnLog:
        """Latest checkpoint, witnesses' older checkpoints, and entries naming the items."""
        latest = self._tree.latest_checkpoint(conn)
        if latest is None:
            raise NotFound("the log has no checkpoint yet")
        size = int(latest.size)
        note = str(latest.note) + "".join(c.line for c in self._tree.cosignatures_at(conn, size))
        reader = DbHashReader(conn)
        objects = [o for item in items for o in (item.message, *item.acks)]
        starts = [o.log_index for o in objects if o.log_index is not None]
        found = _scan(self._ctx, conn, {o.id for o in objects}, min(starts, default=size), size)
        entries = [
            {
                "index": index,
                "data": b64encode(data),
                "inclusion_proof": [b64encode(h) for h in inclusion_proof(index, size, reader)],
            }
            for index, data in sorted(found.items())
        ]
        older = []
        for old in sorted(set(self._tree.last_cosigned_by(conn).values())):
            row = self._tree.checkpoint_at(conn, old)
            if row is None or old >= size or old == 0:
                continue
            lines = "".join(c.line for c in self._tree.cosignatures_at(conn, old))
            proof = [b64encode(h) for h in consistency_proof(old, size, reader)]
            older.append({"checkpoint": str(row.note) + lines, "consistency_proof": proof})
        return _OwnLog(note=note, size=size, entries=entries, older=older)

    # ------------------------------------------------------------------ peers

    async def _peer_logs(self, collected: _Collected) -> dict[str, PeerLogMaterial]:
        """Fetch, per peer log named by a receipt, its checkpoint and the named entries."""
        wanted: dict[str, set[int]] = {}
        signers: dict[str, str] = {}
        for item in collected.items:
            for obj in (item.message, *item.acks):
                for party, text in obj.receipts.items():
                    origin, index = _receipt_log(text)
                    if origin and origin != self._ctx.log_origin:
                        wanted.setdefault(origin, set()).add(index)
                        signers[origin] = party
        out: dict[str, PeerLogMaterial] = {}
        for origin, indexes in sorted(wanted.items()):
            peer = next((p for p in collected.peers if p.log_origin == origin), None)
            if peer is None or not peer.log_vkey:
                reason = "no pinned peer has this log"
                out[origin] = PeerLogMaterial.missing(origin, signers[origin], reason)
                continue
            out[origin] = await fetch_peer_entries(self._transport, peer, sorted(indexes))
        return out

    # ------------------------------------------------------------------ pack

    def _pack(
        self, c: _Collected, peer_logs: dict[str, PeerLogMaterial], selection: Selection
    ) -> bytes:
        ctx = self._ctx
        files: dict[str, bytes] = {}
        bundle_messages = [_put_item(files, item) for item in c.items]
        own = c.own
        logs = [BundleLog(ctx.log_origin, ctx.party)]
        _put_log(files, ctx.log_origin, self._log.vkey, own.note, own.size, own.entries, own.older)
        by_origin = {p.log_origin: p for p in c.peers if p.log_origin}
        for origin, material in peer_logs.items():
            party = by_origin[origin].party if origin in by_origin else material.party
            if material.reason is not None:
                logs.append(BundleLog(origin, party, included=False, reason=material.reason))
                continue
            logs.append(BundleLog(origin, party))
            _put_log(
                files, origin, material.vkey, material.note, material.size, material.entries, []
            )
        for party, keys in c.parties.items():
            files[jwks_path(party)] = _jwks(keys)
        witnesses = {witness_cosigner(ctx.log_keys, ctx.log_origin).vkey}
        witnesses |= {p.witness_vkey for p in c.peers if p.witness_vkey}
        names = [_put_witness(files, vkey) for vkey in sorted(witnesses)]
        manifest = Manifest(
            exporter=ctx.party,
            created=format_utc(ctx.clock.now()),
            selection=selection,
            parties=tuple(sorted(c.parties)),
            messages=tuple(bundle_messages),
            logs=tuple(logs),
            witnesses=tuple(sorted(names)),
        )
        files["manifest.json"] = manifest.to_json()
        if len(files) > MAX_BUNDLE_FILES:
            raise InvalidInput("the bundle would hold too many files: narrow the selection")
        return write_bundle(files, when=ctx.clock.now())


def _put_item(files: dict[str, bytes], item: _Item) -> BundleMessage:
    """Write a message, its receipts, acks and their receipts; return its manifest item."""
    m = item.message
    files[message_path(m.id)] = m.jws.encode("ascii")
    _put_receipts(files, m)
    for ack in item.acks:
        files[ack_path(ack.id)] = ack.jws.encode("ascii")
        _put_receipts(files, ack)
    return BundleMessage(
        id=m.id,
        jws_sha256=m.sha,
        disclosed=True,
        receipts=tuple(sorted(m.receipts)),
        acks=tuple(BundleAck(a.id, tuple(sorted(a.receipts))) for a in item.acks),
    )


def _put_witness(files: dict[str, bytes], vkey: str) -> str:
    name = vkey.split("+", 1)[0]
    files[witness_vkey_path(name)] = (vkey + "\n").encode("ascii")
    return name


def _scan(
    ctx: NodeContext, conn: Connection, wanted: set[str], start: int, end: int
) -> dict[int, bytes]:
    """Entries in ``[start, end)`` naming one of ``wanted`` (as id, ref, target or in refs)."""
    found: dict[int, bytes] = {}
    for chunk in range(start, end, _SCAN_CHUNK):
        for row in ctx.log.entries(conn, chunk, min(end, chunk + _SCAN_CHUNK)):
            try:
                payload = parse_json(bytes(row.data))
            except MolinkError:
                continue
            if not isinstance(payload, dict):
                continue
            names = {payload.get(k) for k in ("id", "ref", "target")}
            refs = payload.get("refs")
            if isinstance(refs, list):
                names |= {r for r in refs if isinstance(r, str)}
            if names & wanted:
                found[int(row.idx)] = bytes(row.data)
    return found


def _receipt_log(text: str) -> tuple[str, int]:
    """The (log origin, index) a stored receipt names; ("", -1) if unusable in a bundle."""
    try:
        payload = parse_json(jws_parse(text).payload)
    except MolinkError:
        return "", -1
    origin, index = payload.get("log_origin"), payload.get("log_index")
    if not isinstance(origin, str) or not is_valid_key_name(origin):
        return "", -1
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        return "", -1
    return origin, index


def _put_receipts(files: dict[str, bytes], obj: _Object) -> None:
    for party, text in obj.receipts.items():
        files[receipt_path(obj.id, party)] = text.encode("ascii")


def _put_log(
    files: dict[str, bytes],
    origin: str,
    vkey: str,
    note: str,
    size: int,
    entries: Iterable[dict[str, Any]],
    older: list[dict[str, Any]],
) -> None:
    files[checkpoint_path(origin)] = note.encode("utf-8")
    files[log_vkey_path(origin)] = (vkey + "\n").encode("ascii")
    body = {"origin": origin, "tree_size": size, "entries": list(entries)}
    files[entries_path(origin)] = (json.dumps(body, indent=1) + "\n").encode("utf-8")
    older_body = {"origin": origin, "tree_size": size, "checkpoints": older}
    files[consistency_path(origin)] = (json.dumps(older_body, indent=1) + "\n").encode("utf-8")


def _party_keys(
    conn: Connection, parties: Sequence[str], own: Sequence[PartyPublicKeys]
) -> dict[str, list[PartyPublicKeys]]:
    """Every signing key each party has held (current first), as pinned by this node;
    ``own``: this node's current key, then the keys it rotated away from."""
    out: dict[str, list[PartyPublicKeys]] = {}
    rows = conn.execute(
        select(peer_keys)
        .where(peer_keys.c.party.in_(list(parties)))
        .order_by(peer_keys.c.party, peer_keys.c.current.desc(), peer_keys.c.added_at.desc())
    )
    for row in rows:
        out.setdefault(row.party, []).append(
            PartyPublicKeys(party=row.party, sig_public=row.sig_public, enc_public=row.enc_public)
        )
    if own and own[0].party in parties:
        out[own[0].party] = list(own)
    return {p: out[p] for p in parties if p in out}


def _jwks(keys: Sequence[PartyPublicKeys]) -> bytes:
    body = {"keys": [jwk for k in keys for jwk in (k.sig_jwk, k.enc_jwk)]}
    return (json.dumps(body, indent=2) + "\n").encode("ascii")
