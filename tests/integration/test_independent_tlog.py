"""A log and an evidence bundle verify with an implementation that is not molink's.

``tests/support/independent_tlog.py`` imports nothing from molink: it checks the node's
served log (``/log`` endpoints, through the ASGI app) from the C2SP and RFC 6962 texts
alone. The bundle test reads ``docs/formats.md``'s layout with it and with joserfc, an
independent JOSE library, as an outside verifier would.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from pathlib import Path

import httpx
import pytest
from joserfc import jws as rfc_jws
from joserfc.jwk import OKPKey

from molink.core.evidence_format import path_name, read_bundle
from molink.services.evidence import EvidenceService
from tests.support import independent_tlog as tlog
from tests.support.memnet import MemNode, build_memnet, run


def _fetcher(node: MemNode) -> tlog.Fetch:
    async def get(path: str) -> bytes:
        async with node.client() as client:
            answer = await client.get(f"/log/{path}")
            assert answer.status_code == 200, (path, answer.text)
            return answer.content

    return lambda path: asyncio.run(get(path))


def test_served_log_verifies_independently(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU", "AE"])

    async def go() -> None:
        async with net["US"].client() as us:
            for i in range(150):
                r = await us.post("/api/v1/messages", json={"to": ["RU", "AE"], "body": f"m{i}"})
                assert r.status_code == 201
        await net.settle(rounds=20)
        await net.tick_logs()

    run(go())
    us = net["US"]
    fetch = _fetcher(us)
    note = fetch("checkpoint").decode()
    body = tlog.verify_note(note, us.runtime.log.vkey)
    origin, size, root = tlog.parse_checkpoint(body)
    assert origin == "test.molink/US"
    assert size >= 450  # 150 sent + 300 receipts: full and partial tiles on two levels
    for witness in ("RU", "AE"):
        assert tlog.verify_cosignature(note, net[witness].runtime.witness.vkey) > 0
    assert tlog.root_from_tiles(size, fetch) == root
    entries = tlog.entries(size, fetch)
    assert tlog.mth([tlog.leaf(e) for e in entries]) == root
    assert "message.sent" in {json.loads(e)["type"] for e in entries}
    with pytest.raises(tlog.CheckFailed):
        tlog.verify_note(note, net["RU"].runtime.log.vkey)
    with pytest.raises(tlog.CheckFailed):
        tlog.verify_cosignature(
            note.replace(str(size), str(size - 1), 1), net["RU"].runtime.witness.vkey
        )


def test_independent_checker_catches_tampered_tiles() -> None:
    leaves = [tlog.leaf(i.to_bytes(2, "big")) for i in range(300)]
    level0 = b"".join(leaves)
    tiles = {
        "tile/0/000": level0[: 256 * 32],
        "tile/0/001.p/44": level0[256 * 32 :],
        "tile/1/000.p/1": tlog.mth(leaves[:256]),
    }
    assert tlog.root_from_tiles(300, tiles.__getitem__) == tlog.mth(leaves)
    tiles["tile/1/000.p/1"] = bytes(32)
    with pytest.raises(tlog.CheckFailed):
        tlog.root_from_tiles(300, tiles.__getitem__)


def _jwks_key(jwks: dict[str, list[dict[str, str]]], kid: str) -> OKPKey:
    (jwk,) = [k for k in jwks["keys"] if k.get("kid") == kid]
    return OKPKey.import_key(dict(jwk))


def test_evidence_bundle_verifies_with_independent_code(tmp_path: Path) -> None:
    """Follow docs/formats.md with joserfc and the independent RFC 6962 checker."""
    net = build_memnet(tmp_path, ["US", "RU"])

    async def go() -> bytes:
        async with net["US"].client() as us, net["RU"].client() as ru:
            r = await us.post("/api/v1/messages", json={"to": ["RU"], "body": "Hold fire"})
            mid = r.json()["id"]
            await net.settle()
            await ru.post(f"/api/v1/messages/{mid}/ack")
            await net.settle()
            await net.tick_logs()
            await us.post("/api/v1/messages", json={"to": ["RU"], "body": "later"})
        runtime = net["US"].runtime
        return await EvidenceService(runtime.ctx, runtime.log, runtime.transport).export()

    files = read_bundle(run(go()))
    manifest = json.loads(files["manifest.json"])
    jwks = {p: json.loads(files[f"keys/jwks/{p}.json"]) for p in manifest["parties"]}
    checked_jws = 0
    for message in manifest["messages"]:
        text = files[f"messages/{message['id']}.jws"].decode()
        assert hashlib.sha256(text.encode()).hexdigest() == message["jws_sha256"]
        payload = json.loads(base64.urlsafe_b64decode(text.split(".")[1] + "=="))
        head = json.loads(base64.urlsafe_b64decode(text.split(".")[0] + "=="))
        key = _jwks_key(jwks[payload["from"]], head["kid"])
        assert rfc_jws.deserialize_compact(text, key, algorithms=["Ed25519"]).payload
        checked_jws += 1
        for party in message["receipts"]:
            receipt = files[f"receipts/{message['id']}.{party}.jws"].decode()
            rhead = json.loads(base64.urlsafe_b64decode(receipt.split(".")[0] + "=="))
            obj = rfc_jws.deserialize_compact(
                receipt, _jwks_key(jwks[party], rhead["kid"]), algorithms=["Ed25519"]
            )
            claims = json.loads(obj.payload)
            assert claims["message_id"] == message["id"]
            assert claims["jws_sha256"] == message["jws_sha256"]
            checked_jws += 1
    assert checked_jws >= 3
    checked_entries = 0
    for log in manifest["logs"]:
        assert log["included"]
        segment = path_name(log["origin"])
        vkey = files[f"keys/log/{segment}.vkey"].decode()
        note = files[f"log/{segment}/checkpoint"].decode()
        origin, size, root = tlog.parse_checkpoint(tlog.verify_note(note, vkey))
        assert origin == log["origin"]
        for entry in json.loads(files[f"log/{segment}/entries.json"])["entries"]:
            proof = [base64.b64decode(h) for h in entry["inclusion_proof"]]
            data = base64.b64decode(entry["data"])
            tlog.verify_inclusion(tlog.leaf(data), entry["index"], size, proof, root)
            checked_entries += 1
        for older in json.loads(files[f"log/{segment}/consistency.json"])["checkpoints"]:
            _, old_size, old_root = tlog.parse_checkpoint(
                tlog.verify_note(older["checkpoint"], vkey)
            )
            proof = [base64.b64decode(h) for h in older["consistency_proof"]]
            tlog.verify_consistency(old_size, size, old_root, root, proof)
            for witness in manifest["witnesses"]:
                wkey = files[f"keys/witness/{path_name(witness)}.vkey"].decode()
                if witness != f"{log['origin']}/witness":
                    assert tlog.verify_cosignature(older["checkpoint"], wkey) > 0
    assert checked_entries >= 5


def test_fetcher_uses_the_operator_token(tmp_path: Path) -> None:
    net = build_memnet(tmp_path, ["US", "RU"])
    run(net.tick_logs())

    async def anonymous() -> int:
        transport = httpx.ASGITransport(app=net["US"].app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            return (await client.get("/log/checkpoint")).status_code

    assert run(anonymous()) == 401
