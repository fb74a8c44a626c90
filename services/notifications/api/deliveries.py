"""The e-mail delivery log."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends, Query

from services.runtime.http import repository

from ..domain import DeliveryStatus
from ..repository import NotificationsRepository

router = APIRouter(tags=["deliveries"])


@router.get("/deliveries", summary="The e-mail delivery log, newest first")
async def list_deliveries(
    partner: str | None = None,
    status: DeliveryStatus | None = None,
    limit: int = Query(100, ge=1, le=1000),
    repo: NotificationsRepository = Depends(repository),
) -> list[dict[str, Any]]:
    return [dataclasses.asdict(d) for d in await repo.deliveries(partner, status, limit)]
