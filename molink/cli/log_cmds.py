"""``molink log ...`` and ``molink evidence ...``: thin commands over the services.

* ``log verify --dir D``: re-derive the log's tree from the stored entries (reads the
  database directly; works while the node runs) and name what was tampered with.
* ``log vkey --dir D``: the log's C2SP verifier key (``--witness`` for the witness key).
* ``evidence export --dir D [--id ID ...] [--since ISO] [--until ISO] -o FILE.zip``:
  asks the running node (operator API) for a bundle.
* ``evidence verify FILE.zip``: offline, no node needed.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from molink.cli.client import NodeClient
from molink.cli.evidence_render import render_report
from molink.config import NodeConfig
from molink.core.dtg import format_utc, parse_utc
from molink.core.evidence import verify_bundle
from molink.core.evidence_format import MANIFEST, MAX_BUNDLE_BYTES, parse_manifest, read_bundle
from molink.errors import InvalidInput
from molink.services.clock import SystemClock, system_random
from molink.services.context import NodeContext
from molink.services.logkeys import log_signer, witness_cosigner
from molink.services.logsvc import LogService
from molink.storage.db import Database
from molink.storage.files import load_keys

__all__ = ["evidence_app", "log_app"]

log_app = typer.Typer(help="The node's transparency log.", no_args_is_help=True)
evidence_app = typer.Typer(
    help="Evidence bundles: export and offline verification.", no_args_is_help=True
)
console = Console()

DirOpt = Annotated[Path, typer.Option("--dir", "-d", help="The node's folder.")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="Bearer token (or MOLINK_TOKEN).")]


def _context(directory: Path) -> NodeContext:
    config = NodeConfig.load(directory / "node.toml")
    keys = load_keys(config.path(config.keys.file), config.passphrase())
    db = Database(config.database_url, base=config.home)
    return NodeContext(
        keys=keys, db=db, clock=SystemClock(), random=system_random, log_origin=config.log_origin
    )


@log_app.command("verify")
def log_verify(directory: DirOpt = Path()) -> None:
    """Re-hash every stored entry and rebuild the tree; name edited, deleted, reordered rows."""
    ctx = _context(directory)
    try:
        report = LogService(ctx).verify_integrity()
    finally:
        ctx.db.dispose()
    console.print(
        f"log {ctx.log_origin}: {report.size} entries, {report.checkpoints} signed "
        "checkpoint(s) re-derived"
    )
    for line in report.problems:
        console.print(f"[red]- {line}[/red]")
    if report.ok:
        console.print("[bold green]PASS[/]: the stored entries give every signed checkpoint")
        return
    counts = (
        f"{len(report.edited)} edited, {len(report.deleted)} deleted, "
        f"{len(report.reordered)} reordered row(s); {len(report.bad_checkpoints)} bad checkpoint(s)"
    )
    console.print(f"[bold red]FAIL[/]: {counts}")
    raise typer.Exit(1)


@log_app.command("vkey")
def log_vkey(
    directory: DirOpt = Path(),
    witness: Annotated[bool, typer.Option("--witness", help="The witness key instead.")] = False,
) -> None:
    """Print the log's verifier key (C2SP vkey, type 0x01), or the witness key (0x04)."""
    config = NodeConfig.load(directory / "node.toml")
    keys = load_keys(config.path(config.keys.file), config.passphrase())
    signer = witness_cosigner if witness else log_signer
    typer.echo(signer(keys, config.log_origin).vkey)


def _iso(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        return format_utc(parse_utc(value))
    except InvalidInput as exc:
        raise InvalidInput(f"--{name}: {exc.message}") from exc


@evidence_app.command("export")
def evidence_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="The zip to write.")],
    directory: DirOpt = Path(),
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="A message id (repeatable).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Created at or after (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Created before (ISO 8601).")] = None,
    token: TokenOpt = None,
) -> None:
    """Ask the running node for an evidence bundle and write it to a zip."""
    body = {"ids": ids or None, "since": _iso(since, "since"), "until": _iso(until, "until")}
    client = NodeClient(directory, token=token)
    try:
        data = client.download("POST", "/api/v1/evidence/export", json=body, timeout=120.0)
    finally:
        client.close()
    output.write_bytes(data)
    count = len(parse_manifest(read_bundle(data).get(MANIFEST)).messages)
    console.print(f"wrote {output} ({len(data)} bytes, {count} message(s))")


@evidence_app.command("verify")
def evidence_verify(
    bundle: Annotated[Path, typer.Argument(help="The evidence bundle (zip).")],
    every_check: Annotated[bool, typer.Option("--all", help="List PASS checks too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable report.")] = False,
) -> None:
    """Verify a bundle offline: signatures, receipts, acks, logs, proofs, cosignatures."""
    if bundle.stat().st_size > MAX_BUNDLE_BYTES:
        raise InvalidInput(f"{bundle} is larger than {MAX_BUNDLE_BYTES} bytes")
    report = verify_bundle(read_bundle(bundle.read_bytes()))
    if as_json:
        body = {"ok": report.ok, **dataclasses.asdict(report)}
        typer.echo(json.dumps(body, indent=2, default=str))
    else:
        render_report(console, report, every_check=every_check)
    if not report.ok:
        raise typer.Exit(1)
