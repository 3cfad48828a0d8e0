"""Playing the demo scenario (shared/MISSION.md) through the nodes' operator APIs.

Each step is a small function over the running nodes' API clients, so the scenario
exercises exactly what an operator would. Steps are listed in ``STEPS``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console

from molink.cli.client import NodeClient
from molink.errors import MolinkError
from molink.services.scenario import (
    DIALOGUE_HISTORY,
    OPENING_TRAFFIC,
)

__all__ = ["STEPS", "play", "wait_for"]

Clients = dict[str, NodeClient]


def wait_for(check: Callable[[], bool], *, timeout_s: float = 20.0, what: str = "") -> None:
    """Poll ``check`` until true (a running network settles in well under a second)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():
                return
        except MolinkError:
            pass
        if time.monotonic() > deadline:
            raise MolinkError(f"demo scenario: timed out waiting for {what}")
        time.sleep(0.05)


def _has_message(client: NodeClient, mid: str) -> bool:
    client.call("GET", f"/api/v1/messages/{mid}")
    return True


def opening_traffic(clients: Clients, console: Console) -> None:
    """Messages on the restored dialogue, the emergency line and the trilateral."""
    for m in OPENING_TRAFFIC:
        answer = clients[m.sender].call(
            "POST",
            "/api/v1/messages",
            json={
                "to": list(m.to),
                "precedence": m.precedence,
                "subject": m.subject,
                "body": m.body,
                "lang": m.lang,
                "channel": m.channel,
            },
        )
        console.print(f"  {m.sender} -> {','.join(m.to)} [{m.precedence}] {m.subject}")
        for party in m.to:
            _await_message(clients[party], answer["id"], party)
            if m.ack:
                clients[party].call("POST", f"/api/v1/messages/{answer['id']}/ack")


def _await_message(client: NodeClient, mid: str, party: str) -> None:
    wait_for(lambda: _has_message(client, mid), what=f"{mid} at {party}")


def _channel_state(client: NodeClient, channel: str) -> Any:
    return client.call("GET", f"/api/v1/channels/{channel}")


def dialogue_history(clients: Clients, console: Console) -> None:
    """The high-level dialogue: suspended in late 2021, restored on 2026-02-05."""
    channel = "us-ru-dialogue"
    for step in DIALOGUE_HISTORY:
        other = "RU" if step.party == "US" else "US"
        before = len(_channel_state(clients[other], channel)["history"])
        clients[step.party].call(
            "POST",
            f"/api/v1/channels/{channel}/events",
            json={"action": step.action, "reason": step.reason, "effective": step.effective},
        )

        def grown(o: str = other, b: int = before) -> bool:
            return len(_channel_state(clients[o], channel)["history"]) > b

        wait_for(grown, what=f"{step.action} of {channel} at {other}")
        console.print(f"  {step.party} {step.action}s {channel} (effective {step.effective})")
    state = _channel_state(clients["US"], channel)["state"]
    console.print(f"  {channel} is now {state}")


def coded_message(clients: Clients, console: Console) -> None:
    """Both sides agree the catalogue on the emergency line; RU sends a coded message."""
    channel = "us-ru-emergency"
    for party in ("US", "RU"):
        clients[party].call("POST", f"/api/v1/channels/{channel}/catalogue/agree")
    wait_for(
        lambda: clients["RU"].call("GET", f"/api/v1/channels/{channel}/catalogue")["in_force"],
        what="catalogue agreement",
    )
    answer = clients["RU"].call(
        "POST",
        "/api/v1/messages",
        json={
            "to": ["US"],
            "channel": channel,
            "code": "CALLNOW",
            "params": {"line": "EDL-1"},
            "lang": "ru",
        },
    )
    wait_for(lambda: _has_message(clients["US"], answer["id"]), what="coded message at US")
    view = clients["US"].call("GET", f"/api/v1/messages/{answer['id']}")
    console.print(f"  RU -> US coded CALLNOW, reads at US as: {view['rendered']['en']!r}")


def unacknowledged_flash(clients: Clients, console: Console) -> None:
    """A FLASH left unacknowledged: overdue after 2 min, escalated after 4 (demo deadlines)."""
    answer = clients["US"].call(
        "POST",
        "/api/v1/messages",
        json={
            "to": ["RU"],
            "channel": "us-ru-emergency",
            "precedence": "FLASH",
            "subject": "Unidentified aircraft, Black Sea",
            "body": "Request identification of aircraft at 44.5N 32.0E. Acknowledge.",
        },
    )
    console.print(
        f"  US -> RU FLASH {answer['id']} left unacknowledged (overdue in 2 min, escalated in 4)"
    )


STEPS: tuple[Callable[[Clients, Console], None], ...] = (
    opening_traffic,
    dialogue_history,
    coded_message,
    unacknowledged_flash,
)


def play(clients: Clients, console: Console) -> None:
    for step in STEPS:
        step(clients, console)
