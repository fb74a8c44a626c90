"""The EPN register: register an EPN, change its details, decide on its label.

Each use case runs in one unit of work: the register's rows, the EPN's history entry and the
events commit together. A label decision first takes the label register's row lock (its
version), then the EPN's: decisions on different EPNs wait for each other, so the count of
labelled EPNs an event carries is the count right after that decision, and versions follow the
order of the commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from passerelle_contracts.common import LabelStatus

from services.runtime.errors import Conflict, Forbidden, NotFound
from services.runtime.uow import UnitOfWork

from .. import domain, events
from ..domain import Criterion, Epn, EpnDetails, HistoryEntry
from ..repository import FundingRepository
from .cadastre import refresh_coverage

Uow = UnitOfWork[FundingRepository]


@dataclass(frozen=True)
class RegisterEpn:
    epn: str
    details: EpnDetails


async def register_epn(uow: Uow, command: RegisterEpn) -> tuple[Epn, bool]:
    """Returns (the EPN, created). Registering a code again with the same details answers the EPN
    as it is (a client's retry); with other details it is refused: the register is changed by a
    change of details, whose history and event say what changed."""
    async with uow:
        epn = Epn(epn=command.epn, details=command.details, label_status="candidate", registered_by=uow.actor)
        stored = await uow.repo.add_epn(epn)
        if stored is None:
            existing = await uow.repo.epn(command.epn)
            assert existing is not None  # the insert met a committed row: this next statement sees it
            if existing.details != command.details:
                raise Conflict(f"{command.epn} is registered already with other details: change them instead")
            return existing, False
        await uow.repo.add_history(HistoryEntry(epn=epn.epn, kind="registered", actor=uow.actor, status="candidate"))
        uow.emit(events.epn_registered(stored), subject=events.epn_subject(epn.epn))
        return stored, True


@dataclass(frozen=True)
class ChangeEpnDetails:
    epn: str
    values: dict[str, Any]  # names from ``domain.DETAIL_FIELDS``


async def change_epn_details(uow: Uow, command: ChangeEpnDetails) -> tuple[Epn, bool]:
    """Returns (the EPN, changed). Only what differs is recorded and announced; nothing differing
    is no news. The Coordination changes any EPN, the EPN's operator its own."""
    async with uow:
        epn = await uow.repo.epn(command.epn, lock=True)
        if epn is None:
            raise NotFound(f"no EPN {command.epn} in the register")
        if not domain.may_edit_epn(uow.actor, epn):
            raise Forbidden(f"only the Coordination or {epn.details.operator}, its operator, change {epn.epn}")
        changes = domain.detail_changes(epn.details, command.values)
        if not changes:
            return epn, False
        updated = await uow.repo.update_epn(epn.epn, {name: new for name, _, new in changes})
        announced = events.field_changes(changes)
        await uow.repo.add_history(
            HistoryEntry(
                epn=epn.epn,
                kind="details",
                actor=uow.actor,
                changes=tuple(c.model_dump(mode="json") for c in announced),
            )
        )
        uow.emit(events.epn_details_changed(epn.epn, announced), subject=events.epn_subject(epn.epn))
        return updated, True


@dataclass(frozen=True)
class DecideLabel:
    epn: str
    status: LabelStatus
    decided_on: date
    note: str | None = None


async def decide_label(uow: Uow, command: DecideLabel) -> HistoryEntry:
    """Move an EPN's label (``domain.TRANSITIONS``), the charter checked and kept with the decision.

    Announces ``EpnLabelStatusChanged`` with the count of labelled EPNs after it; a labelling also
    announces ``EpnLabelled``, the first contract's event, for the readers that know only it."""
    async with uow:
        version = await uow.repo.next_register_version()  # first: the lock that orders decisions
        epn = await uow.repo.epn(command.epn, lock=True)
        if epn is None:
            raise NotFound(f"no EPN {command.epn} in the register")
        results = domain.check_charter(epn.details, await uow.repo.criteria())
        domain.decide(epn, command.status, results)
        updated = await uow.repo.set_label_status(epn.epn, command.status, command.decided_on)
        labelled = await uow.repo.count_labelled()
        entry = HistoryEntry(
            epn=epn.epn,
            kind="label",
            actor=uow.actor,
            previous_status=epn.label_status,
            status=command.status,
            decided_on=command.decided_on,
            criteria=tuple(r.as_record() for r in results),
            note=command.note,
            register_version=version,
        )
        await uow.repo.add_history(entry)
        subject = events.epn_subject(epn.epn)
        uow.emit(
            events.epn_label_status_changed(epn, updated, command.decided_on, results, labelled, version),
            subject=subject,
        )
        if command.status == domain.LABELLED:
            uow.emit(events.epn_labelled(updated, command.decided_on), subject=subject)
        await refresh_coverage(uow, await uow.repo.line_years(epn.epn))  # action 36 counts labelled EPNs only
        return entry


async def set_criterion(uow: Uow, criterion: Criterion) -> Criterion:
    """Set a criterion of the label charter. Decisions already taken keep the criteria they were
    checked against (their history entry), so a new threshold changes only the next decisions."""
    async with uow:
        await uow.repo.put_criterion(criterion)
    return criterion
