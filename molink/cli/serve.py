"""``molink serve``: uvicorn over TLS with the node's certificate.

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

import uvicorn

from molink.api.app import create_app
from molink.config import NodeConfig
from molink.errors import ConfigError
from molink.services.clock import SystemClock
from molink.services.runtime import NodeRuntime

__all__ = ["UNSAFE_CLOCK_SKEW_ENV", "serve_node", "unsafe_clock_skew"]

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


def serve_node(home: Path) -> None:
    config = NodeConfig.load(home / "node.toml")
    runtime = NodeRuntime.from_config(config, clock=unsafe_clock_skew())
    app = create_app(runtime)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.api.host,
            port=config.api.port,
            log_level="warning",
            ssl_certfile=str(config.path(config.api.tls_cert)),
            ssl_keyfile=str(config.path(config.api.tls_key)),
            timeout_graceful_shutdown=5,
            access_log=False,
        )
    )
    server.run()
    runtime.ctx.db.dispose()
