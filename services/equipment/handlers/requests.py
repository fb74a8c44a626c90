"""Requests: a recipient organisation asks for devices, the Coordination reviews the request
(accepts, partially accepts, refuses) and sets the caps each kind of recipient gets in a year."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from passerelle_contracts.common import RECIPIENT_KINDS

from services.runtime.errors import Conflict, Invalid

from .. import domain, events
from .common import Row, Uow, found


@dataclass(frozen=True)
class SubmitRequest:
    recipient: str
    devices: dict[str, int]
    public: str | None = None
    beneficiaries: int | None = None  # a count, never names
    commune: str | None = None  # the recipient's own commune when not given
    justification: str = ""


@dataclass(frozen=True)
class ReviewRequest:
    request_id: uuid.UUID
    decision: str  # accepted | partially_accepted | refused
    granted: dict[str, int] | None = None  # for a partial acceptance
    reason: str = ""
    priority: int | None = None


@dataclass(frozen=True)
class SetCap:
    period: str  # a calendar year
    recipient_kind: str
    device_kind: str
    max_devices: int


async def submit_request(uow: Uow, command: SubmitRequest) -> Row:
    domain.require_may_ask(uow.actor, command.recipient)
    async with uow:
        organisation = await uow.repo.organisation(command.recipient)
        if organisation is None or organisation["kind"] not in RECIPIENT_KINDS:
            raise Invalid(f"{command.recipient} is not a known recipient organisation ({', '.join(RECIPIENT_KINDS)})")
        row = await uow.repo.add_request(
            command.recipient,
            organisation["kind"],
            command.devices,
            command.public,
            command.beneficiaries,
            command.commune or organisation["commune"],
            command.justification,
        )
        uow.emit(*events.request_submitted(row))
    return row


async def review_request(uow: Uow, command: ReviewRequest) -> Row:
    domain.require_coordination(uow.actor, "reviews requests")
    async with uow:
        request = found(await uow.repo.lock_request(command.request_id), f"request {command.request_id}")
        if request["status"] != "submitted":
            raise Conflict(f"request {command.request_id} was already {request['status']}")
        granted = domain.review(command.decision, request["devices"], command.granted, command.reason)
        updated = await uow.repo.set_review(
            command.request_id, command.decision, granted, command.reason, command.priority
        )
        uow.emit(*events.request_reviewed(request, command.decision, granted, command.reason))
    return updated


async def set_cap(uow: Uow, command: SetCap) -> Row:
    domain.require_coordination(uow.actor, "sets caps")
    async with uow:
        return await uow.repo.put_cap(command.period, command.recipient_kind, command.device_kind, command.max_devices)
