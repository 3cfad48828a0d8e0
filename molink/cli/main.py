"""The ``molink`` command line. Commands are thin: the logic lives in services.

An error is one clear line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from molink.cli.admin_cmds import audit_app, operator_app, terminal_app
from molink.cli.client import NodeClient
from molink.cli.keys_cmds import keys_app
from molink.cli.log_cmds import evidence_app, log_app
from molink.cli.render import message_panel, messages_table, status_tables
from molink.cli.tracks_cmds import tracks_app
from molink.config import NodeConfig
from molink.core.canonical import parse_json
from molink.core.keys import fingerprint
from molink.errors import MolinkError
from molink.services.admin import parse_bundle, register_peer
from molink.services.provision import create_node, node_bundle
from molink.storage.db import Database, micros
from molink.storage.files import load_keys

__all__ = ["app", "run"]

app = typer.Typer(
    name="molink",
    help="Hotline and deconfliction node for parties that do not trust each other.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
peer_app = typer.Typer(help="Pinned peers.", no_args_is_help=True)
app.add_typer(peer_app, name="peer")
app.add_typer(log_app, name="log")
app.add_typer(evidence_app, name="evidence")
app.add_typer(operator_app, name="operator")
app.add_typer(terminal_app, name="terminal")
app.add_typer(audit_app, name="audit")
app.add_typer(tracks_app, name="tracks")
app.add_typer(keys_app, name="keys")
console = Console()
err = Console(stderr=True)

DirOpt = Annotated[Path, typer.Option("--dir", "-d", help="The node's folder.")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="Bearer token (or MOLINK_TOKEN).")]


def _now() -> datetime:
    return datetime.now(UTC)


@app.command()
def init(
    party: Annotated[str, typer.Option(help="Party id, e.g. US.")],
    directory: DirOpt = Path(),
    port: Annotated[int, typer.Option(help="HTTPS port.")] = 8701,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    database: Annotated[str, typer.Option(help="Database URL.")] = "sqlite:///node.db",
) -> None:
    """Create a node: keys, TLS certificate, config, database and first operators."""
    created = create_node(
        directory, party=party.upper(), port=port, host=host, database_url=database, now=_now()
    )
    console.print(f"created node [bold]{party.upper()}[/bold] in {directory}")
    console.print(f"fingerprint: [bold]{created.fingerprint}[/bold]")
    console.print(f"duty officer token in {directory / 'tokens' / 'duty.token'}")


@app.command()
def bundle(directory: DirOpt = Path(), mediator: bool = False) -> None:
    """Print this node's public key bundle (hand it to peers out of band)."""
    config = NodeConfig.load(directory / "node.toml")
    keys = load_keys(config.path(config.keys.file), config.passphrase())
    console.print_json(node_bundle(config, keys, mediator=mediator))


@peer_app.command("add")
def peer_add(
    bundle_file: Annotated[Path, typer.Argument(help="The peer's public key bundle (JSON).")],
    directory: DirOpt = Path(),
    yes: Annotated[bool, typer.Option("--yes", help="Skip the confirmation.")] = False,
) -> None:
    """Pin a peer from its bundle, after comparing its fingerprint by voice."""
    config = NodeConfig.load(directory / "node.toml")
    peer = parse_bundle(parse_json(bundle_file.read_bytes()))
    console.print(f"peer [bold]{peer.party}[/bold] at {', '.join(peer.urls)}")
    console.print(f"fingerprint: [bold]{fingerprint(peer.keys)}[/bold]")
    if not yes and not typer.confirm("Does this match what the peer read to you?"):
        raise typer.Exit(1)
    db = Database(config.database_url, base=config.home)
    register_peer(db, peer, micros(_now()), own_party=config.party)
    console.print(f"pinned {peer.party}")


@peer_app.command("list")
def peer_list(directory: DirOpt = Path()) -> None:
    """List pinned peers with their fingerprints."""
    config = NodeConfig.load(directory / "node.toml")
    db = Database(config.database_url, base=config.home)
    from molink.storage.peers import PeerRepo

    with db.read() as conn:
        for peer in PeerRepo().all(conn):
            role = " (mediator)" if peer.mediator else ""
            console.print(f"{peer.party}{role}  {', '.join(peer.urls)}  {fingerprint(peer.keys)}")


@app.command()
def serve(
    directory: DirOpt = Path(),
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Worker processes (PostgreSQL only).")
    ] = 1,
) -> None:
    """Run the node (HTTPS API, federation, outbox) until SIGINT/SIGTERM."""
    from molink.cli.serve import serve_node

    serve_node(directory, workers=workers)


@app.command()
def send(
    to: Annotated[list[str], typer.Option("--to", help="Recipient party (repeatable).")],
    body: Annotated[str, typer.Option(help="Message text.")],
    subject: Annotated[str, typer.Option(help="Subject line.")] = "",
    precedence: Annotated[str, typer.Option("--precedence", "-p")] = "ROUTINE",
    lang: str = "en",
    channel: str | None = None,
    directory: DirOpt = Path(),
    token: TokenOpt = None,
) -> None:
    """Send a signed, encrypted message through the running node."""
    client = NodeClient(directory, token=token)
    answer = client.call(
        "POST",
        "/api/v1/messages",
        json={
            "to": [t.upper() for t in to],
            "precedence": precedence.upper(),
            "subject": subject,
            "body": body,
            "lang": lang,
            "channel": channel,
        },
    )
    console.print(f"queued {answer['id']} on {answer['channel']} (seq {answer['seq']})")


@app.command()
def inbox(
    directory: DirOpt = Path(), token: TokenOpt = None, outbox: bool = False, limit: int = 20
) -> None:
    """List received (or, with --outbox, sent) messages."""
    box = "outbox" if outbox else "inbox"
    answer = NodeClient(directory, token=token).call(
        "GET", "/api/v1/messages", params={"box": box, "limit": limit}
    )
    console.print(messages_table(answer["items"], title=box))


@app.command()
def show(message_id: str, directory: DirOpt = Path(), token: TokenOpt = None) -> None:
    """Show one message with its delivery and acknowledgement status."""
    console.print(
        message_panel(
            NodeClient(directory, token=token).call("GET", f"/api/v1/messages/{message_id}")
        )
    )


@app.command()
def ack(message_id: str, directory: DirOpt = Path(), token: TokenOpt = None) -> None:
    """Acknowledge a received message as the operator whose token is used."""
    answer = NodeClient(directory, token=token).call("POST", f"/api/v1/messages/{message_id}/ack")
    console.print(f"acknowledged {message_id} (ack {answer['ack_id']})")


@app.command()
def status(
    directory: DirOpt = Path(),
    token: TokenOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Links (up/down, RTT, last contact) and queues by precedence."""
    answer = NodeClient(directory, token=token).call("GET", "/api/v1/status")
    if as_json:
        console.print_json(json.dumps(answer))
    else:
        status_tables(console, answer)


@app.command()
def demo(
    directory: DirOpt = Path("demo-net"),
    base_port: Annotated[int, typer.Option("--base-port")] = 8701,
    empty: Annotated[bool, typer.Option("--empty", help="Do not load the scenario.")] = False,
) -> None:
    """Start US, RU, UA and AE (mediator) as separate processes on 127.0.0.1."""
    from molink.cli.demo import run_demo

    run_demo(directory, base_port=base_port, empty=empty, console=console)


@app.command()
def selftest() -> None:
    """Two fresh parties: sign, seal, open and verify one message, printing every step."""
    from molink.cli.selftest import run_selftest

    run_selftest(console)


def run() -> None:
    """Entry point: one clear line and a non-zero exit code on error, never a traceback."""
    try:
        app(standalone_mode=False)
    except MolinkError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except OSError as exc:
        err.print(f"[red]error:[/red] {exc.strerror or exc}: {exc.filename or ''}")
        sys.exit(1)
    except Exception as exc:
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        err.print(f"[red]error:[/red] {type(exc).__name__}: {exc}")
        sys.exit(1)
