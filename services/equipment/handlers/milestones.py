"""Donors' milestones: told once each, as counts, when all of a batch was received, when all was
sanitised (how many wiped, how many failed), and when every device was delivered or reached its
end of life. Called by the commands that move devices, in their unit of work."""

from __future__ import annotations

import uuid

from .. import domain, events
from ..sql.devices import ANNOUNCED
from .common import Uow, found


async def announce_milestones(uow: Uow, batch_id: uuid.UUID) -> None:
    async with uow:
        batch = found(await uow.repo.lock_batch(batch_id), f"batch {batch_id}")  # once each, whoever races
        counts = await uow.repo.batch_counts(batch_id)
        announced = {milestone: batch[column] is not None for milestone, column in ANNOUNCED.items()}
        for milestone in domain.milestones_reached(announced, counts):
            await uow.repo.mark_announced(batch_id, milestone)
            uow.emit(*events.milestone_reached(batch, milestone, counts))
