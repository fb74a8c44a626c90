"""The delivery log: who was told what, when, on which channel, with what result; bounces reported
back; a dead letter sent again."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request
from passerelle_contracts import Actor

from services.runtime.auth import require
from services.runtime.errors import Conflict, Invalid
from services.runtime.http import api_router, repository, unit_of_work
from services.runtime.inputs import Code
from services.runtime.uow import UnitOfWork

from ..domain import DeliveryStatus
from ..handlers.bounces import record_dsn
from ..repository import NotificationsRepository

router = api_router(tags=["deliveries"])
SEES_EVERY_DELIVERY = ("coordination", "operator")
MAX_DSN_BYTES = 256 * 1024


@router.get(
    "/deliveries",
    summary="The delivery log, newest first (the Coordination and operators: all; a partner: its own)",
)
async def list_deliveries(
    partner: Code | None = None,
    status: DeliveryStatus | None = None,
    channel: Literal["email", "webhook", "feed"] | None = None,
    contact: int | None = Query(None, ge=1, le=2**62),
    before: int | None = Query(None, ge=1, le=2**62, description="The page after this message number"),
    limit: int = Query(100, ge=1, le=1000),
    actor: Actor = Depends(require()),
    repo: NotificationsRepository = Depends(repository),
) -> list[dict[str, Any]]:
    if actor.role not in SEES_EVERY_DELIVERY:
        partner = actor.organisation  # a partner reads its own organisation's messages only
    found = await repo.deliveries(partner, status, limit, channel=channel, contact=contact, before=before)
    return [dataclasses.asdict(d) for d in found]


@router.post(
    "/deliveries/{message}/retry",
    summary="Send a failed, bounced or suppressed message again (a dead letter replayed)",
)
async def retry_delivery(
    message: Annotated[int, Path(ge=1, le=2**62)],
    uow: UnitOfWork[NotificationsRepository] = Depends(unit_of_work("coordination", "operator")),
) -> dict[str, Any]:
    async with uow:
        if not await uow.repo.retry_message(message):
            raise Conflict(f"message {message} is not a dead letter (failed, bounced or suppressed) of a known contact")
    return {"message": message, "status": "pending"}


@router.post(
    "/bounces",
    summary="Report a delivery status notification (a bounce) that came back to the bounce address",
    responses={422: {"description": "An empty body"}},
    max_body_size=MAX_DSN_BYTES,
    openapi_extra={
        "requestBody": {
            "required": True,
            # A DSN is a mail message: as the bounce mailbox holds it (message/rfc822), or as text.
            "content": {
                "message/rfc822": {"schema": {"type": "string", "maxLength": MAX_DSN_BYTES}},
                "text/plain": {"schema": {"type": "string", "maxLength": MAX_DSN_BYTES}},
            },
        }
    },
)
async def post_bounce(
    request: Request,
    uow: UnitOfWork[NotificationsRepository] = Depends(unit_of_work("coordination", "operator")),
) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        raise Invalid("a bounce report is the delivery status notification itself (message/rfc822)")
    return await record_dsn(uow, request.app.state.runtime.settings, raw)
