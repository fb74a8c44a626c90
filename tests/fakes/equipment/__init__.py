"""The equipment service's repository in memory, for use-case unit tests.

It answers as ``services.equipment.sql.EquipmentRepository`` does (the same rows, keys and
orders) and keeps the database's rules the use cases rely on: a device whose sanitisation is not
complete is never reserved, allocated or delivered (the trigger of migration 0002, raising the
same error), a device serves one request at a time, a donor's asset tag and a batch reference
are unique. ``tests/integration/equipment_repository/`` runs the same tests on both.

Not implemented: ``paths_until`` (the figures' query, a window over the whole history that
only PostgreSQL runs; the figures are tested through HTTP in test_equipment_redistribution.py).
Row locks do not block (one fake unit of work runs at a time) but are recorded, so that the fake
unit of work checks every event is emitted after its aggregate's row was locked.
"""

from __future__ import annotations

from typing import Any, cast

from passerelle_contracts import Envelope, EventData

from services.equipment.handlers.common import Uow
from services.runtime.testing import FakeStore, FakeUnitOfWork
from services.runtime.uow import Context

from .devices import FakeDevices
from .intake import FakeIntake
from .redistribution import FakeRedistribution

__all__ = ["FakeEquipmentRepository", "LockingOrderUnitOfWork", "unit_of_work"]


class FakeEquipmentRepository(FakeIntake, FakeDevices, FakeRedistribution):
    """What ``EquipmentRepository`` does, in memory: every part, on one set of tables."""


class LockingOrderUnitOfWork(FakeUnitOfWork[FakeEquipmentRepository]):
    """A fake unit of work that also checks the per-aggregate order of events: an event may be
    emitted only for an aggregate whose row this transaction locked (or inserted) before, as the
    outbox relies on (docs/architecture.md, "Outbox and inbox")."""

    async def _begin(self) -> None:
        await super()._begin()
        self.repo.locked.clear()

    def emit(self, event: EventData, subject: str, **options: Any) -> Envelope:
        if subject not in self.repo.locked:
            raise AssertionError(
                f"{event.event_type} for {subject} emitted before its row was locked in this transaction"
            )
        return super().emit(event, subject, **options)


def unit_of_work(store: FakeStore[FakeEquipmentRepository], context: Context) -> Uow:
    """A fake unit of work typed as the use cases take it: the fake answers as the repository
    does (the shared suite checks that), which the type checker cannot see."""
    return cast(Uow, LockingOrderUnitOfWork(store=store, context=context, source="equipment"))
