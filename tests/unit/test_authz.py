"""The permission table (molink/core/authz.py): least privilege, scopes, and docs/roles.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from molink.core.authz import (
    ACTIONS,
    PERMISSIONS,
    ROLES,
    check,
    markdown_table,
    parse_scopes,
    role_allows,
    scope_covers,
)
from molink.errors import InvalidInput
from molink.storage.operators import ROLES as STORED_ROLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "roles.md"
BEGIN, END = "<!-- permissions:begin -->\n", "<!-- permissions:end -->"

# The expected table, written out by hand: a change to authz.py must change this too.
EXPECTED: dict[str, set[str]] = {
    "duty_officer": {
        "status.read", "alert.read", "events.read", "message.read", "channel.read",
        "log.read", "notification.read", "incident.read", "session.manage",
        "message.send", "message.ack", "notification.file", "track.submit",
        "incident.file", "courier.export", "courier.import", "evidence.export",
    },
    "translator": {
        "status.read", "alert.read", "events.read", "message.read", "channel.read",
        "notification.read", "incident.read", "session.manage", "translation.add",
    },
    "administrator": {
        "status.read", "alert.read", "events.read", "log.read", "audit.read",
        "session.manage", "courier.export", "courier.import", "operator.manage",
        "terminal.manage", "token.manage", "peer.manage",
    },
    "auditor": {
        "status.read", "alert.read", "events.read", "message.read", "channel.read",
        "log.read", "notification.read", "incident.read", "session.manage",
        "evidence.export", "audit.read",
    },
    "mediator": {
        "status.read", "alert.read", "events.read", "message.read", "channel.read",
        "log.read", "notification.read", "incident.read", "session.manage",
        "message.send", "message.ack", "channel.change", "channel.convene",
        "catalogue.agree", "ledger.witness", "evidence.export",
    },
}  # fmt: skip
EXPECTED["supervisor"] = EXPECTED["duty_officer"] | {
    "channel.change",
    "channel.convene",
    "catalogue.agree",
    "translation.add",
    "ledger.sign",
}


def test_roles_are_the_stored_roles() -> None:
    assert ROLES == STORED_ROLES
    assert set(PERMISSIONS) == set(ROLES)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_role_action_pair(role: str, action: str) -> None:
    decision = check(role, ["*"], action)
    assert decision.allowed == (action in EXPECTED[role])
    if not decision.allowed:
        assert repr(action) in decision.reason
        assert repr(role) in decision.reason


def test_every_permission_is_a_known_action() -> None:
    for granted in PERMISSIONS.values():
        assert granted <= set(ACTIONS)


def test_translator_cannot_send_or_acknowledge() -> None:
    assert not role_allows("translator", "message.send")
    assert not role_allows("translator", "message.ack")
    assert role_allows("translator", "translation.add")


def test_auditor_cannot_change_anything() -> None:
    assert all(not ACTIONS[a].changes_state for a in PERMISSIONS["auditor"])


def test_only_administrators_manage() -> None:
    for action in ("operator.manage", "terminal.manage", "token.manage", "peer.manage"):
        assert [r for r in ROLES if role_allows(r, action)] == ["administrator"]


def test_administrators_do_not_read_or_send_traffic() -> None:
    for action in ("message.read", "message.send", "message.ack", "evidence.export"):
        assert not role_allows("administrator", action)


def test_mediator_convenes_and_witnesses_but_files_nothing_for_a_party() -> None:
    assert role_allows("mediator", "channel.convene")
    assert role_allows("mediator", "ledger.witness")
    for action in ("ledger.sign", "notification.file", "track.submit", "incident.file"):
        assert not role_allows("mediator", action)


def test_unknown_role_and_action_are_refused() -> None:
    assert not check("root", ["*"], "message.read").allowed
    decision = check("administrator", ["*"], "system.shutdown")
    assert not decision.allowed
    assert "unknown action" in decision.reason


def test_scopes_narrow_a_role_never_widen_it() -> None:
    assert scope_covers(["*"], "message.send")
    assert scope_covers(["message.*"], "message.send")
    assert scope_covers(["message.send"], "message.send")
    assert not scope_covers(["message.read"], "message.send")
    assert not scope_covers(["messages.*"], "message.send")
    narrowed = check("duty_officer", ["message.read"], "message.send")
    assert not narrowed.allowed
    assert "scopes" in narrowed.reason
    assert not check("translator", ["*", "message.send"], "message.send").allowed


def test_parse_scopes() -> None:
    assert parse_scopes(["message.read", "alert.*", "message.read"]) == (
        "alert.*",
        "message.read",
    )
    assert parse_scopes(["*"]) == ("*",)
    for bad in (["root"], ["message.write"], ["nope.*"], []):
        with pytest.raises(InvalidInput):
            parse_scopes(bad)


def test_docs_roles_md_carries_the_generated_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text, "docs/roles.md lost its permission markers"
    assert END in text, "docs/roles.md lost its permission markers"
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert block == markdown_table(), (
        "docs/roles.md is out of date: paste molink.core.authz.markdown_table() "
        "between the permission markers (python -m tests.support.roles_doc --write)"
    )


def test_public_surface_is_pinned() -> None:
    import molink.core.authz as authz

    assert authz.__all__ == [
        "ACTIONS",
        "PERMISSIONS",
        "ROLES",
        "Action",
        "Decision",
        "check",
        "markdown_table",
        "parse_scopes",
        "role_allows",
        "scope_covers",
    ]
