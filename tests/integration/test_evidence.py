"""Evidence bundles on an in-memory network: export, offline verification, tampering."""

from __future__ import annotations

import base64
import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from molink.api import routes_evidence
from molink.core.evidence import Outcome, verify_bundle
from molink.core.evidence_format import (
    checkpoint_path,
    consistency_path,
    entries_path,
    message_path,
    read_bundle,
    receipt_path,
)
from molink.services.evidence import EvidenceService
from tests.support.memnet import MemNet, build_memnet, run


def _scenario(tmp_path: Path) -> tuple[MemNet, list[str]]:
    """US sends two messages to RU and AE; RU acknowledges the first; logs are cosigned.

    A third message is then queued but not delivered, so US's log grows past what its
    witnesses cosigned: the bundle carries an older checkpoint and a consistency proof.
    """
    net = build_memnet(tmp_path, ["US", "RU", "AE"])

    async def go() -> list[str]:
        ids = []
        async with net["US"].client() as us, net["RU"].client() as ru:
            for body in ("Hold fire at grid 38T", "Corridor open 0600-0800Z"):
                r = await us.post(
                    "/api/v1/messages",
                    json={"to": ["RU", "AE"], "precedence": "FLASH", "subject": "s", "body": body},
                )
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])
            await net.settle()
            assert (await ru.post(f"/api/v1/messages/{ids[0]}/ack")).status_code == 200
            await net.settle()
            await net.tick_logs(rounds=3)
            r = await us.post("/api/v1/messages", json={"to": ["RU"], "body": "Later"})
            ids.append(r.json()["id"])
        return ids

    return net, run(go())


def _export(net: MemNet, party: str, ids: list[str] | None = None) -> dict[str, bytes]:
    runtime = net[party].runtime
    service = EvidenceService(runtime.ctx, runtime.log, runtime.transport)
    return read_bundle(run(service.export(message_ids=ids)))


def _fails(files: dict[str, bytes]) -> list[tuple[str, str, str]]:
    return [(c.kind, c.subject, c.detail) for c in verify_bundle(files).failures]


@pytest.fixture(scope="module")
def exported(
    tmp_path_factory: pytest.TempPathFactory, molink_db: str
) -> tuple[MemNet, list[str], dict[str, bytes]]:
    net, ids = _scenario(tmp_path_factory.mktemp("evidence"))
    return net, ids, _export(net, "US")


def test_round_trip_passes_every_check(
    exported: tuple[MemNet, list[str], dict[str, bytes]],
) -> None:
    net, ids, files = exported
    report = verify_bundle(files)
    assert report.ok, report.failures
    assert report.exporter == "US"
    assert sorted(m.id for m in report.messages) == sorted(ids)
    first = next(m for m in report.messages if m.id == ids[0])
    assert first.verified
    assert first.sender == "US"
    assert first.to == ("AE", "RU")
    assert first.body == "Hold fire at grid 38T"
    assert [r.party for r in first.receipts] == ["AE", "RU"]
    assert all(r.ok for r in first.receipts)
    assert [(a.party, a.operator, a.ok) for a in first.acks] == [("RU", "duty-RU", True)]
    assert [r.party for r in first.acks[0].receipts] == ["US"]
    origins = {r.origin for r in first.records if r.included}
    assert origins == {"test.molink/US", "test.molink/RU", "test.molink/AE"}
    types = {(r.origin, r.type) for r in first.records}
    assert ("test.molink/US", "message.sent") in types
    assert ("test.molink/US", "receipt.received") in types
    assert ("test.molink/US", "ack.received") in types
    assert ("test.molink/US", "ack.applied") in types
    assert ("test.molink/RU", "message.received") in types
    sent = next(r for r in first.records if r.type == "message.sent")
    assert set(sent.witnesses) == {"test.molink/RU/witness", "test.molink/AE/witness"}
    passed_logs = {c.subject for c in report.checks if c.kind == "log-record"}
    assert any("test.molink/RU" in s for s in passed_logs)
    consistency = [c for c in report.checks if c.kind == "consistency"]
    assert [c.outcome for c in consistency] == [Outcome.PASS], consistency
    late = next(m for m in report.messages if m.id == ids[2])
    assert late.receipts == ()
    (late_record,) = late.records
    assert late_record.included
    assert late_record.witnesses == ()  # logged after the witnesses' last cosignature
    assert report.count(Outcome.PASS) > 20
    kinds = {c.kind for c in report.checks if c.outcome is Outcome.PASS}
    assert {
        "signature",
        "receipt",
        "ack",
        "checkpoint",
        "cosignature",
        "consistency",
        "inclusion",
        "log-record",
    } <= kinds
    del net


def test_export_through_the_operator_api(tmp_path: Path) -> None:
    net, ids = _scenario(tmp_path)
    net["US"].app.include_router(routes_evidence.router)

    async def go() -> bytes:
        async with net["US"].client() as us:
            r = await us.post("/api/v1/evidence/export", json={"ids": ids[:1]})
            assert r.status_code == 200, r.text
            assert r.headers["content-type"] == "application/zip"
            bad = await us.post("/api/v1/evidence/export", json={"since": "yesterday"})
            assert bad.status_code == 422
            return r.content

    report = verify_bundle(read_bundle(run(go())))
    assert report.ok, report.failures
    assert [m.id for m in report.messages] == ids[:1]


def test_time_range_selects_by_creation_time(tmp_path: Path) -> None:
    net, ids = _scenario(tmp_path)
    runtime = net["US"].runtime
    service = EvidenceService(runtime.ctx, runtime.log, runtime.transport)
    later = net.clock.now()
    none = read_bundle(run(service.export(since=later + timedelta(seconds=1))))
    assert verify_bundle(none).messages == ()
    every = read_bundle(
        run(service.export(since=later - timedelta(hours=1), until=later + timedelta(seconds=1)))
    )
    assert sorted(m.id for m in verify_bundle(every).messages) == sorted(ids)


def test_unreachable_peer_log_is_reported_not_included(tmp_path: Path) -> None:
    net, ids = _scenario(tmp_path)
    net.network.partition("US", "RU")
    report = verify_bundle(_export(net, "US", ids))
    assert report.ok, report.failures
    ru_log = next(log for log in report.logs if log.origin == "test.molink/RU")
    assert not ru_log.included
    assert "unreachable" in (ru_log.reason or "")
    skipped = [
        c for c in report.checks if c.outcome is Outcome.SKIP and "test.molink/RU" in c.subject
    ]
    assert skipped


def test_recipient_export_proves_its_own_receipt_and_ack(tmp_path: Path) -> None:
    net, ids = _scenario(tmp_path)
    report = verify_bundle(_export(net, "RU", ids[:1]))
    assert report.ok, report.failures
    (message,) = report.messages
    assert [r.party for r in message.receipts] == ["RU"]
    assert [a.party for a in message.acks] == ["RU"]
    assert {r.origin for r in message.records} == {"test.molink/RU", "test.molink/US"}


# ----------------------------------------------------------------------- tampering


def _edit_payload(jws: bytes) -> bytes:
    head, body, sig = jws.decode().split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["body"] = "Open fire"
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return f"{head}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}.{sig}".encode()


def test_edited_jws_fails_its_signature(
    exported: tuple[MemNet, list[str], dict[str, bytes]],
) -> None:
    _, ids, files = exported
    bad = dict(files)
    bad[message_path(ids[0])] = _edit_payload(files[message_path(ids[0])])
    fails = _fails(bad)
    assert any(k == "signature" and ids[0] in s for k, s, _ in fails), fails
    edited = next(m for m in verify_bundle(bad).messages if m.id == ids[0])
    assert not edited.verified
    assert edited.body is None


def test_swapped_receipt_fails(exported: tuple[MemNet, list[str], dict[str, bytes]]) -> None:
    _, ids, files = exported
    bad = dict(files)
    bad[receipt_path(ids[0], "RU")] = files[receipt_path(ids[1], "RU")]
    fails = _fails(bad)
    assert any(k == "receipt" and "another message" in d for k, _, d in fails), fails


def test_wrong_checkpoint_signature_fails_checkpoint_and_inclusion(
    exported: tuple[MemNet, list[str], dict[str, bytes]],
) -> None:
    _, _, files = exported
    path = checkpoint_path("test.molink/US")
    text = files[path].decode()
    body, sigs = text.split("\n\n", 1)
    first, rest = sigs.split("\n", 1)
    name, b64 = first.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 1
    bad = dict(files)
    bad[path] = f"{body}\n\n{name} {base64.b64encode(bytes(raw)).decode()}\n{rest}".encode()
    fails = _fails(bad)
    assert any(k == "checkpoint" and "test.molink/US" in s for k, s, _ in fails), fails
    assert any(k == "inclusion" and "test.molink/US" in s for k, s, _ in fails)


def test_truncated_proof_fails_inclusion(
    exported: tuple[MemNet, list[str], dict[str, bytes]],
) -> None:
    _, _, files = exported
    path = entries_path("test.molink/RU")
    body = json.loads(files[path])
    body["entries"][0]["inclusion_proof"] = body["entries"][0]["inclusion_proof"][:-1]
    bad = dict(files)
    bad[path] = json.dumps(body).encode()
    fails = _fails(bad)
    assert any(k == "inclusion" and "too short" in d for k, _, d in fails), fails
    assert any(k == "log-record" and "not proven" in d for k, _, d in fails), fails


def test_extra_file_fails_and_missing_receipt_fails(
    exported: tuple[MemNet, list[str], dict[str, bytes]],
) -> None:
    _, ids, files = exported
    bad = dict(files)
    bad["notes/readme.txt"] = b"trust me"
    del bad[receipt_path(ids[1], "AE")]
    fails = _fails(bad)
    assert ("file", "notes/readme.txt", "file is not described by the manifest") in fails
    assert any(k == "receipt" and "missing" in d for k, _, d in fails)


def test_broken_consistency_proof_fails_and_drops_witness_coverage(
    exported: tuple[MemNet, list[str], dict[str, bytes]],
) -> None:
    _, ids, files = exported
    path = consistency_path("test.molink/US")
    body = json.loads(files[path])
    proof = body["checkpoints"][0]["consistency_proof"]
    proof[0] = base64.b64encode(bytes(32)).decode()
    bad = dict(files)
    bad[path] = json.dumps(body).encode()
    report = verify_bundle(bad)
    assert any(c.kind == "consistency" for c in report.failures), report.failures
    first = next(m for m in report.messages if m.id == ids[0])
    sent = next(r for r in first.records if r.type == "message.sent")
    assert sent.witnesses == ()


def test_receipt_naming_an_unknown_log_is_reported_not_included(tmp_path: Path) -> None:
    from sqlalchemy import update

    from molink.storage.schema import peers

    net, ids = _scenario(tmp_path)
    with net["US"].runtime.ctx.db.write() as conn:
        conn.execute(update(peers).where(peers.c.party == "RU").values(log_origin="moved/RU"))
    report = verify_bundle(_export(net, "US", ids[:1]))
    assert report.ok, report.failures
    ru_log = next(log for log in report.logs if log.origin == "test.molink/RU")
    assert (ru_log.party, ru_log.included) == ("RU", False)
    assert ru_log.reason == "no pinned peer has this log"


def _mutate(rng: random.Random, data: bytes) -> bytes:
    choice = rng.randrange(5)
    if choice == 0 and data:
        at = rng.randrange(len(data))
        return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1 :]
    if choice == 1:
        return data[: rng.randrange(len(data) + 1)]
    if choice == 2:
        return rng.randbytes(rng.randrange(64))
    if choice == 3:
        values = [[], {}, None, 7, "x", [1], {"id": [1]}, -1, 2**70, "../x"]
        try:
            body = json.loads(data)
        except ValueError:
            return data + b"\xff"
        holder: Any = body
        while True:  # walk down to a random member, then replace it
            keys = sorted(holder) if isinstance(holder, dict) else list(range(len(holder)))
            if not keys:
                break
            key = rng.choice(keys)
            child = holder[key]
            if isinstance(child, dict | list) and child and rng.random() < 0.7:
                holder = child
                continue
            holder[key] = rng.choice(values)
            break
        return json.dumps(body).encode()
    return data.replace(b"A", b"B", 1)


def test_mutated_bundles_never_raise_but_malformed_data(
    exported: tuple[MemNet, list[str], dict[str, bytes]],
) -> None:
    from molink.errors import MalformedData

    _, _, files = exported
    rng = random.Random(6962)
    names = sorted(files)
    failed = 0
    for _ in range(400):
        bad = dict(files)
        for name in rng.sample(names, rng.randrange(1, 4)):
            bad[name] = _mutate(rng, bad[name])
        try:
            report = verify_bundle(bad)
        except MalformedData:
            continue
        failed += not report.ok
    assert failed > 200
