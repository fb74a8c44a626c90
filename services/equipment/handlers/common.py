"""What the use cases share: the unit of work's type, and finding a row that must exist."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from services.runtime.errors import NotFound
from services.runtime.uow import UnitOfWork

from .. import domain
from ..sql import EquipmentRepository

Uow = UnitOfWork[EquipmentRepository]
Row = dict[str, Any]
T = TypeVar("T")


def today() -> date:
    """The calendar day where the service runs (``date.today()``), for commands that default to
    "as of today": the follow-up check and the figures."""
    return datetime.now(UTC).astimezone().date()


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
