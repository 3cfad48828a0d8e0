"""``molink demo`` whose nodes serve the console (see ``console_node``).

Run from the repository root: ``python -m tests.browser.demo_console --dir DIR
[--base-port P] [--empty]``. Same contract as ``molink demo``; only the nodes'
serve command differs (it installs the console when app.py does not yet).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from molink.cli import demo as demo_module
from molink.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def _serve_command(home: Path) -> list[str]:
    return [sys.executable, "-m", "tests.browser.console_node", "--dir", str(home.resolve())]


def main(argv: list[str]) -> None:
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    demo_module.serve_command = _serve_command
    app(["demo", *argv], prog_name="molink")


if __name__ == "__main__":
    main(sys.argv[1:])
