"""The e-mail delivery log."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import Depends, Query
from passerelle_contracts import Actor

from services.runtime.auth import require
from services.runtime.http import api_router, repository
from services.runtime.inputs import Code

from ..domain import DeliveryStatus
from ..repository import NotificationsRepository

router = api_router(tags=["deliveries"])


@router.get(
    "/deliveries",
    summary="The e-mail delivery log, newest first (partners' addresses: the Coordination and operators only)",
)
async def list_deliveries(
    partner: Code | None = None,
    status: DeliveryStatus | None = None,
    limit: int = Query(100, ge=1, le=1000),
    actor: Actor = Depends(require("coordination", "operator")),
    repo: NotificationsRepository = Depends(repository),
) -> list[dict[str, Any]]:
    return [dataclasses.asdict(d) for d in await repo.deliveries(partner, status, limit)]
