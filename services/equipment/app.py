"""Composition root of the equipment service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.runtime.http import create_http_app
from services.runtime.service import Runtime

from .api import router
from .settings import EquipmentSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: EquipmentSettings) -> FastAPI:
    return create_http_app(
        Runtime(settings, migrations=MIGRATIONS),
        title="Passerelle — equipment",
        description="Decommissioned IT equipment of regional administrations, refurbished and redistributed.",
        routers=[router],
    )
