"""What every fault test asserts at the end: zero loss, zero duplicates, verified logs.

Two checks, for real node processes (``tests.support.procnet``):

* ``Traffic`` records what each node's API accepted (201) and how many POSTs were
  cut off (they may or may not have committed), and sends bursts from a thread.
* ``await_delivered`` waits until every outbound message at each sender is
  delivered, over the API; ``check_inboxes`` then asserts every accepted message is
  in the recipient's inbox exactly once.
* ``check_offline`` (nodes stopped) reads each database directly: one inbound row
  per message, the bytes the sender signed, a receipt that verifies against the
  recipient's pinned key and names its log index, one ``message.sent`` /
  ``receipt.received`` / ``message.received`` log entry each, and
  ``LogService.verify_integrity`` passes on every node.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import func, select

from molink.core.jose import jws_parse
from molink.core.receipt import verify_receipt
from molink.services.runtime import NodeRuntime
from molink.storage.schema import messages
from tests.support.procnet import ProcNet, ProcNode, wait_until

__all__ = [
    "PRECEDENCES",
    "Burst",
    "Traffic",
    "await_delivered",
    "check_inboxes",
    "check_offline",
    "listing",
]

PRECEDENCES = ("ROUTINE", "PRIORITY", "IMMEDIATE", "FLASH", "FLASH OVERRIDE")


@dataclass
class Traffic:
    """Accepted message ids per (sender, recipient), and POSTs of unknown outcome."""

    accepted: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    uncertain: Counter[str] = field(default_factory=Counter)

    def add(self, sender: str, recipient: str, ids: Iterable[str]) -> None:
        self.accepted.setdefault((sender, recipient), set()).update(ids)

    def sent_by(self, sender: str) -> set[str]:
        return set().union(*(ids for (s, _), ids in self.accepted.items() if s == sender))

    def sent_to(self, recipient: str) -> set[str]:
        return set().union(*(ids for (_, r), ids in self.accepted.items() if r == recipient))

    @property
    def total(self) -> int:
        return sum(len(ids) for ids in self.accepted.values())


@dataclass
class Burst:
    """POSTs ``count`` messages from one node in a thread until done or the node dies."""

    node: ProcNode
    to: str
    count: int
    tag: str
    accepted: list[str] = field(default_factory=list)
    uncertain: int = 0
    refused: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> Burst:
        self.thread = threading.Thread(target=self._run, name=f"burst-{self.tag}", daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        with self.node.client(timeout=10.0) as client:
            for i in range(self.count):
                body = {
                    "to": [self.to],
                    "precedence": PRECEDENCES[i % len(PRECEDENCES)],
                    "subject": f"{self.tag} #{i}",
                    "body": f"burst {self.tag} message {i}",
                }
                try:
                    answer = client.post("/api/v1/messages", json=body)
                except httpx.TransportError:
                    self.uncertain += 1
                    return
                if answer.status_code != 201:
                    self.refused.append(f"{answer.status_code}: {answer.text[:200]}")
                    return
                self.accepted.append(answer.json()["id"])

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def join(self, traffic: Traffic | None = None) -> None:
        assert self.thread is not None
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the burst thread hangs"
        assert not self.refused, self.refused
        if traffic is not None:
            traffic.add(self.node.party, self.to, self.accepted)
            traffic.uncertain[self.node.party] += self.uncertain


def listing(client: httpx.Client, box: str) -> list[dict[str, object]]:
    """Every message in a box, following the cursor."""
    items: list[dict[str, object]] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"box": box, "limit": 500}
        if cursor:
            params["cursor"] = cursor
        answer = client.get("/api/v1/messages", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items.extend(page["items"])
        cursor = page["next"]
        if not cursor:
            return items


def _queued(client: httpx.Client) -> int:
    answer = client.get("/api/v1/status")
    assert answer.status_code == 200, answer.text
    return sum(int(link["queued_total"]) for link in answer.json()["links"])


def await_delivered(net: ProcNet, traffic: Traffic, *, timeout: float = 60.0) -> None:
    """Wait until every sender's queue is empty (cheap: the status endpoint), then check
    over the message listing that every accepted message is there and delivered."""
    for sender in sorted({s for s, _ in traffic.accepted}):
        with net[sender].client(timeout=30.0) as client:

            def drained(client: httpx.Client = client) -> bool:
                return _queued(client) == 0

            wait_until(
                drained,
                timeout=timeout,
                interval=0.25,
                what=f"{sender}'s backlog delivered",
            )
            outbox = [m for m in listing(client, "outbox") if m.get("type") == "message"]
        pending = [m["id"] for m in outbox if m["status"] not in ("delivered", "acknowledged")]
        assert not pending, f"{sender}: queue empty but {len(pending)} messages undelivered"
        ids = {str(m["id"]) for m in outbox}
        missing = traffic.sent_by(sender) - ids
        assert not missing, f"{len(missing)} accepted messages are missing at {sender}"
        extra = ids - traffic.sent_by(sender)
        assert len(extra) <= traffic.uncertain[sender], f"{sender} holds unsubmitted messages"


def check_inboxes(net: ProcNet, traffic: Traffic) -> None:
    """Every accepted message is in its recipient's inbox exactly once."""
    for recipient in {r for _, r in traffic.accepted}:
        with net[recipient].client(timeout=30.0) as client:
            inbox = [str(m["id"]) for m in listing(client, "inbox")]
        dupes = [mid for mid, n in Counter(inbox).items() if n > 1]
        assert not dupes, f"delivered more than once at {recipient}: {dupes[:5]}"
        missing = traffic.sent_to(recipient) - set(inbox)
        assert not missing, f"{len(missing)} accepted messages never reached {recipient}"


def _log_entries(rt: NodeRuntime) -> list[dict[str, object]]:
    with rt.ctx.db.read() as conn:
        return [json.loads(bytes(row.data)) for row in rt.ctx.log.entries(conn, 0, 2**62)]


def _inbound_counts(rt: NodeRuntime) -> dict[str, int]:
    with rt.ctx.db.read() as conn:
        rows = conn.execute(
            select(messages.c.id, func.count())
            .where(messages.c.direction == "in", messages.c.type == "message")
            .group_by(messages.c.id)
        ).all()
    return {str(mid): int(n) for mid, n in rows}


def check_offline(net: ProcNet, traffic: Traffic) -> dict[str, int]:
    """Nodes stopped: rows, receipts and logs straight from each database.

    Returns the log size of each node (for reports).
    """
    runtimes = {party: net.runtime(party) for party in net.nodes}
    try:
        entries = {party: Counter((e["type"], e.get("id")) for e in _log_entries(rt)) for
                   party, rt in runtimes.items()}  # fmt: skip
        for (sender, recipient), ids in traffic.accepted.items():
            src, dst = runtimes[sender], runtimes[recipient]
            counts = _inbound_counts(dst)
            assert all(counts.get(mid) == 1 for mid in ids), f"loss or duplicate at {recipient}"
            directory = src.ctx.directory()
            for mid in ids:
                jws = src.queries.jws(mid)
                assert dst.queries.jws(mid) == jws, f"{recipient} stored other bytes"
                receipt = verify_receipt(
                    src.queries.receipt(mid, recipient),
                    directory,
                    message_id=mid,
                    jws_sha256=jws_parse(jws).sha256,
                )
                assert receipt.recipient == recipient
                assert receipt.log_origin == dst.ctx.log_origin
                with dst.ctx.db.read() as conn:
                    assert dst.ctx.messages.get(conn, mid).log_index == receipt.log_index
                assert entries[sender][("message.sent", mid)] == 1, mid
                assert entries[sender][("receipt.received", mid)] == 1, mid
                assert entries[recipient][("message.received", mid)] == 1, mid
        sizes = {}
        for party, rt in runtimes.items():
            report = rt.log.verify_integrity()
            assert report.ok, (party, report.problems)
            sizes[party] = sum(entries[party].values())
        return sizes
    finally:
        for rt in runtimes.values():
            rt.ctx.db.dispose()
