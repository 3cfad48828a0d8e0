"""The error tree (molink/errors.py): the drawing in its docstring is the truth."""

from __future__ import annotations

import re

import pytest

import molink.errors as errors
from molink.core.envelope import is_peer_fault
from molink.errors import MolinkError, PeerDataInvalid

CLASSES: dict[str, type[MolinkError]] = {name: getattr(errors, name) for name in errors.__all__}


def _drawn_tree() -> dict[str, str]:
    """Map each class in the module docstring's drawing to its drawn parent."""
    doc = errors.__doc__ or ""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        match = re.match(r"^(\s*)(?:[│ ]*[├└]── )?([A-Z][A-Za-z]+)\b", line)
        if not match or match.group(2) not in CLASSES:
            continue
        name = match.group(2)
        depth = len(line) - len(line.lstrip(" │├└─"))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_docstring_draws_every_class() -> None:
    drawn = _drawn_tree()
    assert set(drawn) | {"MolinkError"} == set(CLASSES)


@pytest.mark.parametrize(("name", "parent"), sorted(_drawn_tree().items()))
def test_classes_follow_the_drawing(name: str, parent: str) -> None:
    assert CLASSES[name].__bases__ == (CLASSES[parent],)


def test_everything_is_a_molink_error() -> None:
    for cls in CLASSES.values():
        assert issubclass(cls, MolinkError)
        assert issubclass(cls, Exception)
        assert not issubclass(cls, ValueError | KeyError | TypeError)


def test_codes_are_unique_stable_slugs() -> None:
    codes = [cls.code for cls in CLASSES.values()]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", code), code


def test_some_codes_are_pinned() -> None:
    # Problem types in the HTTP API (RFC 9457); changing one breaks clients.
    assert errors.DecryptionFailed.code == "decryption-failed"
    assert errors.SignatureInvalid.code == "bad-signature"
    assert errors.WrongPassphrase.code == "wrong-passphrase"
    assert errors.Equivocation.code == "equivocation"


def test_message_and_evidence() -> None:
    evidence = {"jws": "a.b.c"}
    exc = errors.SignatureInvalid("forged", evidence=evidence)
    assert str(exc) == exc.message == "forged"
    assert exc.evidence == evidence
    evidence["jws"] = "changed"
    assert exc.evidence == {"jws": "a.b.c"}  # copied, not aliased
    assert errors.NotFound("x").evidence == {}
    assert errors.NotFound("x").evidence is not errors.NotFound("y").evidence


def test_peer_faults_are_exactly_the_peer_data_branch() -> None:
    peer = {name for name, cls in CLASSES.items() if issubclass(cls, PeerDataInvalid)}
    assert peer == {
        "PeerDataInvalid",
        "MalformedData",
        "UnknownPeer",
        "SignatureInvalid",
        "DecryptionFailed",
        "WrongRecipient",
        "RoutingMismatch",
        "ClockSkewExceeded",
        "ReplayDetected",
        "ProofInvalid",
        "Equivocation",
    }
    for name, cls in CLASSES.items():
        assert is_peer_fault(cls("x")) is (name in peer)
