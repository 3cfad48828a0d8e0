"""``molink keys rotate``: new message keys, announced to every peer (docs/operations.md)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from molink.config import NodeConfig
from molink.services.keyrotation import rotate_node_keys

__all__ = ["keys_app"]

keys_app = typer.Typer(help="The party's keys.", no_args_is_help=True)
console = Console()

DirOpt = Annotated[Path, typer.Option("--dir", "-d", help="The node's folder.")]


@keys_app.command("rotate")
def rotate(
    directory: DirOpt = Path(),
    yes: Annotated[bool, typer.Option("--yes", help="Skip the confirmation.")] = False,
) -> None:
    """Rotate the message keys of a STOPPED node; peers learn them from a signed message."""
    config = NodeConfig.load(directory / "node.toml")
    if not yes and not typer.confirm(
        f"Rotate the keys of {config.party}? Every peer is told, signed by the current key."
    ):
        raise typer.Exit(1)
    done = rotate_node_keys(config, operator=f"local:{getpass.getuser()}")
    console.print(f"rotated {config.party}: {done.old_kid} -> [bold]{done.new_kid}[/bold]")
    console.print(f"new fingerprint: [bold]{done.fingerprint}[/bold]")
    peers = ", ".join(done.announced_to) or "no peer"
    console.print(f"announced to {peers} (FLASH OVERRIDE, signed by the old key)")
    console.print("start the node again: the announcements leave first")
