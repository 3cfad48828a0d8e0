"""Which database engine the in-memory network's nodes use in the running test.

``tests/conftest.py`` runs every test module that uses ``build_memnet`` once on
SQLite and once on PostgreSQL (the ``molink_db`` fixture). The fixture installs
the backend here for the module's duration; ``build_memnet`` asks it for each
node's database. ``None`` means SQLite files in the test's folder.
"""

from __future__ import annotations

from tests.support.pgtest import TestDatabases

__all__ = ["current", "install"]

_current: TestDatabases | None = None


def install(backend: TestDatabases | None) -> None:
    global _current
    _current = backend


def current() -> TestDatabases | None:
    return _current
