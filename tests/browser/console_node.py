"""``molink serve`` with the console installed, for browser tests and screenshots.

Until ``molink/api/app.py`` calls ``install_console`` itself, this wraps the app
factory that ``molink serve`` uses; once it does, ``install_console`` is a no-op here.
Run as ``python -m tests.browser.console_node --dir NODE_HOME``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from molink.cli import serve
from molink.web.routes import install_console


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[0] != "--dir":
        raise SystemExit("usage: python -m tests.browser.console_node --dir NODE_HOME")
    original = serve.create_app  # type: ignore[attr-defined]

    def create_app(runtime: Any, **options: Any) -> Any:
        app = original(runtime, **options)
        install_console(app)
        return app

    serve.create_app = create_app  # type: ignore[attr-defined]
    serve.serve_node(Path(argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
