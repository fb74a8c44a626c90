"""Composition root of the actions service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.runtime.http import create_http_app
from services.runtime.inputs import brussels_today
from services.runtime.logs import get_logger
from services.runtime.service import Runtime
from services.runtime.uow import Context

from . import subscribers
from .api import ROUTERS
from .handlers.milestones import AnnounceOverdue, announce_overdue
from .handlers.plan import LoadPlan, load_plan, load_structure, read_seed
from .settings import ActionsSettings
from .sql import ActionsRepository

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = get_logger(__name__)


def create_runtime(settings: ActionsSettings) -> Runtime:
    async def seed(runtime: Runtime) -> None:
        plan, indicators = read_seed()
        uow = runtime.unit_of_work(Context.system())
        if settings.load_seed:
            await load_plan(uow, LoadPlan(plan, indicators))
        else:  # the structure only: actions come from a CSV import
            await load_structure(uow, plan)

    async def check_milestones() -> None:
        """The overdue check; each milestone is announced once, whichever replica finds it."""
        today = brussels_today()  # milestones are planned in Brussels days, wherever the service runs
        announced = await announce_overdue(runtime.unit_of_work(Context.system()), AnnounceOverdue(today))
        if announced:
            log.info("overdue milestones announced", count=len(announced))

    runtime = Runtime(settings, migrations=MIGRATIONS, repository=ActionsRepository, on_start=[seed])
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
        routers=ROUTERS,
    )
