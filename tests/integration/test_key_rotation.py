"""Key rotation on the in-memory network: nothing in flight is lost (both engines).

US rotates while the link to RU is cut, with messages queued both ways: US's old
messages (signed by the old key) and RU's (sealed to US's old key). After US restarts
on its new keys and the link heals, RU learns the new key from the ``key.rotate``
announcement signed by the old one, everything is delivered, old signatures still
verify, and the log keeps its identity (witnesses go on cosigning it).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from molink.api.app import create_app
from molink.core.envelope import Directory, sign_and_seal, verify_signed
from molink.core.evidence import verify_bundle
from molink.core.evidence_format import read_bundle
from molink.core.jose import jws_parse
from molink.core.keyrotation import ROTATE_TYPE, rotation_fields
from molink.core.keys import PartyKeys
from molink.core.precedence import Precedence
from molink.services.evidence import EvidenceService
from molink.services.runtime import NodeRuntime
from molink.storage.schema import deliveries, peer_keys
from tests.support.memnet import MemNet, MemNode, build_memnet, run


def _restart(net: MemNet, party: str, new: PartyKeys, old: PartyKeys) -> MemNode:
    """Start ``party`` again on its database with its new keys (the old one retired)."""
    before = net[party].runtime
    runtime = NodeRuntime.build(
        keys=new,
        retired_keys=(old,),
        root_keys=old,
        db=before.ctx.db,
        log_origin=before.ctx.log_origin,
        transport_factory=net.network.transport,
        clock=net.clock,
    )
    app = create_app(runtime, run_workers=False)
    net.network.attach(party, app)
    net.nodes[party] = MemNode(party=party, runtime=runtime, app=app, token=net[party].token)
    return net.nodes[party]


async def _post(node: MemNode, to: str, body: str) -> str:
    async with node.client() as client:
        r = await client.post("/api/v1/messages", json={"to": [to], "body": body})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def _log_types(node: MemNode) -> list[dict[str, Any]]:
    import json

    ctx = node.runtime.ctx
    with ctx.db.read() as conn:
        return [json.loads(bytes(r.data)) for r in ctx.log.entries(conn, 0, 2**62)]


def _undelivered(node: MemNode) -> list[str]:
    with node.runtime.ctx.db.read() as conn:
        return list(
            conn.execute(
                select(deliveries.c.message_id).where(deliveries.c.status != "delivered")
            ).scalars()
        )


def test_rotation_loses_nothing_in_flight_and_peers_learn_the_key(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    old = net["US"].runtime.ctx.keys
    new = PartyKeys.generate("US")

    async def scenario() -> dict[str, str]:
        ids = {"m1": await _post(net["US"], "RU", "before")}
        await net.settle()
        await net.tick_logs()
        net.network.partition("US", "RU")
        ids["m2"] = await _post(net["US"], "RU", "queued, signed by the old key")
        ids["r2"] = await _post(net["RU"], "US", "queued, sealed to the old key")
        announced = net["US"].runtime.keyrotation.rotate(new)
        ids["rotate"] = announced["RU"].id
        _restart(net, "US", new, old)
        ids["m3"] = await _post(net["US"], "RU", "signed by the new key")
        net.network.heal("US", "RU")
        await net.settle(rounds=10)
        net.advance(31)  # anything refused once waits for the capped backoff
        await net.settle(rounds=10)
        ids["r3"] = await _post(net["RU"], "US", "sealed to the new key")
        await net.settle()
        await net.tick_logs(rounds=3)
        return ids

    ids = run(scenario())
    us, ru = net["US"], net["RU"]
    assert _undelivered(us) == []
    assert _undelivered(ru) == []

    # RU pinned the new key as current and kept the old one
    with ru.runtime.ctx.db.read() as conn:
        keys = {
            r.sig_kid: r.current
            for r in conn.execute(select(peer_keys).where(peer_keys.c.party == "US"))
        }
    assert keys == {old.public.sig_kid: False, new.public.sig_kid: True}
    ru_dir = ru.runtime.ctx.directory()
    assert ru_dir.current("US") == new.public

    # old and new signatures both verify at RU; each message signed by the key of its time
    for name, signer in (("m1", old), ("m2", old), ("rotate", old), ("m3", new)):
        jws = ru.runtime.queries.jws(ids[name])
        assert jws_parse(jws).kid == signer.public.sig_kid, name
        verify_signed(jws, ru_dir)
    # RU's message sealed to the old key was opened with the retired key
    assert us.runtime.queries.jws(ids["r2"]) == ru.runtime.queries.jws(ids["r2"])
    assert us.runtime.queries.jws(ids["r3"]) == ru.runtime.queries.jws(ids["r3"])

    us_log, ru_log = _log_types(us), _log_types(ru)
    rotated = [e for e in us_log if e["type"] == "key.rotated"]
    assert rotated
    assert rotated[0]["new_kid"] == new.public.sig_kid
    applied = [e for e in ru_log if e["type"] == "key.rotate.applied"]
    assert [e["new_kid"] for e in applied] == [new.public.sig_kid]

    # the log kept its key: RU still cosigns US's checkpoints, and both logs verify
    assert "test.molink/RU/witness" in us.runtime.log.checkpoint_note()
    for node in (us, ru):
        report = node.runtime.log.verify_integrity()
        assert report.ok, report.problems

    # an evidence bundle US exports after the rotation verifies offline, old and new
    runtime = us.runtime
    files = read_bundle(run(EvidenceService(runtime.ctx, runtime.log, runtime.transport).export()))
    bundle = verify_bundle(files)
    assert bundle.ok, bundle.failures
    assert {ids["m1"], ids["m3"]} <= {m.id for m in bundle.messages}


def test_a_rotation_signed_by_a_retired_key_is_refused(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    old, new = net["US"].runtime.ctx.keys, PartyKeys.generate("US")

    async def rotate() -> None:
        net["US"].runtime.keyrotation.rotate(new)
        _restart(net, "US", new, old)
        await net.settle()

    run(rotate())
    ru = net["RU"].runtime
    assert ru.ctx.directory().current("US") == new.public
    # someone holding the retired key announces a key of their own
    thief = PartyKeys.generate("US")
    _, envelope = sign_and_seal(
        old,
        Directory([ru.ctx.keys.public, old.public]),
        type=ROTATE_TYPE,
        id="01900000-0000-7000-8000-000000000001",
        to=["RU"],
        channel=next(iter(_channels(net))),
        seq=99,
        created=net.clock.now() - timedelta(seconds=1),
        precedence=Precedence.FLASH_OVERRIDE,
        fields=rotation_fields(old, thief),
    )
    (result,) = ru.inbound.receive([envelope])
    assert result.status == "stored"  # a valid signed object, kept as evidence
    assert ru.ctx.directory(refresh=True).current("US") == new.public
    refused = [e for e in _log_types(net["RU"]) if e["type"] == "key.rotate.refused"]
    assert len(refused) == 1
    assert "no longer uses" in refused[0]["reason"]


def _channels(net: MemNet) -> list[str]:
    from molink.storage.schema import channels

    with net["RU"].runtime.ctx.db.read() as conn:
        return list(conn.execute(select(channels.c.id)).scalars())
