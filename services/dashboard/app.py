"""Composition root of the dashboard: the projector's consumer, the live hub, the pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from services.runtime.http import create_http_app
from services.runtime.service import Runtime

from . import web
from .live import Hub
from .pages import equipment, funding, plan, system
from .projector import CONSUMER, EVENT_TYPES, MIGRATIONS, TOPICS, Projector
from .settings import DashboardSettings
from .viewers import SignInRequired

__all__ = ["MIGRATIONS", "create_app"]


def create_runtime(settings: DashboardSettings) -> Runtime:
    # It writes no event of its own (no outbox, no relay); its consumer dead-letters what it cannot
    # apply, so it publishes (to the dead-letter topics alone: its principal may write nowhere else).
    # The repository of its units of work is the transaction's connection (``projector``).
    runtime = Runtime(settings, migrations=MIGRATIONS, repository=lambda executor: executor, relay=False)
    runtime.consume(CONSUMER, TOPICS, dict.fromkeys(EVENT_TYPES, Projector()))
    return runtime


def create_app(settings: DashboardSettings | None = None) -> FastAPI:
    """The service's app; with no settings, the defaults (e.g. to write its documents)."""
    settings = settings or DashboardSettings()
    runtime = create_runtime(settings)
    hub = Hub(settings.database_url, settings.max_live_streams)
    runtime.background(hub.run, "live-updates")
    app = create_http_app(
        runtime,
        title="Passerelle — dashboard",
        description="The operator dashboard: the plan, the equipment, the funding and the system, live, in French "
        "and Dutch, built from the events.",
        routers=[web.router(hub), plan.router, equipment.router, funding.router, system.router],
    )
    app.state.hub = hub
    app.mount("/static", StaticFiles(directory=str(web.HERE / "static")), name="static")

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, error: SignInRequired) -> Response:
        return web.login_redirect(request)

    return app
