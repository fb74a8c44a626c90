"""Composition root of the funding service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.runtime.http import create_http_app
from services.runtime.service import Runtime

from .api import ROUTERS
from .repository import FundingRepository
from .settings import FundingSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: FundingSettings | None = None) -> FastAPI:
    """The service's app; with no settings, the defaults (e.g. to write its AsyncAPI document)."""
    settings = settings or FundingSettings()
    return create_http_app(
        Runtime(settings, migrations=MIGRATIONS, repository=FundingRepository),
        title="Passerelle — funding",
        description="The funding register of the EPNs: calls, applications, grants, payments.",
        routers=ROUTERS,
    )
