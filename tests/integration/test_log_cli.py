"""``molink log verify|vkey`` and ``molink evidence export|verify`` (Typer sub-apps)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from molink.cli import log_cmds
from molink.core.note import Ed25519Verifier
from molink.services.evidence import EvidenceService
from molink.services.provision import create_node
from molink.storage.schema import log_entries
from tests.support.memnet import START, build_memnet, run

runner = CliRunner()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, molink_db: str) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    net = build_memnet(tmp, ["US", "RU"])

    async def go() -> bytes:
        async with net["US"].client() as us, net["RU"].client() as ru:
            r = await us.post("/api/v1/messages", json={"to": ["RU"], "body": "Hold fire"})
            mid = r.json()["id"]
            await net.settle()
            await ru.post(f"/api/v1/messages/{mid}/ack")
            await net.settle()
            await net.tick_logs()
        runtime = net["US"].runtime
        return await EvidenceService(runtime.ctx, runtime.log, runtime.transport).export()

    path = tmp / "bundle.zip"
    path.write_bytes(run(go()))
    return path


def test_evidence_verify_prints_a_readable_pass(bundle: Path) -> None:
    result = runner.invoke(log_cmds.evidence_app, ["verify", str(bundle)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "exported by US" in out
    assert "Hold fire" in out
    assert "operator duty-RU" in out
    assert "test.molink/RU/witness" in out
    assert "PASS: every check in the bundle holds" in out


def test_evidence_verify_json_and_failure_exit_code(bundle: Path, tmp_path: Path) -> None:
    result = runner.invoke(log_cmds.evidence_app, ["verify", "--json", str(bundle)])
    assert result.exit_code == 0
    body = json.loads(result.output)
    assert body["ok"] is True
    assert body["messages"][0]["sender"] == "US"

    import zipfile

    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("receipts/"):
                data = data[:-3] + (b"AAA" if not data.endswith(b"AAA") else b"BBB")
            dst.writestr(info, data)
    result = runner.invoke(log_cmds.evidence_app, ["verify", str(bad)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "FAIL" in result.output


def test_evidence_verify_refuses_a_traversal_zip(tmp_path: Path) -> None:
    import zipfile

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../../etc/cron.d/x", b"boom")
    result = runner.invoke(log_cmds.evidence_app, ["verify", str(evil)])
    assert result.exit_code != 0
    assert "not allowed" in str(result.exception)


def test_evidence_export_posts_the_selection(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str, dict[str, Any]]] = []

    class FakeClient:
        def __init__(self, home: Path, *, token: str | None = None) -> None:
            pass

        def download(self, method: str, path: str, **kwargs: Any) -> bytes:
            calls.append((method, path, kwargs["json"]))
            return bundle.read_bytes()

        def close(self) -> None:
            pass

    monkeypatch.setattr(log_cmds, "NodeClient", FakeClient)
    out = tmp_path / "out.zip"
    args = ["export", "--id", "a", "--since", "2026-02-05T11:00:00+01:00", "-o", str(out)]
    result = runner.invoke(log_cmds.evidence_app, args)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == bundle.read_bytes()
    assert calls == [
        (
            "POST",
            "/api/v1/evidence/export",
            {"ids": ["a"], "since": "2026-02-05T10:00:00.000Z", "until": None},
        )
    ]
    assert "1 message(s)" in result.output
    bad = runner.invoke(log_cmds.evidence_app, ["export", "--since", "noon", "-o", str(out)])
    assert bad.exit_code != 0


def test_log_verify_and_vkey_on_a_node_folder(tmp_path: Path) -> None:
    home = tmp_path / "us"
    create_node(home, party="US", port=8799, now=START, scrypt_n=2**14)
    ctx = log_cmds._context(home)
    from molink.services.logsvc import LogService

    with ctx.db.write() as conn:
        ours = ctx.log.append(conn, [{"type": "test", "n": i} for i in range(10)], 0)
    LogService(ctx).integrate()
    result = runner.invoke(log_cmds.log_app, ["verify", "--dir", str(home)])
    assert result.exit_code == 0, result.output
    assert f"{ours[-1] + 1} entries" in result.output
    assert "PASS" in result.output
    with ctx.db.write() as conn:
        conn.execute(update(log_entries).where(log_entries.c.idx == ours[3]).values(data=b"{}"))
    ctx.db.dispose()
    result = runner.invoke(log_cmds.log_app, ["verify", "--dir", str(home)])
    assert result.exit_code == 1
    assert f"entry {ours[3]} was edited" in result.output
    vkey = runner.invoke(log_cmds.log_app, ["vkey", "--dir", str(home)]).output.strip()
    assert Ed25519Verifier.from_vkey(vkey).name.startswith("molink.local/US/")
    witness = runner.invoke(log_cmds.log_app, ["vkey", "--witness", "--dir", str(home)])
    assert witness.output.strip().split("+")[0].endswith("/witness")
