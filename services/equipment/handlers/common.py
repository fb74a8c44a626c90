"""What the use cases share: the unit of work's type, and finding a row that must exist. "Today" is
the day in Brussels (``services.runtime.inputs.brussels_today``), wherever the service runs."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

from services.runtime.errors import NotFound
from services.runtime.uow import UnitOfWork

from .. import domain
from ..sql import EquipmentRepository

Uow = UnitOfWork[EquipmentRepository]
Row = dict[str, Any]
T = TypeVar("T")


def found(row: T | None, what: str) -> T:
    """``row``, or the 404 that says what was not found."""
    if row is None:
        raise NotFound(f"no {what}")
    return row


async def held_device(uow: Uow, device_id: uuid.UUID, doing: str) -> Row:
    """Lock the device's row (404 if there is none), then check the actor holds it or is the
    Coordination: the start of every command on one device."""
    device = found(await uow.repo.lock_device(device_id), f"device {device_id}")
    domain.require_holder(uow.actor, device["custodian"], doing)
    return device


def wipe_records(rows: Sequence[Row]) -> list[domain.WipeRecord]:
    """The domain's view of the records ``counting_sanitisations`` read."""
    return [domain.WipeRecord(r["medium_id"], r["method"], r["result"], r["order"]) for r in rows]


async def require_sanitised(uow: Uow, device_ids: Sequence[uuid.UUID]) -> None:
    """The rule again wherever devices go to a recipient (allocation's handover, its
    acknowledgement, a custody transfer), from the records themselves rather than the state
    column: every device's media are known and each has a passing latest record."""
    media = await uow.repo.media_of(device_ids)
    unknown = set(await uow.repo.unknown_media(device_ids))
    records: dict[uuid.UUID, list[Row]] = defaultdict(list)  # grouped once: a handover can hold thousands
    for record in await uow.repo.counting_sanitisations(device_ids):
        records[record["device_id"]].append(record)
    for device_id in device_ids:
        domain.require_sanitised(
            str(device_id),
            media.get(device_id, []),
            wipe_records(records[device_id]),
            media_known=device_id not in unknown,
        )
