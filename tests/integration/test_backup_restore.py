"""Backups restore to a node whose log verifies and that goes on where it stopped.

The commands are the ones docs/operations.md gives: ``sqlite3 node.db ".backup ..."``
and ``VACUUM INTO`` on SQLite, ``pg_dump -Fc`` then ``pg_restore`` into an empty
database on PostgreSQL. The restored database must hold the same messages and log;
``LogService.verify_integrity`` re-derives the whole tree and checks every signed
checkpoint and cosignature; a message sent afterwards gets the next index.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from molink.core.precedence import Precedence
from molink.services.runtime import NodeRuntime
from molink.storage.db import Database
from molink.storage.schema import checkpoints, messages
from tests.support.memnet import MemNet, build_memnet, run
from tests.support.pgtest import TestDatabases


def _traffic(tmp_path: Path) -> MemNet:
    net = build_memnet(tmp_path, ["US", "RU"])

    async def go() -> None:
        async with net["US"].client() as us, net["RU"].client() as ru:
            for i in range(5):
                r = await us.post("/api/v1/messages", json={"to": ["RU"], "body": f"m{i}"})
                assert r.status_code == 201
            await net.settle()
            r = await ru.get("/api/v1/messages", params={"box": "inbox"})
            await ru.post(f"/api/v1/messages/{r.json()['items'][0]['id']}/ack")
            await net.settle()
            await net.tick_logs(rounds=3)

    run(go())
    return net


def _backup_and_restore(
    db: Database, engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> tuple[str, ...]:
    """Back ``db`` up with each documented command; the URLs of the restored copies."""
    if engine == "sqlite":
        if shutil.which("sqlite3") is None:
            pytest.skip("the sqlite3 command line tool is not installed")
        source = db.url.removeprefix("sqlite:///")
        online = tmp_path / "backup-online.db"
        subprocess.run(["sqlite3", source, f".backup '{online}'"], check=True)
        vacuumed = tmp_path / "backup-vacuum.db"
        subprocess.run(["sqlite3", source, f"VACUUM INTO '{vacuumed}'"], check=True)
        return (f"sqlite:///{online}", f"sqlite:///{vacuumed}")
    databases: TestDatabases = request.getfixturevalue("pg_databases")
    dump = tmp_path / "node.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), db.libpq_url], check=True)
    target = databases.empty_url()
    subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", "-d", target, str(dump)], check=True
    )
    return (target,)


def test_a_restored_backup_verifies_and_continues(
    tmp_path: Path, molink_db: str, request: pytest.FixtureRequest
) -> None:
    net = _traffic(tmp_path)
    original = net["US"].runtime
    with original.ctx.db.read() as conn:
        count = conn.execute(select(func.count()).select_from(messages)).scalar_one()
        size = original.ctx.log.size(conn)
        note = conn.execute(select(checkpoints.c.note).order_by(checkpoints.c.size.desc())).first()
    assert original.log.verify_integrity().ok
    for url in _backup_and_restore(original.ctx.db, molink_db, tmp_path, request):
        restored = NodeRuntime.build(
            keys=original.ctx.keys,
            db=Database(url),
            log_origin=original.ctx.log_origin,
            transport_factory=net.network.transport,
            clock=net.clock,
        )
        try:
            with restored.ctx.db.read() as conn:
                assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == (
                    count
                )
                assert restored.ctx.log.size(conn) == size
                latest = select(checkpoints.c.note).order_by(checkpoints.c.size.desc())
                assert conn.execute(latest).first() == note
            report = restored.log.verify_integrity()
            assert report.ok, report.problems
            assert report.size == size
            assert report.checkpoints >= 1
            sent = restored.messaging.send(
                to=["RU"], precedence=Precedence.ROUTINE, subject="", body="after", lang="en"
            )
            assert sent.log_index == size  # the next index: nothing skipped, nothing reused
            assert restored.log.integrate() is not None
            assert restored.log.verify_integrity().ok
        finally:
            restored.ctx.db.dispose()
