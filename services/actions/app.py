"""Composition root of the actions service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.runtime.http import create_http_app
from services.runtime.service import Runtime

from . import subscribers
from .api import router
from .events import TOPIC
from .handlers import load_plan, read_seed
from .settings import ActionsSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_runtime(settings: ActionsSettings) -> Runtime:
    async def seed(runtime: Runtime) -> None:
        if settings.load_seed:
            plan, indicators = read_seed()
            await load_plan(runtime.pool, runtime.topic(TOPIC), plan, indicators)

    runtime = Runtime(settings, migrations=MIGRATIONS, on_start=[seed])
    subscribers.register(runtime)
    return runtime


def create_app(settings: ActionsSettings) -> FastAPI:
    return create_http_app(
        create_runtime(settings),
        title="Passerelle — actions",
        description="The plan's 66 actions: status, owners, indicators.",
        routers=[router],
    )
