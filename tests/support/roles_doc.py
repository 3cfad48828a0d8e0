"""The generated parts of ``docs/roles.md``: the permission table and the endpoint table.

``python -m tests.support.roles_doc --write`` rewrites both blocks in place;
``tests/unit/test_route_permissions.py`` fails while the document is out of date.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute

import molink.api
from molink.api.deps import Requirement
from molink.core.authz import markdown_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "roles.md"
BLOCKS = {
    "permissions": markdown_table,
}

# Endpoints that check their permission inside the handler (not through ``require``).
IN_HANDLER: dict[str, str] = {
    "GET /api/v1/events": "events.read",  # EventSource sends ?token=, no headers
    "GET /api/v1/log": "log.read",
    "GET /log/checkpoint": "log.read",  # or a signed peer request
    "GET /log/tile/{path:path}": "log.read",  # or a signed peer request
}
# Endpoints open without a credential, and why.
OPEN: dict[str, str] = {
    "GET /api/v1/health": "liveness probe",
    "POST /api/v1/terminals": "terminal enrolment (rate-limited; pending until approved)",
    "POST /api/v1/session/challenge": "login step 1 (rate-limited)",
    "POST /api/v1/session": "login step 2 (rate-limited; lockout)",
}


def operator_routes() -> list[tuple[str, APIRoute]]:
    """Every ``METHOD path`` under ``/api/`` or ``/log`` in every ``molink.api.routes_*``."""
    found: list[tuple[str, APIRoute]] = []
    for info in pkgutil.iter_modules(molink.api.__path__):
        if not info.name.startswith("routes_"):
            continue
        module = importlib.import_module(f"molink.api.{info.name}")
        for route in module.router.routes:
            if not isinstance(route, APIRoute):
                continue
            if not route.path.startswith(("/api/", "/log")):
                continue
            for method in sorted(route.methods):
                found.append((f"{method} {route.path}", route))
    return sorted(found, key=lambda item: (item[1].path, item[0]))


def required_actions(route: APIRoute) -> list[str]:
    """The actions named by ``require(...)`` anywhere in the route's dependency tree."""
    actions: list[str] = []
    stack: list[Any] = [route.dependant]
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Requirement):
            actions.append(" or ".join(f"`{a}`" for a in dep.call.actions))
        stack.extend(dep.dependencies)
    return actions


def endpoint_table() -> str:
    rows = ["| endpoint | permission |", "|---|---|"]
    for key, route in operator_routes():
        actions = required_actions(route)
        if actions:
            cell = ", ".join(actions)
        elif key in IN_HANDLER:
            cell = f"`{IN_HANDLER[key]}` (checked in the handler)"
        elif key in OPEN:
            cell = f"none: {OPEN[key]}"
        else:
            cell = "**MISSING**"
        rows.append(f"| `{key}` | {cell} |")
    return "\n".join(rows) + "\n"


BLOCKS["endpoints"] = endpoint_table


def render(text: str) -> str:
    """``text`` with every generated block replaced by its current content."""
    for name, make in BLOCKS.items():
        begin, end = f"<!-- {name}:begin -->\n", f"<!-- {name}:end -->"
        head, sep, rest = text.partition(begin)
        if not sep:
            raise SystemExit(f"docs/roles.md lacks the marker {begin.strip()}")
        _, sep2, tail = rest.partition(end)
        if not sep2:
            raise SystemExit(f"docs/roles.md lacks the marker {end}")
        text = head + begin + make() + end + tail
    return text


def main(argv: list[str]) -> int:
    current = DOC.read_text(encoding="utf-8")
    fresh = render(current)
    if "--write" in argv:
        DOC.write_text(fresh, encoding="utf-8")
        return 0
    if fresh != current:
        print("docs/roles.md is out of date: python -m tests.support.roles_doc --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
