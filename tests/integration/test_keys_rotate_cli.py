"""``molink keys rotate`` on a stopped node: key files, announcements, crash safety."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from molink.cli.main import app
from molink.config import NodeConfig
from molink.core.keys import PartyKeys
from molink.errors import ConfigError
from molink.services.admin import parse_bundle, register_peer
from molink.services.keyrotation import rotate_node_keys
from molink.services.provision import create_node, node_bundle
from molink.storage.db import Database, micros
from molink.storage.files import load_keys
from molink.storage.keyring import MESSAGE_KEY_SETTING, load_key_ring, stage_rotation
from molink.storage.schema import deliveries, log_entries, messages
from molink.storage.settings import get_setting
from tests.support.procnet import free_port

FAST = 2**14


@pytest.fixture
def nodes(tmp_path: Path) -> dict[str, NodeConfig]:
    now = datetime.now(UTC)
    configs = {}
    for party in ("US", "RU"):
        created = create_node(
            tmp_path / party, party=party, port=free_port(), now=now, scrypt_n=FAST
        )
        configs[party] = created.config
    for party, config in configs.items():
        keys = load_keys(config.path(config.keys.file), config.passphrase())
        peer = parse_bundle(json.loads(node_bundle(config, keys)))
        for other, other_config in configs.items():
            if other != party:
                db = Database(other_config.database_url, base=other_config.home)
                register_peer(db, peer, micros(now), own_party=other)
                db.dispose()
    return configs


def _ring(config: NodeConfig) -> tuple[str, tuple[str, ...], str]:
    db = Database(config.database_url, base=config.home)
    try:
        ring = load_key_ring(config.path(config.keys.file), config.passphrase(), db)
    finally:
        db.dispose()
    return (
        ring.current.public.sig_kid,
        tuple(k.public.sig_kid for k in ring.retired),
        (ring.log_root.public.sig_kid),
    )


def test_rotation_announces_to_every_peer_and_keeps_the_log_key(
    nodes: dict[str, NodeConfig],
) -> None:
    us = nodes["US"]
    keys_dir = us.path(us.keys.file).parent
    root = load_keys(us.path(us.keys.file), us.passphrase())
    before = json.loads(node_bundle(us, root))

    first = rotate_node_keys(us, operator="test", scrypt_n=FAST)
    assert first.old_kid == root.public.sig_kid
    assert first.announced_to == ("RU",)
    assert (keys_dir / "message.key").exists()
    assert not (keys_dir / "pending.key").exists()
    assert _ring(us) == (first.new_kid, (root.public.sig_kid,), root.public.sig_kid)

    after = json.loads(node_bundle(us, root))
    assert after["log_vkey"] == before["log_vkey"]  # the log keeps its identity
    assert after["witness_vkey"] == before["witness_vkey"]
    assert after != before  # the message keys changed

    db = Database(us.database_url, base=us.home)
    try:
        with db.read() as conn:
            assert get_setting(conn, MESSAGE_KEY_SETTING) == first.new_kid
            queued = conn.execute(
                select(deliveries.c.recipient, messages.c.type, messages.c.precedence)
                .join(messages, messages.c.id == deliveries.c.message_id)
                .where(deliveries.c.status == "queued")
            ).all()
            logged = [json.loads(r) for r in conn.execute(select(log_entries.c.data)).scalars()]
    finally:
        db.dispose()
    assert [tuple(r) for r in queued] == [("RU", "key.rotate", "FLASH OVERRIDE")]
    assert [e["new_kid"] for e in logged if e["type"] == "key.rotated"] == [first.new_kid]

    second = rotate_node_keys(us, operator="test", scrypt_n=FAST)
    assert second.old_kid == first.new_kid
    current, retired, log_root = _ring(us)
    assert current == second.new_kid
    assert set(retired) == {root.public.sig_kid, first.new_kid}
    assert log_root == root.public.sig_kid
    assert (keys_dir / "retired" / f"{first.new_kid}.key").exists()


def test_a_rotation_that_never_committed_is_discarded(nodes: dict[str, NodeConfig]) -> None:
    us = nodes["US"]
    root_file = us.path(us.keys.file)
    db = Database(us.database_url, base=us.home)
    try:
        ring = load_key_ring(root_file, us.passphrase(), db)
        stage_rotation(root_file, us.passphrase(), ring, PartyKeys.generate("US"), scrypt_n=FAST)
        assert (root_file.parent / "pending.key").exists()
        again = load_key_ring(root_file, us.passphrase(), db)  # the DB never heard of it
    finally:
        db.dispose()
    assert again.current.public == ring.current.public
    assert not (root_file.parent / "pending.key").exists()


def test_a_running_node_is_not_rotated(nodes: dict[str, NodeConfig]) -> None:
    us = nodes["US"]
    with socket.socket() as listener:
        listener.bind((us.api.host, us.api.port))
        listener.listen()
        with pytest.raises(ConfigError, match="stop it before rotating"):
            rotate_node_keys(us, operator="test", scrypt_n=FAST)


def test_the_command_prints_the_new_fingerprint(nodes: dict[str, NodeConfig]) -> None:
    result = CliRunner().invoke(app, ["keys", "rotate", "--dir", str(nodes["RU"].home), "--yes"])
    assert result.exit_code == 0, result.output
    assert "rotated RU" in result.output
    assert "new fingerprint" in result.output
    assert "announced to US" in result.output
