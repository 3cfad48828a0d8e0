"""``molink serve``: uvicorn over TLS with the node's certificate.

``--workers N`` runs N worker processes on one listening socket (uvicorn's
supervisor), sharing the node's PostgreSQL database (docs/adr/0002). SQLite has one
writer, so it is refused there. Before any worker starts, the supervisor takes the
node's ``serve`` lock (a second ``molink serve`` on the same database is refused),
applies pending migrations and ends the outbox claims left by a previous run.

Test hook ``unsafe_clock_skew`` (STYLE.md point 7): when the environment variable
``MOLINK_UNSAFE_CLOCK_SKEW_S`` holds a number of seconds, the node runs on a clock
skewed by that much (``SystemClock(skew=...)``) and says so on stderr. It exists
only so that fault tests can start real nodes whose clocks disagree; nothing in
molink sets it, and ``molink demo`` never does. It is read here and nowhere else.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from molink.api.app import create_app
from molink.config import NodeConfig
from molink.errors import ConfigError, InvalidInput
from molink.services.clock import SystemClock
from molink.services.runtime import NodeRuntime
from molink.storage.db import Database
from molink.storage.messages import MessageRepo
from molink.storage.migrate import migrate

__all__ = ["UNSAFE_CLOCK_SKEW_ENV", "serve_node", "unsafe_clock_skew", "worker_app"]

_HOME_ENV = "MOLINK_NODE_HOME"  # how the supervisor tells its workers which node to run
# Pooled connections per worker (+ as many overflow, + 3 of its own): 11 each, so two
# nodes of 4 workers fit in PostgreSQL's default max_connections of 100.
_WORKER_POOL = 4

UNSAFE_CLOCK_SKEW_ENV = "MOLINK_UNSAFE_CLOCK_SKEW_S"
_MAX_TEST_SKEW_S = 86_400.0


def unsafe_clock_skew(environ: dict[str, str] | None = None) -> SystemClock | None:
    """The skewed clock the test hook asks for, or None (the normal case)."""
    value = (os.environ if environ is None else environ).get(UNSAFE_CLOCK_SKEW_ENV)
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError as exc:
        raise ConfigError(f"{UNSAFE_CLOCK_SKEW_ENV} must be a number of seconds") from exc
    if not abs(seconds) <= _MAX_TEST_SKEW_S:
        raise ConfigError(f"{UNSAFE_CLOCK_SKEW_ENV} must be within ±{_MAX_TEST_SKEW_S:.0f} s")
    print(
        f"WARNING: unsafe_clock_skew: this node's clock is skewed by {seconds:+.0f} s "
        f"({UNSAFE_CLOCK_SKEW_ENV}); a test hook, never for real use",
        file=sys.stderr,
        flush=True,
    )
    return SystemClock(skew=timedelta(seconds=seconds))


def serve_node(home: Path, *, workers: int = 1) -> None:
    """Run the node until SIGINT/SIGTERM, in this process or in ``workers`` processes."""
    if workers < 1:
        raise InvalidInput("--workers must be at least 1")
    config = NodeConfig.load(home / "node.toml")
    db = Database(config.database_url, base=config.home, pool_size=1, max_overflow=1)
    try:
        if workers > 1 and not db.is_postgres:
            raise ConfigError(
                f"--workers {workers} needs PostgreSQL: SQLite has a single writer, so a "
                "node on SQLite runs one worker (see docs/operations.md to move to PostgreSQL)"
            )
        guard = db.session_lock("serve")
        if not guard.try_acquire():
            raise ConfigError("another `molink serve` is running on this node's database")
        try:
            migrate(db)
            with db.write(sequenced=False) as conn:
                MessageRepo(db).release_all(conn)  # no worker of this node runs now
            if workers == 1:
                _serve_here(config)
            else:
                _serve_workers(config, workers)
        finally:
            guard.release()
    finally:
        db.dispose()


def _uvicorn_options(config: NodeConfig) -> dict[str, Any]:
    return {
        "host": config.api.host,
        "port": config.api.port,
        "log_level": "warning",
        "ssl_certfile": str(config.path(config.api.tls_cert)),
        "ssl_keyfile": str(config.path(config.api.tls_key)),
        "timeout_graceful_shutdown": 5,
        "access_log": False,
    }


def _serve_here(config: NodeConfig) -> None:
    runtime = NodeRuntime.from_config(config, clock=unsafe_clock_skew(), upgrade=False)
    runtime.freeze_after_warm = True
    app = create_app(runtime)
    server = uvicorn.Server(uvicorn.Config(app, **_uvicorn_options(config)))
    try:
        server.run()
    finally:
        runtime.ctx.db.dispose()


def _serve_workers(config: NodeConfig, workers: int) -> None:
    os.environ[_HOME_ENV] = str(config.home)
    uvicorn.run(
        "molink.cli.serve:worker_app",
        factory=True,
        workers=workers,
        **_uvicorn_options(config),
    )


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn calls this in each one it starts)."""
    config = NodeConfig.load(Path(os.environ[_HOME_ENV]) / "node.toml")
    runtime = NodeRuntime.from_config(
        config,
        clock=unsafe_clock_skew(),
        upgrade=False,
        pool_size=_WORKER_POOL,
        max_overflow=_WORKER_POOL,
    )
    runtime.freeze_after_warm = True
    return create_app(runtime)
