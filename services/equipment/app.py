"""Composition root of the equipment service."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from fastapi import FastAPI
from passerelle_contracts.equipment_v1 import TOPIC

from services.runtime.http import create_http_app
from services.runtime.service import Runtime

from .api import router
from .api_devices import router as devices_router
from .api_redistribution import router as redistribution_router
from .redistribution import follow_ups_due
from .settings import EquipmentSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


SEED = Path(__file__).resolve().parent / "seed" / "organisations.json"


async def load_organisations(runtime: Runtime) -> None:
    """Seed organisations on first start only; later they are managed over HTTP."""
    doc = json.loads(SEED.read_text(encoding="utf-8"))
    async with runtime.pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM organisations)"):
            return
        await conn.executemany(
            "INSERT INTO organisations (code, name, kind, commune) VALUES ($1, $2, $3, $4)",
            [(o["code"], o["name"], o["kind"], o["commune"]) for o in doc["organisations"]],
        )


def create_app(settings: EquipmentSettings | None = None) -> FastAPI:
    """The service's app; with no settings, the defaults (e.g. to write its AsyncAPI document)."""
    settings = settings or EquipmentSettings()
    runtime = Runtime(settings, migrations=MIGRATIONS, on_start=[load_organisations])

    async def follow_ups() -> None:
        await follow_ups_due(runtime.pool, runtime.topic(TOPIC), date.today())

    runtime.every(settings.follow_up_check_interval_s, follow_ups, "follow-up-check")
    return create_http_app(
        runtime,
        title="Passerelle — equipment",
        description="Decommissioned IT equipment of regional administrations, refurbished and redistributed.",
        routers=[router, devices_router, redistribution_router],
    )
