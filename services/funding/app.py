"""Composition root of the funding service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.runtime.http import create_http_app
from services.runtime.inputs import brussels_today
from services.runtime.logs import get_logger
from services.runtime.service import Runtime
from services.runtime.uow import Context

from .api import ROUTERS
from .handlers.deadlines import check_all_deadlines
from .repository import FundingRepository
from .settings import FundingSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = get_logger(__name__)


def create_app(settings: FundingSettings | None = None) -> FastAPI:
    """The service's app; with no settings, the defaults (e.g. to write its AsyncAPI document)."""
    settings = settings or FundingSettings()
    runtime = Runtime(settings, migrations=MIGRATIONS, repository=FundingRepository)

    async def deadlines() -> None:
        """The deadline check; each reminder is announced once, whichever replica finds it."""
        announced = await check_all_deadlines(runtime.unit_of_work(Context.system()), brussels_today())
        if announced:
            log.info("deadline reminders announced", count=announced)

    runtime.every(settings.deadline_check_interval_s, deadlines, "deadline-check")
    return create_http_app(
        runtime,
        title="Passerelle — funding",
        description="The funding register of the EPNs: calls, applications, grants, payments.",
        routers=ROUTERS,
    )
