"""Allocation: the stock of refurbished, sanitised, available devices shared among accepted
requests under caps (``domain.allocate``), previewed, then confirmed with the preview's token
under a lock: if the stock or the requests changed in between, the confirmation is refused."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from services.runtime.errors import Conflict

from .. import domain, events
from ..sql import EquipmentRepository
from .common import Uow


@dataclass(frozen=True)
class ConfirmAllocation:
    period: str  # a calendar year: the caps' period
    preview_token: str


Inputs = tuple[list[domain.Request], list[domain.Device], dict[str, dict[str, int]], dict[str, dict[str, int]]]


async def _inputs(repo: EquipmentRepository, period: str, *, lock: bool) -> Inputs:
    """The accepted requests (with what they hold already), the stock, the period's caps and what
    earlier runs of the period used."""
    rows = await repo.accepted_requests()
    already = await repo.allocated_per_request()
    stock = await repo.allocatable_stock(lock=lock)
    caps = await repo.caps_of(period)
    used = await repo.used_in(period)
    requests = [
        domain.Request(
            str(r["id"]),
            r["recipient"],
            r["recipient_kind"],
            r["granted"],
            already.get(str(r["id"]), {}),
            r["submitted_at"].date(),
            r["priority"],
        )
        for r in rows
    ]
    devices = [domain.Device(str(d["id"]), d["kind"], d["grade"]) for d in stock]
    return requests, devices, caps, used


async def preview_allocation(repo: EquipmentRepository, period: str) -> dict[str, Any]:
    """What an allocation run would do now; nothing is written. Confirm with its preview_token."""
    requests, devices, caps, used = await _inputs(repo, period, lock=False)
    return domain.allocation_summary(domain.allocate(requests, devices, caps, used), requests, devices)


async def confirm_allocation(uow: Uow, command: ConfirmAllocation) -> dict[str, Any]:
    """Apply the allocation the operator previewed; refused if the stock or requests changed since."""
    domain.require_coordination(uow.actor, "allocates devices")
    async with uow:
        await uow.repo.lock_allocation_runs()  # one run at a time
        requests, devices, caps, used = await _inputs(uow.repo, command.period, lock=True)  # the stock's rows locked
        proposal = domain.allocate(requests, devices, caps, used)
        summary = domain.allocation_summary(proposal, requests, devices)
        if summary["preview_token"] != command.preview_token:
            raise Conflict("the stock or the requests changed since the preview: preview again")
        run_id = uuid.uuid4()
        by_id = {r.id: r for r in requests}
        for line in summary["allocations"]:
            ids = [uuid.UUID(d) for d in line["device_ids"]]
            await uow.repo.allocate(run_id, uuid.UUID(line["request_id"]), command.period, ids, uow.actor)
            request = by_id[line["request_id"]]
            uow.emit(
                *events.devices_allocated(
                    run_id,
                    request.id,
                    request.recipient,
                    request.recipient_kind,
                    line["devices"],
                    len(ids),
                    proposal.unmet.get(request.id, {}),
                )
            )
    return {**summary, "run_id": str(run_id)}
