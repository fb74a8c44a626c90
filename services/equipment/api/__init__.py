"""The equipment service's HTTP routers: parse, authorise (``unit_of_work(*roles)``, or the
``repository`` for public reads), call a use case, shape the reply."""

from __future__ import annotations

from fastapi import APIRouter

from . import deliveries, devices, redistribution

ROUTERS: tuple[APIRouter, ...] = (deliveries.router, devices.router, redistribution.router)
