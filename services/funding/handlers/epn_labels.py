"""Label an EPN: recorded and announced once per EPN."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.runtime.uow import UnitOfWork

from .. import events
from ..domain import EpnLabel
from ..repository import FundingRepository


@dataclass(frozen=True)
class LabelEpn:
    epn: str
    labelled_on: date
    commune: str | None = None


async def label_epn(uow: UnitOfWork[FundingRepository], command: LabelEpn) -> tuple[EpnLabel, bool]:
    """Returns (the EPN's label, created). A second label of the same EPN, whatever its date,
    is no news: the first one stays and nothing is announced (action 11 counts each EPN once)."""
    async with uow:
        label = EpnLabel(
            epn=command.epn, commune=command.commune, labelled_on=command.labelled_on, recorded_by=uow.actor
        )
        stored = await uow.repo.add_epn_label(label)
        if stored is None:
            existing = await uow.repo.epn_label(command.epn)
            assert existing is not None  # the insert met a committed label: this next statement sees it
            return existing, False
        uow.emit(events.epn_labelled(label), subject=events.epn_subject(label.epn))
        return stored, True
