"""Intake: organisations, and donors' batches of devices (JSON or CSV, thousands of rows,
idempotent by donor + asset tag); every device gets a Passerelle id and a short code for its label."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.runtime.errors import Invalid

from .. import domain, events
from ..domain import DeviceRow
from .common import Row, Uow, found


@dataclass(frozen=True)
class PutOrganisation:
    code: str
    name: str
    kind: str
    commune: str | None = None


@dataclass(frozen=True)
class DeclareBatch:
    donor: str
    reference: str  # the donor's own reference: with the donor, the batch's idempotency key
    rows: Sequence[tuple[int, DeviceRow]]  # (line, device): a report names the line of each error


@dataclass
class IntakeReport:
    batch_id: str
    created: int = 0
    existing: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


async def put_organisation(uow: Uow, command: PutOrganisation) -> Row:
    """Register or replace an organisation; one the EPN register keeps is refused unless nothing
    changes (409: ``domain.organisations`` says why the register's rows are its own)."""
    domain.require_coordination(uow.actor, "registers organisations")
    async with uow:
        row = await uow.repo.put_organisation(command.code, command.name, command.kind, command.commune)
        if row is None:  # the register keeps it (left as it is)
            row = found(await uow.repo.organisation(command.code), f"organisation {command.code}")
            domain.organisations.require_unchanged_by_http(
                command.code, row, command.name, command.kind, command.commune
            )
        return row


async def seed_organisations(uow: Uow, organisations: Sequence[Row]) -> bool:
    """The seed's organisations on first start only (later they are managed over HTTP); True if loaded."""
    async with uow:
        await uow.repo.lock_seed()
        if await uow.repo.any_organisation():
            return False
        await uow.repo.add_organisations(organisations)
        return True


async def declare_batch(uow: Uow, command: DeclareBatch) -> IntakeReport:
    """Declare (or complete) a batch. Devices already known by donor + asset tag are left as
    they are; new ones are created in one transaction and announced with BatchDeclared."""
    domain.require_may_declare(uow.actor, command.donor)
    async with uow:
        if await uow.repo.organisation(command.donor) is None:
            raise Invalid(f"unknown donor organisation {command.donor}")
        batch_id = await uow.repo.upsert_batch(command.donor, command.reference)  # locks the batch's row
        report = IntakeReport(str(batch_id))
        fresh, report.errors = domain.duplicates_in(command.rows)
        known = await uow.repo.known_asset_tags(command.donor, [row.asset_tag for _, row in fresh])
        new = [domain.declared(uuid.uuid4(), row) for _, row in fresh if row.asset_tag not in known]
        report.existing = len(fresh) - len(new)
        await uow.repo.add_devices(batch_id, command.donor, command.reference, new, uow.actor)
        report.created = len(new)
        if new:
            kinds = Counter(d.row.kind for d in new)
            uow.emit(*events.batch_declared(batch_id, command.donor, command.reference, kinds))
    return report
