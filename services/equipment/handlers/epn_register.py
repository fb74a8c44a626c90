"""The EPN register's events: the EPNs equipment delivers devices to, as the funding service keeps
them (its register is the master list; operators no longer type EPNs here).

Each handler runs in the unit of work the consumer opened with the event's inbox row, so an event
delivered twice is applied once; and each write is an upsert of the register's latest word, so
applying the same facts again changes nothing either. Which rows the register may write, and why
a code that is another kind of organisation here is refused (the consumer then dead-letters the
event with that reason) rather than overwritten or skipped: ``domain.organisations``.

``EpnLabelStatusChanged`` has no handler (the consumer ignores it): a label decision changes
nothing about an EPN as a recipient of devices (see ``domain.organisations``).
"""

from __future__ import annotations

from passerelle_contracts import Envelope
from passerelle_contracts.funding_v1 import EpnDetailsChanged, EpnRegistered

from services.runtime.errors import Invalid
from services.runtime.logs import get_logger

from ..domain import organisations
from .common import Uow, found

log = get_logger(__name__)


async def on_epn_registered(uow: Uow, envelope: Envelope, data: EpnRegistered) -> None:
    """The EPN becomes (or stays) an organisation of kind ``epn`` with the register's name and
    commune; an EPN typed by hand under the same code is adopted by the register."""
    async with uow:
        name, commune = (
            organisations.register_name(data.epn, data.epn_name),
            organisations.optional_commune(data.commune),
        )
        row = await uow.repo.register_epn(data.epn, name, commune)
        if row is None:  # the code is another kind of organisation here (left as it is)
            raise organisations.code_taken(data.epn, found(await uow.repo.organisation(data.epn), data.epn))
        log.info("EPN registered", epn=data.epn, commune=row["commune"])


async def on_epn_details_changed(uow: Uow, envelope: Envelope, data: EpnDetailsChanged) -> None:
    """The EPN's name and commune follow the register; its other details are the funding service's.

    The register's events are keyed by EPN, so its ``EpnRegistered`` came before on the same
    partition: an EPN unknown here means that event was not applied (dead-lettered), and this one
    is refused too, to be replayed after it, in order, rather than lost."""
    changes = organisations.register_changes(data.epn, data.changes)
    if not changes:
        return  # hours, computers, address …: nothing equipment keeps
    async with uow:
        existing = await uow.repo.lock_organisation(data.epn)
        if existing is None:
            raise Invalid(
                f"EPN {data.epn} is not known here: its EpnRegistered was not applied (look for it in "
                "the dead letters and replay it before this event)"
            )
        organisations.register_may_write(data.epn, existing)
        name = changes.get("name") or existing["name"]  # never empty: ``register_name`` refuses it
        commune = changes["commune"] if "commune" in changes else existing["commune"]
        await uow.repo.register_epn(data.epn, name, commune)  # an EPN's row, locked: written
        log.info("EPN details changed", epn=data.epn, fields=sorted(changes))
