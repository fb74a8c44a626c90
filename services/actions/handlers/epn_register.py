"""The EPN register's events: the EPNs the funding service keeps become organisations of the plan
(kind ``epn``), which may lead or partner an action and attend a meeting.

Each handler runs in the unit of work the consumer opened with the event's inbox row, so an event
delivered twice is applied once; and each write is an upsert of the register's latest word, so
applying the same facts again changes nothing either. Which rows the register may write, and why
a code that is another kind of organisation here is refused (the consumer then dead-letters the
event with that reason) rather than overwritten or skipped: ``domain`` (organisations learned from
the EPN register). Nothing is emitted: an organisation is not an action, and the actions topic
speaks of actions.

``EpnLabelStatusChanged`` is not routed here: action 11 counts label decisions (the consumer
``indicators``), and a decision changes nothing about an EPN as an organisation of the plan.
"""

from __future__ import annotations

from passerelle_contracts import Envelope
from passerelle_contracts.funding_v1 import EpnDetailsChanged, EpnRegistered

from services.runtime.errors import Invalid
from services.runtime.logs import get_logger

from .. import domain
from .aggregate import Uow

log = get_logger(__name__)


async def on_epn_registered(uow: Uow, envelope: Envelope, data: EpnRegistered) -> None:
    """The EPN becomes (or stays) an organisation of kind ``epn`` with the register's name; a
    seeded EPN under the same code is adopted by the register."""
    async with uow:
        row = await uow.repo.register_epn(data.epn, domain.register_name(data.epn, data.epn_name))
        if row is None:  # the code is another kind of organisation here (left as it is)
            existing = await uow.repo.organisation(data.epn)
            assert existing is not None, "the insert met a row: this next statement sees it"
            raise domain.code_taken(data.epn, existing)
        log.info("EPN registered", epn=data.epn)


async def on_epn_details_changed(uow: Uow, envelope: Envelope, data: EpnDetailsChanged) -> None:
    """The EPN's name follows the register; its other details are the funding service's.

    The register's events are keyed by EPN, so its ``EpnRegistered`` came before on the same
    partition: an EPN unknown here means that event was not applied (dead-lettered), and this one
    is refused too, to be replayed after it, in order, rather than lost."""
    name = domain.register_rename(data.epn, data.changes)
    if name is None:
        return  # hours, computers, operator, address …: nothing actions keeps
    async with uow:
        existing = await uow.repo.organisation(data.epn, lock=True)
        if existing is None:
            raise Invalid(
                f"EPN {data.epn} is not known here: its EpnRegistered was not applied (look for it in "
                "the dead letters and replay it before this event)"
            )
        domain.register_may_write(data.epn, existing)
        await uow.repo.register_epn(data.epn, name)  # an EPN's row, locked: written
        log.info("EPN renamed", epn=data.epn)
