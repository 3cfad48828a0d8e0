"""The database matrix: tests that build in-memory networks run on SQLite and PostgreSQL.

* Every test module that uses ``build_memnet`` is parametrized with the module-scoped
  ``molink_db`` fixture: once on SQLite files, once on fresh PostgreSQL databases
  (marked ``postgres``). ``--molink-db sqlite|postgres`` runs one engine only.
* ``MOLINK_TEST_PG`` names the server (default ``postgresql://127.0.0.1:5432/test``).
  When it cannot be reached, PostgreSQL tests are skipped with a notice in the header
  and the summary, except under ``CI=true``, where they fail: CI must test both engines.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support import dbmatrix
from tests.support.pgtest import PgServer, TestDatabases, pg_server

_SKIP_REASON = "PostgreSQL not reachable"
_server: PgServer | None = None


def _probe() -> PgServer:
    global _server
    if _server is None:
        _server = pg_server()
    return _server


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--molink-db",
        choices=("both", "sqlite", "postgres"),
        default="both",
        help="database engines for tests on the in-memory network (default: both)",
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    server = _probe()
    if server.reachable:
        return [f"molink PostgreSQL: {server.url} ({server.detail})"]
    then = "FAIL (CI=true)" if _in_ci() else "be SKIPPED"
    return [
        f"molink PostgreSQL: NOT reachable at {server.url} ({server.detail}); "
        f"PostgreSQL tests will {then}. Set MOLINK_TEST_PG to a loopback server."
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "molink_db" not in metafunc.fixturenames:
        return
    if not hasattr(metafunc.module, "build_memnet"):
        return
    choice = metafunc.config.getoption("--molink-db")
    params = []
    if choice in ("both", "sqlite"):
        params.append(pytest.param("sqlite", id="sqlite"))
    if choice in ("both", "postgres"):
        params.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))
    metafunc.parametrize("molink_db", params, indirect=True, scope="module")


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[TestDatabases]:
    """Creates and drops throw-away databases on the test server (skips if unreachable)."""
    server = _probe()
    if not server.reachable:
        message = f"{_SKIP_REASON} at {server.url}: {server.detail}"
        if _in_ci():
            pytest.fail(f"CI=true but {message}", pytrace=False)
        pytest.skip(message)
    databases = TestDatabases(server)
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture(scope="module", autouse=True)
def molink_db(request: pytest.FixtureRequest) -> Iterator[str]:
    """The engine of this module's in-memory networks: ``sqlite`` or ``postgres``."""
    kind = str(getattr(request, "param", "sqlite"))
    if kind == "sqlite":
        yield kind
        return
    databases: TestDatabases = request.getfixturevalue("pg_databases")
    start = databases.mark()
    dbmatrix.install(databases)
    try:
        yield kind
    finally:
        dbmatrix.install(None)
        databases.release(start)


@pytest.fixture(autouse=True)
def _release_test_databases() -> Iterator[None]:
    """Drop the PostgreSQL databases a test created as soon as it ends."""
    backend = dbmatrix.current()
    start = backend.mark() if backend is not None else 0
    yield
    if backend is not None:
        backend.release(start)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [
        r for r in terminalreporter.stats.get("skipped", []) if _SKIP_REASON in str(r.longrepr)
    ]
    if skipped:
        terminalreporter.write_sep(
            "=",
            f"molink: {len(skipped)} PostgreSQL tests SKIPPED: {_probe().url} not reachable",
            yellow=True,
            bold=True,
        )
