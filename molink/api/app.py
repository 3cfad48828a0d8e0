"""The FastAPI application factory: one app per node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from molink import __version__
from molink.api import (
    routes_alerts,
    routes_channels,
    routes_courier,
    routes_events,
    routes_federation,
    routes_log,
    routes_messages,
    routes_status,
)
from molink.api.limits import BodySizeLimit
from molink.api.problems import install_problem_handlers
from molink.services.runtime import NodeRuntime

__all__ = ["create_app"]


def create_app(runtime: NodeRuntime, *, run_workers: bool = True) -> FastAPI:
    """Build the node's HTTP app. ``run_workers`` starts the outbox with the app."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_workers:
            await runtime.start()
        try:
            yield
        finally:
            if run_workers:
                await runtime.stop()

    app = FastAPI(
        title=f"molink node {runtime.ctx.party}",
        version=__version__,
        description="Operator API and federation endpoints of one molink party node.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    for router in (
        routes_messages.router,
        routes_status.router,
        routes_alerts.router,
        routes_channels.router,
        routes_courier.router,
        routes_events.router,
        routes_log.router,
        routes_federation.router,
    ):
        app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=runtime.max_body_bytes)
    return app
