"""``molink demo``: four party nodes as separate OS processes on 127.0.0.1.

Contract (shared/DESIGN.md): nodes US, RU, UA, AE at ports P..P+3; keys exchanged;
scenario loaded unless ``--empty``; ``DIR/network.json`` written; then the line
``molink demo ready: DIR/network.json``; runs until SIGINT/SIGTERM and stops every
node cleanly. ``serve_cmd`` in network.json restarts one node on its data.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from molink.cli.client import NodeClient
from molink.cli.demo_scenario import Team, play
from molink.config import NodeConfig
from molink.errors import MolinkError, PeerUnreachable
from molink.services.admin import parse_bundle, register_peer
from molink.services.provision import create_node, node_bundle
from molink.services.scenario import MEDIATOR, PARTIES, install_channels
from molink.storage.db import Database, micros
from molink.storage.files import load_keys
from molink.transport.http import pinned_context

__all__ = ["run_demo", "serve_command"]


def serve_command(home: Path) -> list[str]:
    """The command that (re)starts one node on its data."""
    script = Path(sys.executable).with_name("molink")
    if script.exists():
        return [str(script), "serve", "--dir", str(home.resolve())]
    found = shutil.which("molink")
    if found:
        return [found, "serve", "--dir", str(home.resolve())]
    return [sys.executable, "-m", "molink", "serve", "--dir", str(home.resolve())]


def _prepare(directory: Path, base_port: int, console: Console) -> dict[str, NodeConfig]:
    now = datetime.now(UTC)
    configs: dict[str, NodeConfig] = {}
    fresh = False
    for i, party in enumerate(PARTIES):
        home = directory / party
        if not (home / "node.toml").exists():
            create_node(home, party=party, port=base_port + i, now=now)
            fresh = True
        configs[party] = NodeConfig.load(home / "node.toml")
        if configs[party].api.port != base_port + i:
            raise MolinkError(
                f"{home} was created for port {configs[party].api.port}; "
                f"use --base-port {configs[party].api.port - i} or a new --dir"
            )
    if fresh:
        console.print("exchanging key bundles between US, RU, UA and AE")
        bundles = {}
        for party, config in configs.items():
            keys = load_keys(config.path(config.keys.file), config.passphrase())
            bundles[party] = parse_bundle(
                json.loads(node_bundle(config, keys, mediator=party == MEDIATOR))
            )
        for party, config in configs.items():
            db = Database(config.database_url, base=config.home)
            for other, peer in bundles.items():
                if other != party:
                    register_peer(db, peer, micros(now), own_party=party)
            install_channels(db, micros(now))
            db.dispose()
    return configs


def _start(configs: dict[str, NodeConfig], directory: Path) -> dict[str, subprocess.Popen[bytes]]:
    procs = {}
    for party, config in configs.items():
        log = (directory / f"{party}.log").open("ab")
        procs[party] = subprocess.Popen(
            serve_command(config.home), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return procs


def _wait_healthy(
    configs: dict[str, NodeConfig],
    procs: dict[str, subprocess.Popen[bytes]],
    timeout_s: float = 60.0,
) -> None:
    deadline = time.monotonic() + timeout_s
    for party, config in configs.items():
        cert = config.path(config.api.tls_cert).read_text(encoding="utf-8")
        url = f"{config.api.public_url}/api/v1/health"
        with httpx.Client(verify=pinned_context(cert), timeout=2.0) as client:
            while True:
                if procs[party].poll() is not None:
                    raise MolinkError(
                        f"node {party} exited (code {procs[party].returncode}); "
                        f"see {config.home.parent / (party + '.log')}"
                    )
                try:
                    if client.get(url).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise PeerUnreachable(f"node {party} did not become healthy in {timeout_s}s")
                time.sleep(0.1)


def _network_json(
    configs: dict[str, NodeConfig], procs: dict[str, subprocess.Popen[bytes]]
) -> dict[str, Any]:
    nodes = []
    for party, config in configs.items():
        token = (config.home / "tokens" / "duty.token").read_text(encoding="utf-8").strip()
        url = config.api.public_url or f"https://{config.api.host}:{config.api.port}"
        info = _log_keys(config)
        nodes.append(
            {
                "party": party,
                "api_url": url,
                "log_url": f"{url}/log",
                "log_origin": config.log_origin,
                "log_vkey": info.get("log_vkey"),
                "witness_vkey": info.get("witness_vkey"),
                "ca_cert": str(config.path(config.api.tls_cert)),
                "token": token,
                "pid": procs[party].pid,
                "serve_cmd": serve_command(config.home),
            }
        )
    return {"nodes": nodes}


def _log_keys(config: NodeConfig) -> dict[str, str]:
    """The node's log and witness verifier keys (C2SP vkeys), if the log is set up."""
    try:
        from molink.services.logkeys import verifier_keys
    except ImportError:  # pragma: no cover - the log service is optional at this stage
        return {}
    keys = load_keys(config.path(config.keys.file), config.passphrase())
    found: dict[str, str] = verifier_keys(keys, config.log_origin)
    return found


def _play_scenario(directory: Path, console: Console) -> None:
    duty = {p: NodeClient(directory / p) for p in PARTIES}
    sup = {p: NodeClient(directory / p, role="supervisor") for p in PARTIES}
    try:
        play(Team(duty, sup), console)
    finally:
        for client in [*duty.values(), *sup.values()]:
            client.close()


def _stop(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_demo(directory: Path, *, base_port: int, empty: bool, console: Console) -> None:
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    configs = _prepare(directory, base_port, console)
    stop = {"now": False}

    def _on_signal(_signum: int, _frame: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    procs = _start(configs, directory)
    try:
        _wait_healthy(configs, procs)
        network = _network_json(configs, procs)
        path = directory / "network.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(network, indent=2), encoding="utf-8")
        os.replace(tmp, path)
        if not empty:
            console.print("loading the scenario: channels and opening traffic")
            _play_scenario(directory, console)
        console.print(f"molink demo ready: {path}", highlight=False, soft_wrap=True)
        sys.stdout.flush()
        while not stop["now"]:
            time.sleep(0.2)
    finally:
        console.print("stopping nodes")
        _stop(procs)
