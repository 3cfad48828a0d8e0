"""Playing the demo scenario (shared/MISSION.md) through the nodes' operator APIs.

Each step is a small function over the running nodes' API clients, so the scenario
exercises exactly what an operator would. Steps are listed in ``STEPS``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from rich.console import Console

from molink.cli.client import NodeClient
from molink.errors import MolinkError
from molink.services.scenario import (
    DIALOGUE_HISTORY,
    EXCHANGE_TERMS,
    MQ9_ACCOUNTS,
    OPENING_TRAFFIC,
)
from molink.services.scenario_deconfliction import (
    ESTONIA_ZONE,
    ZNPP_SITE,
    black_sea_reservations,
    drone_tracks,
    mig31_tracks,
    znpp_violation,
)

__all__ = ["STEPS", "Team", "play", "wait_for"]

Clients = dict[str, NodeClient]


class Team:
    """Each party's duty officer and supervisor, as API clients of their own node."""

    def __init__(self, duty: Clients, supervisors: Clients) -> None:
        self.duty = duty
        self.sup = supervisors


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


def opening_traffic(team: Team, console: Console) -> None:
    clients = team.duty
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


def dialogue_history(team: Team, console: Console) -> None:
    clients = team.sup
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


def coded_message(team: Team, console: Console) -> None:
    clients = team.duty
    """Both sides agree the catalogue on the emergency line; RU sends a coded message."""
    channel = "us-ru-emergency"
    for party in ("US", "RU"):
        team.sup[party].call("POST", f"/api/v1/channels/{channel}/catalogue/agree")
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


def unacknowledged_flash(team: Team, console: Console) -> None:
    clients = team.duty
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


def mq9_incident(team: Team, console: Console) -> None:
    clients = team.duty
    """The MQ-9 over the Black Sea, 14 March 2023: both accounts side by side."""
    iid = clients["US"].call(
        "POST",
        "/api/v1/incidents",
        json={
            "channel": "us-ru-emergency",
            "title": "MQ-9 Reaper down over the Black Sea",
            "precedence": "FLASH",
            "account": MQ9_ACCOUNTS["US"],
        },
    )["id"]
    path = f"/api/v1/incidents/{iid}"
    wait_for(lambda: bool(clients["RU"].call("GET", path)), what="incident at RU")
    clients["RU"].call(
        "POST", f"{path}/events", json={"type": "incident.account", "fields": MQ9_ACCOUNTS["RU"]}
    )
    wait_for(lambda: "RU" in clients["US"].call("GET", path)["accounts"], what="RU account at US")
    clients["US"].call(
        "POST",
        f"{path}/events",
        json={
            "type": "incident.rfe",
            "fields": {"question": "Explain the contact with the MQ-9 propeller at about 06:03Z."},
        },
    )
    console.print(
        f"  MQ-9 incident {iid}: US account 06:03Z and RU account 06:30Z side by "
        "side; a request for explanation is open (48 h)"
    )


def _exchange_records(giver: str, receiver: str) -> list[dict[str, str]]:
    counts = EXCHANGE_TERMS["terms"][receiver]
    return [
        {"pid": f"{giver.lower()}-{cat}-{i:04d}", "category": cat, "to": receiver}
        for cat, n in counts.items()
        for i in range(n)
    ]


def prisoner_exchange(team: Team, console: Console) -> None:
    clients = team.sup
    """The exchange of 5 February 2026, mediated by the US and AE, to completion."""
    aid = clients["AE"].call(
        "POST", "/api/v1/ledger", json={"channel": "trilateral", "terms": EXCHANGE_TERMS}
    )["id"]
    path = f"/api/v1/ledger/{aid}"
    for party in ("RU", "UA"):
        _await_path(clients[party], path, party)
        clients[party].call("POST", f"{path}/agree")
    terms = EXCHANGE_TERMS["terms"]
    for giver, receiver in (("UA", "RU"), ("RU", "UA")):
        clients[giver].call(
            "POST", f"{path}/lists", json={"records": _exchange_records(giver, receiver)}
        )
        clients[giver].call(
            "POST",
            f"{path}/handover",
            json={"handed_over": terms[receiver], "received": terms[giver]},
        )
    for party in ("RU", "UA", "AE"):
        _await_reconciled(clients[party], path, party)
        clients[party].call("POST", f"{path}/sign")
    wait_for(
        lambda: bool(clients["US"].call("GET", path)["completion"]["complete"]),
        what="completion record",
    )
    console.print(
        f"  exchange {aid}: RU receives 157 + 3, UA receives 150 + 7; reconciled, "
        "signed by RU and UA, witnessed by AE"
    )


def _await_path(client: NodeClient, path: str, party: str) -> None:
    wait_for(lambda: bool(client.call("GET", path)), what=f"{path} at {party}")


def _await_reconciled(client: NodeClient, path: str, party: str) -> None:
    wait_for(
        lambda: bool(client.call("GET", path)["reconciliation"]["complete"]),
        what=f"reconciliation at {party}",
    )


# ---------------------------------------------------------------------- deconfliction
def _decon_ready(team: Team, console: Console) -> bool:
    """Whether the nodes serve the deconfliction API (a node without it skips these steps)."""
    paths = team.duty["US"].call("GET", "/openapi.json").get("paths", {})
    if "/api/v1/notifications" in paths and "/api/v1/tracks" in paths:
        return True
    console.print("  (the deconfliction API is not mounted on the nodes: step skipped)")
    return False


def _alerts(client: NodeClient, kind: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.call(
        "GET", "/api/v1/alerts", params={"kind": kind, "limit": 1000}
    )["items"]
    return items


def _has_alerts(
    client: NodeClient, kind: str, match: Callable[[dict[str, Any]], bool], n: int
) -> bool:
    return sum(1 for a in _alerts(client, kind) if match(a)) >= n


def _await_alerts(
    team: Team, parties: Iterable[str], kind: str, match: Callable[[dict[str, Any]], bool], n: int
) -> None:
    for party in parties:
        client = team.duty[party]

        wait_for(partial(_has_alerts, client, kind, match, n), what=f"{n} {kind} alerts at {party}")


def _confirmed_by(client: NodeClient, site_id: str, n: int) -> bool:
    props = client.call("GET", f"/api/v1/sites/{site_id}")["properties"]
    return bool(props["verification"] == f"confirmed by {n} parties")


def _in_conflict(client: NodeClient, a: str, b: str, *, present: bool = True) -> bool:
    items = client.call("GET", "/api/v1/conflicts", params={"geometry": "false"})["items"]
    found = any({c["volume_id"], c["other_id"]} == {a, b} for c in items)
    return found == present


def znpp_protected_zone(team: Team, console: Console) -> None:
    """AE declares the Zaporizhzhia NPP exclusion zone, the others confirm it, and a drone
    notification inside it raises a FLASH conflict on every node."""
    if not _decon_ready(team, console):
        return
    clients = team.duty
    sid = clients["AE"].call("POST", "/api/v1/sites", json=ZNPP_SITE)["id"]
    for party in ("UA", "RU", "US"):
        _await_path(clients[party], f"/api/v1/sites/{sid}", party)
        clients[party].call("POST", f"/api/v1/sites/{sid}/confirm")
    for party, client in clients.items():
        wait_for(partial(_confirmed_by, client, sid, 3), what=f"three confirmations at {party}")
    filed = clients["RU"].call(
        "POST", "/api/v1/notifications", json=znpp_violation(datetime.now(UTC))
    )
    _await_alerts(team, clients, "conflict", lambda a: a["refs"] == [filed["id"], sid], 1)
    console.print(
        f"  Zaporizhzhia NPP zone {sid}: declared by AE, confirmed by 3 parties; RU drone "
        f"flights 8 km from the plant raise a FLASH conflict on every node"
    )


def black_sea_airspace(team: Team, console: Console) -> None:
    """Overlapping US and RU reservations over the Black Sea; the later filer (RU) applies the
    suggested resolution and the conflict clears on every node."""
    if not _decon_ready(team, console):
        return
    clients = team.duty
    us_res, ru_res = black_sea_reservations(datetime.now(UTC))
    a = clients["US"].call("POST", "/api/v1/notifications", json=us_res)["id"]
    _await_path(clients["RU"], f"/api/v1/notifications/{a}", "RU")
    filed = clients["RU"].call("POST", "/api/v1/notifications", json=ru_res)
    b = filed["id"]
    [conflict] = [c for c in filed["conflicts"] if {c["volume_id"], c["other_id"]} == {a, b}]

    for party, client in clients.items():
        wait_for(partial(_in_conflict, client, a, b), what=f"the Black Sea conflict at {party}")
    console.print(
        f"  Black Sea: US orbit {a} and RU regime {b} conflict "
        f"(separation {conflict['separation_m']:.0f} m); suggested: {conflict['suggestion']}"
    )
    # the later filing (by signed time) is the one asked to move: normally RU's
    mover, moved = conflict["move"], conflict["volume_id"]
    resolved = clients[mover].call("POST", f"/api/v1/notifications/{moved}/resolve", json={})
    for party, client in clients.items():
        wait_for(
            partial(_in_conflict, client, a, b, present=False),
            what=f"the conflict cleared at {party}",
        )
    console.print(
        f"  {mover} applied it (revision {resolved['rev']}): "
        f"{len(resolved['conflicts'])} conflicts remain on any node"
    )


def estonian_incursion(team: Team, console: Console) -> None:
    """Three MiG-31s about 12 minutes in Estonian airspace near Vaindloo (19 Sep 2025)."""
    if not _decon_ready(team, console):
        return
    clients = team.duty
    sid = clients["US"].call("POST", "/api/v1/sites", json=ESTONIA_ZONE)["id"]
    for party in ("RU", "AE"):
        _await_path(clients[party], f"/api/v1/sites/{sid}", party)
    answer = clients["US"].call(
        "POST", "/api/v1/tracks", json={"points": mig31_tracks(), "party": "RU"}
    )
    _await_alerts(team, ("US", "RU", "AE"), "intrusion", lambda a: sid in a["refs"], 3)
    console.print(
        f"  Vaindloo: {answer['accepted']} track points of 3 MiG-31s (attributed to RU) -> "
        f"{len(answer['intrusions'])} intrusion alerts at US, RU and AE"
    )


def drones_into_poland(team: Team, console: Console) -> None:
    """About 19 drones crossing into Poland near Wyryki-Wola (9-10 Sep 2025)."""
    if not _decon_ready(team, console):
        return
    clients = team.duty
    points = drone_tracks()
    found = 0
    for i in range(0, len(points), 500):
        body = {"points": points[i : i + 500], "party": "RU"}
        found += len(clients["US"].call("POST", "/api/v1/tracks", json=body)["intrusions"])
    _await_alerts(team, ("US", "RU", "AE"), "intrusion", lambda a: "PL" in a["refs"], 19)
    console.print(
        f"  Poland: {len(points)} track points of 19 drones -> {found} intrusion alerts "
        "(Polish airspace) at US, RU and AE"
    )


STEPS: tuple[Callable[[Team, Console], None], ...] = (
    opening_traffic,
    dialogue_history,
    coded_message,
    unacknowledged_flash,
    mq9_incident,
    prisoner_exchange,
    znpp_protected_zone,
    black_sea_airspace,
    estonian_incursion,
    drones_into_poland,
)


def play(team: Team, console: Console) -> None:
    for step in STEPS:
        step(team, console)
