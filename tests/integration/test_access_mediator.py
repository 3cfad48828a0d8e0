"""A mediator node never receives bilateral traffic on a channel it is not a member of.

US, RU and AE (the mediator) on the in-memory network. Messages on the US-RU channel
reach RU, directly or relayed by AE when the direct route is down, and never land in
AE's messages table: AE carries an opaque envelope sealed to RU alone and keeps only its
hash. A trilateral message is the positive control: AE receives that one.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import insert, select

from molink.storage.db import Database
from molink.storage.schema import channels, messages
from tests.support.access import bearer, role_token
from tests.support.memnet import MemNet, build_memnet, run


def _channels(net: MemNet) -> None:
    for node in net.nodes.values():
        ctx = node.runtime.ctx
        with ctx.db.write() as conn:
            for cid, members, mediator in (
                ("us-ru-dialogue", ["RU", "US"], None),
                ("trilateral", ["AE", "RU", "US"], "AE"),
            ):
                conn.execute(
                    insert(channels).values(
                        id=cid,
                        name=cid,
                        members=members,
                        mediator=mediator,
                        state="active",
                        emergency=False,
                        created=ctx.now_us(),
                    )
                )


def _stored(db: Database) -> list[tuple[str, str, str | None]]:
    with db.read() as conn:
        rows = conn.execute(select(messages.c.id, messages.c.channel, messages.c.body)).all()
    return [(r.id, r.channel, r.body) for r in rows]


def _files_of(db: Database) -> bytes:
    path = Path(db.url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_mediator_never_receives_bilateral_traffic(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU", "AE"], mediator="AE")
    _channels(net)
    mediator_token = role_token(net["AE"], "mediator")
    secret = f"bilateral-{uuid.uuid4()}"

    async def scenario() -> None:
        async with net["US"].client() as us, net["AE"].client() as ae:
            direct = await us.post(
                "/api/v1/messages",
                json={"to": ["RU"], "channel": "us-ru-dialogue", "body": f"{secret} direct"},
            )
            assert direct.status_code == 201, direct.text
            await net.settle()
            net.network.partition("US", "RU")
            relayed = await us.post(
                "/api/v1/messages",
                json={"to": ["RU"], "channel": "us-ru-dialogue", "body": f"{secret} relayed"},
            )
            await net.settle()
            view = (await us.get(f"/api/v1/messages/{relayed.json()['id']}")).json()
            assert view["status"] == "delivered"
            assert view["recipients"][0]["route"] == "relay:AE"  # AE carried it
            trilateral = await us.post(
                "/api/v1/messages",
                json={"to": ["AE", "RU"], "channel": "trilateral", "body": "for all three"},
            )
            await net.settle()
            bilateral_ids = {direct.json()["id"], relayed.json()["id"]}

            ru = {mid for mid, _, _ in _stored(net["RU"].runtime.ctx.db)}
            assert bilateral_ids <= ru
            at_ae = _stored(net["AE"].runtime.ctx.db)
            assert [(mid, ch) for mid, ch, _ in at_ae] == [
                (trilateral.json()["id"], "trilateral")
            ]  # the positive control arrived; nothing of us-ru-dialogue did
            assert all(secret not in (body or "") for _, _, body in at_ae)
            if net["AE"].runtime.ctx.db.is_sqlite:
                assert secret.encode() not in _files_of(net["AE"].runtime.ctx.db)

            for mid in bilateral_ids:
                r = await ae.get(f"/api/v1/messages/{mid}", headers=bearer(mediator_token))
                assert r.status_code == 404
            inbox = await ae.get("/api/v1/messages?box=inbox", headers=bearer(mediator_token))
            assert [m["channel"] for m in inbox.json()["items"]] == ["trilateral"]
            intrude = await ae.post(
                "/api/v1/messages",
                json={"to": ["RU"], "channel": "us-ru-dialogue", "body": "let me in"},
                headers=bearer(mediator_token),
            )
            assert intrude.status_code == 403
            assert "not a member of channel" in intrude.json()["detail"]

    run(scenario())
