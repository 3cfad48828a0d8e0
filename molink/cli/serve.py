"""``molink serve``: uvicorn over TLS with the node's certificate."""

from __future__ import annotations

from pathlib import Path

import uvicorn

from molink.api.app import create_app
from molink.config import NodeConfig
from molink.services.runtime import NodeRuntime

__all__ = ["serve_node"]


def serve_node(home: Path) -> None:
    config = NodeConfig.load(home / "node.toml")
    runtime = NodeRuntime.from_config(config)
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
