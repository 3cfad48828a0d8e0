"""What every service of one node needs, passed explicitly (no globals, no registry)."""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from molink.core.envelope import Directory
from molink.core.keys import PartyKeys
from molink.services.clock import Clock
from molink.services.events import EventBus
from molink.storage.db import Database, micros
from molink.storage.log import LogRepo
from molink.storage.messages import MessageRepo
from molink.storage.peers import PeerRepo

__all__ = ["NodeContext", "worker_id"]


def worker_id() -> str:
    """A name for this worker process, unique among the node's workers (host/pid/random)."""
    return f"{socket.gethostname()[:40]}/{os.getpid()}/{secrets.token_hex(3)}"


@dataclass(slots=True)
class NodeContext:
    """Identity, storage and injected time/randomness of one node."""

    keys: PartyKeys
    db: Database
    clock: Clock
    random: Callable[[int], bytes]
    log_origin: str
    max_skew: timedelta = timedelta(minutes=5)
    events: EventBus = field(default_factory=EventBus)
    worker: str = field(default_factory=worker_id)  # who holds outbox claims
    # Message keys used before a rotation: still open what peers sealed to them.
    retired_keys: tuple[PartyKeys, ...] = ()
    # The key the log and witness keys derive from (the party's first key), if not ``keys``.
    root_keys: PartyKeys | None = None
    messages: MessageRepo = field(init=False)
    peers: PeerRepo = field(init=False)
    log: LogRepo = field(init=False)
    _directory: Directory | None = field(default=None, init=False)
    _dir_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.messages = MessageRepo(self.db)
        self.peers = PeerRepo()
        self.log = LogRepo(self.db)

    @property
    def party(self) -> str:
        return self.keys.party

    @property
    def log_keys(self) -> PartyKeys:
        """The keys the log and witness keys derive from: stable across rotations."""
        return self.root_keys or self.keys

    def wake_outbox(self) -> None:
        """Tell the outbox that new items were committed."""
        self.events.publish("outbox.wake")

    def now_us(self) -> int:
        return micros(self.clock.now())

    def directory(self, *, refresh: bool = False) -> Directory:
        """Pinned keys, cached; ``refresh`` re-reads them (after ``peer add``)."""
        with self._dir_lock:
            if self._directory is None or refresh:
                with self.db.read() as conn:
                    directory = self.peers.directory(conn, self.keys.public)
                for old in self.retired_keys:  # our own older signatures still verify
                    directory.add(old.public, current=False)
                self._directory = directory
            return self._directory
