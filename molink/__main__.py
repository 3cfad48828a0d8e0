"""``python -m molink`` runs the CLI."""

from molink.cli.main import run

run()
