"""Every operator endpoint names the permission it requires, and docs/roles.md says so."""

from __future__ import annotations

import pytest

from molink.core.authz import ACTIONS
from tests.support import roles_doc


def test_every_operator_endpoint_requires_a_permission() -> None:
    missing = []
    for key, route in roles_doc.operator_routes():
        if roles_doc.required_actions(route):
            continue
        if key not in roles_doc.IN_HANDLER and key not in roles_doc.OPEN:
            missing.append(key)
    assert missing == [], (
        "these endpoints check no permission: add "
        "`who: Annotated[Principal, require('<action>')]` (molink/api/deps.py)"
    )


def test_exceptions_still_exist() -> None:
    keys = {key for key, _ in roles_doc.operator_routes()}
    assert set(roles_doc.IN_HANDLER) <= keys
    assert set(roles_doc.OPEN) <= keys
    assert set(roles_doc.IN_HANDLER.values()) <= set(ACTIONS)


ROUTES = roles_doc.operator_routes()


@pytest.mark.parametrize("index", range(len(ROUTES)), ids=[key for key, _ in ROUTES])
def test_at_most_one_requirement_per_endpoint(index: int) -> None:
    key, route = ROUTES[index]
    assert len(roles_doc.required_actions(route)) <= 1, key


def test_docs_roles_md_is_current() -> None:
    current = roles_doc.DOC.read_text(encoding="utf-8")
    assert roles_doc.render(current) == current, (
        "docs/roles.md is out of date: python -m tests.support.roles_doc --write"
    )
