"""Rich rendering of an evidence report (``molink evidence verify``).

Who sent what and when, who received and acknowledged it, which logs include it and
which witnesses cosigned, then every check with a clear PASS, FAIL or SKIP.
"""

from __future__ import annotations

from collections import Counter

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from molink.cli.render import PREC_STYLE
from molink.core.evidence import Check, EvidenceReport, LogRecord, MessageView, Outcome

__all__ = ["render_report"]

_STYLE = {Outcome.PASS: "bold green", Outcome.FAIL: "bold red", Outcome.SKIP: "yellow"}


def _mark(ok: bool) -> str:
    return "[bold green]PASS[/]" if ok else "[bold red]FAIL[/]"


def _outcome(outcome: Outcome) -> Text:
    return Text(outcome.value, style=_STYLE[outcome])


def _keys(report: EvidenceReport) -> Table:
    table = Table(title="keys carried by the bundle", title_justify="left")
    for col in ("kind", "name", "fingerprint / verifier key", "readable"):
        table.add_column(col)
    for key in report.keys:
        table.add_row(key.kind, key.name, key.value, _mark(key.ok))
    table.caption = "Trust comes from these keys: compare them with the ones you pinned."
    return table


def _logs(report: EvidenceReport) -> Table:
    table = Table(title="logs", title_justify="left")
    for col in ("log origin", "party", "tree size", "checkpoint", "cosigned by"):
        table.add_column(col)
    for log in report.logs:
        if not log.included:
            table.add_row(
                log.origin, log.party, "", "[yellow]SKIP[/]", f"not included: {log.reason}"
            )
            continue
        cosigners = ", ".join(f"{name} @ {size}" for name, size, _ in log.cosignatures)
        size = "" if log.tree_size is None else str(log.tree_size)
        table.add_row(log.origin, log.party, size, _mark(log.checkpoint_ok), cosigners or "-")
    return table


def _record(record: LogRecord) -> str:
    proven = "[green]included[/]" if record.included else "[red]NOT proven[/]"
    witnessed = ", ".join(record.witnesses) if record.witnesses else "no witness yet"
    return f"  {record.origin} #{record.index} {record.type}: {proven}; cosigned by {witnessed}"


def _message(m: MessageView) -> Panel:
    lines: list[str] = []
    if m.verified:
        style = PREC_STYLE.get(m.precedence or "", "")
        lines.append(
            f"[{style}]{m.precedence}[/] {m.type} from [bold]{m.sender}[/] to "
            f"[bold]{', '.join(m.to)}[/] at {m.created}  {_mark(True)}"
        )
        if m.subject:
            lines.append(f"subject: {m.subject}")
        if m.body:
            lines.append(f"body: {m.body}")
    elif m.disclosed:
        lines.append(f"content {_mark(False)}: the signed message does not verify")
    else:
        lines.append("content not disclosed")
    lines.append(f"JWS SHA-256 {m.jws_sha256}")
    lines.append("received by:" if m.receipts else "received by: no receipt in the bundle")
    for r in m.receipts:
        where = f", logged at {r.log_origin} #{r.log_index}" if r.ok else ""
        lines.append(f"  {r.party} at {r.received}{where}  {_mark(r.ok)}")
    lines.append("acknowledged by:" if m.acks else "acknowledged by: nobody in the bundle")
    for a in m.acks:
        lines.append(
            f"  {a.party} operator {a.operator} on {a.terminal} at {a.created}  {_mark(a.ok)}"
        )
        lines.extend(f"    receipt by {r.party}  {_mark(r.ok)}" for r in a.receipts)
    lines.append("in logs:" if m.records else "in logs: no entry in the bundle")
    lines.extend(_record(r) for r in m.records)
    return Panel("\n".join(lines), title=f"message {m.id}", title_align="left")


def _summary(checks: tuple[Check, ...]) -> Table:
    counts = Counter((c.kind, c.outcome) for c in checks)
    table = Table(title="checks", title_justify="left")
    for col in ("check", "PASS", "FAIL", "SKIP"):
        table.add_column(col, justify="right" if col != "check" else "left")
    for kind in dict.fromkeys(c.kind for c in checks):
        table.add_row(
            kind,
            *(
                Text(str(counts[(kind, o)]), style=_STYLE[o] if counts[(kind, o)] else "dim")
                for o in Outcome
            ),
        )
    return table


def _listing(checks: list[Check], title: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for col in ("result", "check", "subject", "detail"):
        table.add_column(col, overflow="fold")
    for c in checks:
        table.add_row(_outcome(c.outcome), c.kind, c.subject, c.detail)
    return table


def render_report(console: Console, report: EvidenceReport, *, every_check: bool = False) -> None:
    """Print the report; ``every_check`` lists PASS checks too, not only FAIL and SKIP."""
    console.print(
        f"Evidence bundle exported by [bold]{report.exporter}[/] at {report.created}: "
        f"{len(report.messages)} message(s)"
    )
    console.print(_keys(report))
    console.print(_logs(report))
    for m in report.messages:
        console.print(_message(m))
    console.print(_summary(report.checks))
    shown = [c for c in report.checks if every_check or c.outcome is not Outcome.PASS]
    if shown:
        console.print(_listing(shown, "every check" if every_check else "failed and skipped"))
    verdict = (
        Text("PASS: every check in the bundle holds", style="bold green")
        if report.ok
        else Text(f"FAIL: {len(report.failures)} check(s) failed", style="bold red")
    )
    console.print(Panel(Group(verdict), expand=False))
