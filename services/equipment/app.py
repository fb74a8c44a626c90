"""Composition root of the equipment service: its runtime (migrations, repository, the hourly
follow-up check, the organisations seeded on first start, the consumer of the EPN register's
events, the processes that render certificates) and its HTTP routers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.runtime.http import create_http_app
from services.runtime.inputs import brussels_today
from services.runtime.service import Runtime
from services.runtime.uow import Context

from . import certificates, subscribers
from .api import ROUTERS
from .handlers import delivery, intake
from .settings import EquipmentSettings
from .sql import EquipmentRepository

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SEED = Path(__file__).resolve().parent / "seed" / "organisations.json"


async def load_organisations(runtime: Runtime) -> None:
    """Seed organisations on first start only; later they are managed over HTTP, and the EPNs by
    the funding service's register (``subscribers``)."""
    doc = json.loads(SEED.read_text(encoding="utf-8"))
    await intake.seed_organisations(runtime.unit_of_work(Context.system()), doc["organisations"])


def certificate_workers(workers: int) -> Callable[[], Coroutine[Any, Any, None]]:
    """For the life of the service: its certificates rendered in ``workers`` processes
    (``certificates``), stopped with it."""

    async def serve() -> None:
        renderer = certificates.CertificateRenderer(workers)
        previous = certificates.use(renderer)
        try:
            await asyncio.Event().wait()  # until the runtime stops (cancels) its background tasks
        finally:
            if certificates.renderer() is renderer:
                certificates.use(previous)
            renderer.close()

    return serve


def create_app(settings: EquipmentSettings | None = None) -> FastAPI:
    """The service's app; with no settings, the defaults (e.g. to write its AsyncAPI document)."""
    settings = settings or EquipmentSettings()
    runtime = Runtime(settings, migrations=MIGRATIONS, repository=EquipmentRepository, on_start=[load_organisations])
    subscribers.register(runtime)

    async def follow_ups() -> None:
        await delivery.send_due_follow_ups(
            runtime.unit_of_work(Context.system()), delivery.SendFollowUps(brussels_today())
        )

    runtime.every(settings.follow_up_check_interval_s, follow_ups, "follow-up-check")
    runtime.background(certificate_workers(settings.certificate_workers), "certificate-workers")
    return create_http_app(
        runtime,
        title="Passerelle — equipment",
        description="Decommissioned IT equipment of regional administrations, refurbished and redistributed.",
        routers=ROUTERS,
    )
