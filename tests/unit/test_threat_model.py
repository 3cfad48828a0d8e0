"""docs/threat-model.md names the test behind every threat: each one must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "threat-model.md"
REFERENCE = re.compile(r"(tests/[\w/]+\.py)::(\w+)")


def _references() -> list[tuple[str, str]]:
    return REFERENCE.findall(DOC.read_text(encoding="utf-8"))


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def test_every_referenced_test_exists() -> None:
    missing = []
    for file, name in _references():
        path = ROOT / file
        if not path.is_file() or name not in _test_functions(path):
            missing.append(f"{file}::{name}")
    assert not missing, f"docs/threat-model.md names tests that do not exist: {missing}"


def test_every_stride_row_names_a_test() -> None:
    rows = [
        line
        for line in DOC.read_text(encoding="utf-8").splitlines()
        if re.match(r"^\| [STRIDE](, [STRIDE])* \|", line)
    ]
    assert len(rows) >= 30, "the STRIDE tables are missing"
    bare = [row[:80] for row in rows if not REFERENCE.search(row)]
    assert not bare, f"threats without a test: {bare}"


def test_covers_the_adversaries_and_boundaries() -> None:
    text = DOC.read_text(encoding="utf-8")
    for needle in ("The other party", "compromised mediator", "network attacker", "insider",
                   "TB1", "TB2", "TB3", "TB4", "TB5", "same content under a new id"):  # fmt: skip
        assert needle.lower() in text.lower(), needle


def test_the_checker_can_fail() -> None:
    assert REFERENCE.findall("x tests/unit/nope.py::test_nothing y") == [
        ("tests/unit/nope.py", "test_nothing")
    ]
    assert "test_nothing" not in _test_functions(Path(__file__))
