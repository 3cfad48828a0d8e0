"""Rich rendering of API views for the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

__all__ = ["PREC_STYLE", "message_panel", "messages_table", "status_tables"]

PREC_STYLE = {
    "FLASH OVERRIDE": "bold white on red",
    "FLASH": "bold red",
    "IMMEDIATE": "yellow",
    "PRIORITY": "cyan",
    "ROUTINE": "white",
}


def messages_table(items: list[dict[str, Any]], *, title: str) -> Table:
    table = Table(title=title, expand=False)
    for col in ("DTG", "precedence", "from", "to", "subject", "status", "id"):
        table.add_column(col)
    for m in items:
        table.add_row(
            m["dtg"],
            f"[{PREC_STYLE.get(m['precedence'], '')}]{m['precedence']}",
            m["from"],
            ",".join(m["to"]),
            m.get("subject") or "",
            m["status"],
            m["id"],
        )
    return table


def message_panel(m: dict[str, Any]) -> Panel:
    lines = [
        f"[bold]{m.get('subject') or ''}[/bold]",
        "",
        m.get("body") or "",
        "",
        f"precedence: [{PREC_STYLE.get(m['precedence'], '')}]{m['precedence']}[/]",
        f"from {m['from']} to {', '.join(m['to'])} on {m['channel']} (seq {m['seq']})",
        f"created {m['created']} ({m['dtg']})",
        f"status: [bold]{m['status']}[/bold]",
    ]
    for r in m.get("recipients", []):
        lines.append(
            f"  {r['party']}: {r['status']} attempts={r['attempts']}"
            + (f" ack by {r['acknowledged_by']}" if r.get("acknowledged_by") else "")
            + (f" [red]{r['last_error']}[/red]" if r.get("last_error") else "")
        )
    if m.get("acknowledged_by"):
        lines.append(f"acknowledged by {m['acknowledged_by']} at {m['acknowledged_at']}")
    lines.append(f"JWS SHA-256 {m['jws_sha256']}  log index {m['log_index']}")
    return Panel("\n".join(lines), title=m["id"])


def status_tables(console: Console, status: dict[str, Any]) -> None:
    console.print(
        f"node [bold]{status['party']}[/bold]  log {status['log_origin']} size {status['log_size']}"
    )
    table = Table(title="links")
    for col in ("peer", "status", "RTT ms", "last contact", "queued", "by precedence", "error"):
        table.add_column(col)
    colour = {"up": "green", "down": "red", "degraded": "yellow"}
    for link in status["links"]:
        table.add_row(
            link["party"],
            f"[{colour.get(link['status'], '')}]{link['status']}",
            str(link.get("rtt_ms") or ""),
            str(link.get("last_contact") or ""),
            str(link["queued_total"]),
            ", ".join(f"{k}:{v}" for k, v in link["queue"].items()),
            link.get("last_error") or "",
        )
    console.print(table)
