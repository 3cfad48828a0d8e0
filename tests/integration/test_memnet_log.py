"""The transparency log on an in-memory network: checkpoints, tiles, witnessing, tamper."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from molink.core.checkpoint import open_checkpoint
from molink.core.cosignature import CosignatureVerifier, verify_cosignatures
from molink.core.merkle import leaf_hash, root
from molink.core.note import Ed25519Verifier
from molink.core.tiles import Tile, TileHashReader, decode_entry_bundle, tiles_for_size
from molink.storage.schema import log_entries
from tests.support.memnet import build_memnet, run


def test_logs_are_cosigned_by_every_peer_and_tiles_rebuild_the_root(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU", "AE"])

    async def scenario() -> None:
        async with net["US"].client() as us:
            for i in range(300):
                r = await us.post("/api/v1/messages", json={"to": ["RU", "AE"], "body": f"m{i}"})
                assert r.status_code == 201
            await net.settle(rounds=20)
            await net.tick_logs()
            note = (await us.get("/log/checkpoint")).text
            vkey = net["US"].runtime.log.vkey
            signed = open_checkpoint(note, [Ed25519Verifier.from_vkey(vkey)])
            size = signed.checkpoint.size
            assert size >= 300 + 600  # sent + receipts received
            witnesses = [
                CosignatureVerifier.from_vkey(net[p].runtime.witness.vkey) for p in ("RU", "AE")
            ]
            assert len(verify_cosignatures(note, witnesses)) == 2
            tiles = {}
            for tile in tiles_for_size(size):
                answer = await us.get(f"/log/{tile.path}")
                assert answer.status_code == 200, tile.path
                if not tile.is_partial:
                    assert "immutable" in answer.headers["cache-control"]
                tiles[tile] = answer.content
            assert root(size, TileHashReader(size, tiles)) == signed.checkpoint.root_hash
            bundle = await us.get("/log/tile/entries/000")
            entries = decode_entry_bundle(bundle.content)
            assert len(entries) == 256
            level0 = tiles[Tile(0, 0)]
            assert [leaf_hash(e) for e in entries] == [
                level0[i * 32 : (i + 1) * 32] for i in range(256)
            ]
            missing = await us.get("/log/tile/0/x001/000")
            assert missing.status_code == 404
            # Full tiles come from memory the second time, byte for byte the same.
            log = net["US"].runtime.log
            assert log.cached_tile("tile/0/000") == level0
            assert log.cached_tile(Tile(0, 0, 5).path) is None  # partial tiles never cached
            again = await us.get("/log/tile/0/000")
            assert again.content == level0
            assert "immutable" in again.headers["cache-control"]

    run(scenario())


def test_log_verify_detects_a_hand_edited_row(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])

    async def scenario() -> None:
        async with net["US"].client() as us:
            for i in range(5):
                await us.post("/api/v1/messages", json={"to": ["RU"], "body": f"m{i}"})
            await net.settle()
            await net.tick_logs()

    run(scenario())
    log = net["US"].runtime.log
    assert log.verify_integrity().ok
    ctx = net["US"].runtime.ctx
    with ctx.db.write() as conn:
        conn.execute(
            update(log_entries)
            .where(log_entries.c.idx == 2)
            .values(data=b'{"type":"message.sent","forged":true}')
        )
    report = log.verify_integrity()
    assert not report.ok
    assert "entry 2 was edited" in report.problems[0]


def test_forked_log_is_refused_as_equivocation_with_evidence(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])

    async def scenario() -> None:
        async with net["US"].client() as us:
            await us.post("/api/v1/messages", json={"to": ["RU"], "body": "one"})
            await net.settle()
            await net.tick_logs()
            # US rewrites history: edit an entry, rebuild its tree from scratch, re-sign.
            ctx = net["US"].runtime.ctx
            from molink.storage.schema import checkpoints, cosignatures, log_nodes

            with ctx.db.write() as conn:
                conn.execute(log_nodes.delete())
                conn.execute(checkpoints.delete())
                conn.execute(cosignatures.delete())
                conn.execute(
                    update(log_entries)
                    .where(log_entries.c.idx == 0)
                    .values(
                        data=b'{"type":"rewritten"}', leaf_hash=leaf_hash(b'{"type":"rewritten"}')
                    )
                )
            await us.post("/api/v1/messages", json={"to": ["RU"], "body": "two"})
            await net.settle()
            await net.tick_logs()
        async with net["RU"].client() as ru:
            alerts = (await ru.get("/api/v1/alerts?kind=equivocation")).json()["items"]
            assert len(alerts) == 1
            evidence = alerts[0]["data"]
            assert "cosigned_checkpoint" in evidence
            assert "new_checkpoint" in evidence
            assert alerts[0]["severity"] == "FLASH"

    run(scenario())
