"""The FastAPI application factory: one app per node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from molink import __version__
from molink.api import (
    routes_admin,
    routes_alerts,
    routes_audit,
    routes_channels,
    routes_courier,
    routes_deconfliction,
    routes_events,
    routes_evidence,
    routes_federation,
    routes_incidents,
    routes_ledger,
    routes_log,
    routes_messages,
    routes_metrics,
    routes_session,
    routes_status,
    routes_tracks,
)
from molink.api.audit import AuditTrail
from molink.api.limits import BodySizeLimit
from molink.api.problems import install_problem_handlers
from molink.api.ratelimit import RateLimit
from molink.services.access import AccessOptions, AccessService, SourceLimiter
from molink.services.audit import AuditService
from molink.services.runtime import NodeRuntime
from molink.web.routes import install_console

__all__ = ["create_app"]


def create_app(
    runtime: NodeRuntime, *, run_workers: bool = True, access: AccessOptions | None = None
) -> FastAPI:
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
    app.state.access = AccessService(runtime.ctx, access)
    install_problem_handlers(app)
    for router in (
        routes_messages.router,
        routes_status.router,
        routes_alerts.router,
        routes_channels.router,
        routes_courier.router,
        routes_deconfliction.router,
        routes_tracks.router,
        routes_events.router,
        routes_evidence.router,
        routes_incidents.router,
        routes_ledger.router,
        routes_log.router,
        routes_metrics.router,
        routes_federation.router,
        routes_session.router,
        routes_admin.router,
        routes_audit.router,
    ):
        app.include_router(router)
    install_console(app)
    app.add_middleware(BodySizeLimit, max_bytes=runtime.max_body_bytes)
    app.state.audit = AuditService(runtime.ctx)
    app.add_middleware(
        AuditTrail,
        audit=app.state.audit,
        events=runtime.ctx.events,
        now_us=runtime.ctx.now_us,
        refusal_limiter=SourceLimiter(60, timedelta(minutes=1), what="refused credentials"),
    )
    app.add_middleware(RateLimit)  # outermost: per-source token buckets (federation, login)
    return app
