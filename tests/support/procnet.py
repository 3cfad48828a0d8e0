"""Real node processes on loopback for integration tests and benchmarks.

``ProcNet`` creates N nodes in a folder (fast scrypt), pins every node as every
other's peer, starts each with ``python -m molink serve --dir HOME`` as its own
OS process (output to ``HOME/../PARTY.log``), and waits until each answers
``/api/v1/health`` over pinned TLS. It can kill (any signal), restart and stop
nodes, and hands out a synchronous httpx client per node that carries the duty
officer's bearer token.

Every wait is bounded: it polls with a deadline and fails with the node's log
tail. ``close()`` terminates every process it started (SIGTERM, then SIGKILL),
and on Linux each child also gets SIGKILL if the test process itself dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from molink.config import NodeConfig
from molink.services.admin import parse_bundle, register_peer
from molink.services.provision import create_node, node_bundle
from molink.services.runtime import NodeRuntime
from molink.storage.db import Database, micros
from molink.storage.files import load_keys
from molink.storage.peers import Peer
from molink.transport.http import pinned_context

__all__ = ["NodeFailed", "ProcNet", "ProcNets", "ProcNode", "free_port", "wait_until"]

HOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


class NodeFailed(AssertionError):
    """A node process died or did not become healthy in time."""


def wait_until(
    predicate: Callable[[], Any], *, timeout: float, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll ``predicate`` until it returns a truthy value; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached within {timeout:.1f}s: {what or predicate!r}")
        time.sleep(interval)


def _ephemeral_low() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii")
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(taken: Iterable[int] = ()) -> int:
    """A free TCP port on 127.0.0.1, below the ephemeral range.

    Ports from ``bind(0)`` lie in the ephemeral range that outgoing connections
    also use, so a killed node's port could be taken by some client socket before
    the node restarts. Picking below that range avoids it; a bind test checks
    that nobody listens there now.
    """
    low, high = 20000, max(20001, _ephemeral_low() - 1)
    avoid = set(taken)
    for _ in range(200):
        port = random.randint(low, high)
        if port in avoid:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
        return port
    raise OSError("no free port found on 127.0.0.1")


def _load_libc() -> Any:
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the child gets SIGKILL when the thread that started it dies (no orphans).

    Runs between fork and exec, so it only calls into the already loaded libc.
    """
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class ProcNode:
    """One node: its folder, config, token and (while running) its process."""

    party: str
    home: Path
    token: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def config(self) -> NodeConfig:
        return NodeConfig.load(self.home / "node.toml")

    @property
    def url(self) -> str:
        config = self.config
        return config.api.public_url or f"https://{HOST}:{config.api.port}"

    @property
    def cert(self) -> str:
        config = self.config
        return config.path(config.api.tls_cert).read_text(encoding="utf-8")

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise NodeFailed(f"node {self.party} is not running")
        return self.proc.pid

    def serve_cmd(self) -> list[str]:
        return [sys.executable, "-m", "molink", "serve", "--dir", str(self.home)]

    def client(self, *, timeout: float = 10.0) -> httpx.Client:
        """A new client for this node's API, pinned to its certificate, as duty officer."""
        client = httpx.Client(
            base_url=self.url,
            verify=pinned_context(self.cert),
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=timeout,
        )
        self._clients.append(client)
        return client

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


class ProcNet:
    """N real nodes on loopback, every one pinned as every other's peer."""

    def __init__(
        self,
        root: Path,
        parties: Iterable[str] = ("US", "RU"),
        *,
        delivery: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        wrap: Callable[[ProcNode, list[str]], list[str]] | None = None,
        database_urls: Mapping[str, str] | None = None,
    ) -> None:
        """Create the nodes (not started). ``delivery`` overrides ``[delivery]`` in node.toml;
        ``wrap`` may change the serve command (e.g. to run it under cProfile, or add
        ``--workers``); ``database_urls`` puts nodes on other databases than SQLite."""
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.nodes: dict[str, ProcNode] = {}
        self._env = {**os.environ, **(env or {})}
        self._wrap = wrap
        now = datetime.now(UTC)
        ports: list[int] = []
        for party in parties:
            home = self.root / party
            port = free_port(ports)
            ports.append(port)
            created = create_node(
                home,
                party=party,
                port=port,
                now=now,
                scrypt_n=2**14,
                database_url=(database_urls or {}).get(party, "sqlite:///node.db"),
            )
            if delivery:
                config = created.config
                config = config.model_copy(
                    update={"delivery": config.delivery.model_copy(update=dict(delivery))}
                )
                (home / "node.toml").write_text(config.to_toml(), encoding="utf-8")
            self.nodes[party] = ProcNode(
                party=party,
                home=home.resolve(),
                token=created.duty_token,
                log_path=self.root / f"{party}.log",
            )
        for party in self.nodes:
            self._pin_everywhere(party, now)

    def __getitem__(self, party: str) -> ProcNode:
        return self.nodes[party]

    def __enter__(self) -> ProcNet:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- provisioning --------------------------------------------------------------

    def bundle(self, party: str) -> Peer:
        config = self.nodes[party].config
        keys = load_keys(config.path(config.keys.file), config.passphrase())
        return parse_bundle(json.loads(node_bundle(config, keys)))

    def _pin_everywhere(self, party: str, now: datetime) -> None:
        """Register ``party``'s bundle at every other node (also after a port change)."""
        peer = self.bundle(party)
        for other, node in self.nodes.items():
            if other == party:
                continue
            config = node.config
            db = Database(config.database_url, base=config.home)
            try:
                register_peer(db, peer, micros(now), own_party=other)
            finally:
                db.dispose()

    def _move(self, party: str) -> None:
        """Give ``party`` a new port (its old one was taken) and re-pin it everywhere."""
        node = self.nodes[party]
        config = node.config
        port = free_port([config.api.port])
        api = config.api.model_copy(update={"port": port, "public_url": f"https://{HOST}:{port}"})
        config = config.model_copy(update={"api": api})
        (node.home / "node.toml").write_text(config.to_toml(), encoding="utf-8")
        self._pin_everywhere(party, datetime.now(UTC))

    # -- processes -----------------------------------------------------------------

    def start(self, *parties: str, timeout: float = 60.0) -> None:
        """Start the named nodes (default: all) and wait until each is healthy."""
        names = list(parties or self.nodes)
        for party in names:
            self._spawn(party)
        for party in names:
            self._await_healthy(party, timeout)

    def _spawn(self, party: str) -> None:
        node = self.nodes[party]
        if node.running():
            raise NodeFailed(f"node {party} is already running")
        cmd = node.serve_cmd()
        if self._wrap is not None:
            cmd = self._wrap(node, cmd)
        with node.log_path.open("ab") as log:
            log.write(f"\n--- start {' '.join(cmd)}\n".encode())
            log.flush()
            node.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._env,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads touch the child
            )

    def _await_healthy(self, party: str, timeout: float, *, moves: int = 3) -> None:
        node = self.nodes[party]
        deadline = time.monotonic() + timeout
        with httpx.Client(verify=pinned_context(node.cert), timeout=2.0) as client:
            url = f"{node.url}/api/v1/health"
            while True:
                assert node.proc is not None
                if node.proc.poll() is not None:
                    tail = node.log_tail()
                    if moves > 0 and "address already in use" in tail.lower():
                        self._move(party)
                        self._spawn(party)
                        self._await_healthy(party, timeout, moves=moves - 1)
                        return
                    raise NodeFailed(
                        f"node {party} exited with {node.proc.returncode}; log:\n{tail}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if client.get(url).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise NodeFailed(
                        f"node {party} not healthy within {timeout}s; log:\n{node.log_tail()}"
                    )
                time.sleep(0.05)

    def kill(self, party: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the node; for SIGKILL/SIGTERM also reap the process."""
        node = self.nodes[party]
        if node.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            node.proc.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            try:
                node.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait(timeout=15)

    def stop(self, party: str) -> None:
        """Stop the node cleanly (SIGTERM; SIGKILL if it hangs)."""
        node = self.nodes[party]
        if node.proc is not None and node.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                node.proc.send_signal(signal.SIGCONT)  # a stopped process cannot exit
            self.kill(party, signal.SIGTERM)

    def restart(self, party: str, *, timeout: float = 60.0) -> None:
        """Start a killed or stopped node again on its own data (its ``serve_cmd``)."""
        if self.nodes[party].running():
            self.stop(party)
        self.start(party, timeout=timeout)

    def close(self, grace_s: float = 5.0) -> None:
        """Terminate every process this net started (SIGTERM to all at once, then SIGKILL
        after ``grace_s``). Safe to call twice."""
        for node in self.nodes.values():
            node.close_clients()
        running = [n.proc for n in self.nodes.values() if n.proc is not None and n.running()]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)  # a stopped process cannot exit
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in running:
            try:
                proc.wait(timeout=max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)

    # -- offline inspection (nodes stopped) ---------------------------------------

    def runtime(self, party: str) -> NodeRuntime:
        """The node's services built in this process, on its data (stop it first)."""
        return NodeRuntime.from_config(self.nodes[party].config)


class ProcNets:
    """Creates ``ProcNet``s under one folder and closes all of them (a fixture's finalizer)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nets: list[ProcNet] = []

    def create(self, parties: Iterable[str] = ("US", "RU"), **options: Any) -> ProcNet:
        net = ProcNet(self.root / f"net{len(self.nets)}", parties, **options)
        self.nets.append(net)
        return net

    def close(self, grace_s: float = 2.0) -> None:
        for net in self.nets:
            net.close(grace_s)
