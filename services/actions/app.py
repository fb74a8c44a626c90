"""Composition root of the actions service."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from fastapi import FastAPI

from services.runtime.http import create_http_app
from services.runtime.logs import get_logger
from services.runtime.service import Runtime

from . import subscribers
from .api import router
from .api_csv import router as csv_router
from .api_governance import router as governance_router
from .api_planning import router as planning_router
from .events import TOPIC
from .handlers import load_plan, load_structure, read_seed
from .milestones import announce_overdue
from .settings import ActionsSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = get_logger(__name__)


def create_runtime(settings: ActionsSettings) -> Runtime:
    async def seed(runtime: Runtime) -> None:
        plan, indicators = read_seed()
        if settings.load_seed:
            await load_plan(runtime.pool, runtime.topic(TOPIC), plan, indicators)
        else:  # the structure only: actions come from a CSV import
            await load_structure(runtime.pool, plan)

    async def check_milestones() -> None:
        """The overdue check; each milestone is announced once, whichever replica finds it."""
        announced = await announce_overdue(runtime.pool, runtime.topic(TOPIC), date.today())
        if announced:
            log.info("overdue milestones announced", count=len(announced))

    runtime = Runtime(settings, migrations=MIGRATIONS, on_start=[seed])
    subscribers.register(runtime)
    runtime.every(settings.milestone_check_interval_s, check_milestones, "milestone-check")
    return runtime


def create_app(settings: ActionsSettings | None = None) -> FastAPI:
    """The service's app; with no settings, the defaults (e.g. to write its AsyncAPI document)."""
    settings = settings or ActionsSettings()
    return create_http_app(
        create_runtime(settings),
        title="Passerelle — actions",
        description="The plan's 66 actions: status, owners, indicators.",
        routers=[router, planning_router, governance_router, csv_router],
    )
