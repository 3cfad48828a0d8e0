"""The project's test command (``make test`` runs ``python -m tests.run``).

It runs the default suite with pytest and fails when pytest fails, including
pytest's exit code 5 ("no tests ran"). Extra arguments go to pytest.
"""

from __future__ import annotations

import sys

import pytest


def main(argv: list[str]) -> int:
    code = int(pytest.main(["-m", "not slow", *argv]))
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("tests.run: no tests ran; that is a failure", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
