"""Schemathesis against the node's own ``/openapi.json`` (in-process ASGI): never a 5xx.

Every operation the app publishes is called with generated requests (valid and
invalid by its schema), authenticated as an operator whose role may perform it
where possible, so that requests get past authentication into the handlers. The
property is the one the issue asks for: no answer is a server error.

* default suite: ``FEW`` examples per operation;
* slow suite: ``MANY`` (500) per operation. Hypothesis stops early on operations
  whose input space is smaller (no parameters, no body); the counts per operation
  are printed at the end of the run (``docs/reliability.md`` reports them).

``/api/v1/events`` is a never-ending stream (Server-Sent Events): it is left out.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from molink.services.admin import issue_token
from tests.support import memnet
from tests.support.access import role_token

pytestmark = pytest.mark.integration

FEW = 5
MANY = 500
_ADMIN_PATHS = ("/api/v1/terminals", "/api/v1/operators", "/api/v1/tokens", "/api/v1/quotas")

_NET = memnet.build_memnet(Path(tempfile.mkdtemp(prefix="molink-schemathesis-")), ["US", "RU"])
_NODE = _NET["US"]
_TOKENS = {
    "duty": _NODE.token,
    "admin": role_token(_NODE, "administrator"),
    "auditor": role_token(_NODE, "auditor"),
}
schema = schemathesis.openapi.from_asgi("/openapi.json", _NODE.app).exclude(path="/api/v1/events")
CALLS: Counter[str] = Counter()
SERVER_ERRORS: list[str] = []


def _token_for(method: str, path: str) -> str:
    if method == "DELETE" and path == "/api/v1/session":
        ctx = _NODE.runtime.ctx  # logging out must not end the token the run depends on
        return issue_token(
            ctx.db, operator_id="duty-US", terminal="console-US", now_us=ctx.now_us()
        )
    if path.startswith(_ADMIN_PATHS) and not (method == "POST" and path == "/api/v1/terminals"):
        return _TOKENS["admin"]
    if path.startswith("/api/v1/audit"):
        return _TOKENS["auditor"]
    return _TOKENS["duty"]


def _call(case: Any) -> None:
    method, path = case.method.upper(), case.operation.path
    headers = {"Authorization": f"Bearer {_token_for(method, path)}"}
    response = case.call(headers=headers)
    CALLS[case.operation.label] += 1
    if response.status_code >= 500:
        SERVER_ERRORS.append(f"{method} {path} -> {response.status_code}: {response.text[:300]}")
    assert response.status_code < 500, (
        f"{method} {case.formatted_path} answered {response.status_code}: {response.text[:500]}"
    )


_COMMON: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": list(HealthCheck),
    "phases": [Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
    "database": None,
}


@schema.parametrize()
@settings(max_examples=FEW, **_COMMON)
def test_api_never_answers_5xx(case: Any) -> None:
    _call(case)


@pytest.mark.slow
@pytest.mark.timeout(5400)
@schema.parametrize()
@settings(max_examples=MANY, **_COMMON)
def test_api_never_answers_5xx_many(case: Any) -> None:
    _call(case)


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    if CALLS:
        total = sum(CALLS.values())
        low = min(CALLS.values())
        print(
            f"\nschemathesis: {total} requests over {len(CALLS)} operations "
            f"(fewest {low}), server errors: {len(SERVER_ERRORS)}"
        )
        for op, n in sorted(CALLS.items()):
            print(f"  {n:6d}  {op}")
