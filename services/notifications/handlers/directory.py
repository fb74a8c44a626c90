"""The EPN directory: the EPNs the funding service's register announces, kept so that an e-mail
addressed to an EPN reaches the organisation that runs it (``domain.ADDRESSED_TO_EPN``) and so
that the Coordination sees which EPNs no partner reaches yet (``GET /epns``).

Each handler runs in the unit of work the consumer ``epn-directory`` opened with the event's inbox
row, so an event delivered twice is applied once; a registration is an upsert of the register's
word, and a label decision carries the register's version, so applying the same facts again, or an
older decision late, changes nothing either. The directory is the register's: nothing else writes
it, and nothing here e-mails anyone (the consumer ``mailer`` does, from its own subscriptions).

The register's events are keyed by EPN, so an EPN's ``EpnRegistered`` comes before its other
events on the same partition: an EPN unknown here when a change or a decision arrives means its
registration was not applied (dead-lettered), and the event is refused too, to be replayed after
it, in order, rather than lost.
"""

from __future__ import annotations

import dataclasses

from passerelle_contracts import Envelope
from passerelle_contracts.funding_v1 import (
    EpnDetailsChanged,
    EpnLabelStatusChanged,
    EpnRegistered,
    GrantAgreementSigned,
    GrantAwarded,
)

from services.runtime.errors import Invalid
from services.runtime.logs import get_logger
from services.runtime.uow import UnitOfWork

from .. import domain
from ..domain import DirectoryEpn
from ..repository import NotificationsRepository

Uow = UnitOfWork[NotificationsRepository]
log = get_logger(__name__)


async def on_epn_registered(uow: Uow, envelope: Envelope, data: EpnRegistered) -> None:
    """The EPN enters the directory (or is updated) with its name, operator, commune and label."""
    epn = domain.registered_epn(data.epn, data.epn_name, data.operator, data.commune, data.label_status)
    async with uow:
        await uow.repo.register_epn(epn)
    log.info("EPN in the directory", epn=data.epn, operator=data.operator)


async def on_epn_details_changed(uow: Uow, envelope: Envelope, data: EpnDetailsChanged) -> None:
    """The EPN's name, operator and commune follow the register; its other details are the funding
    service's. A new operator is reached from the next reminder on."""
    if not domain.touches_directory(data.changes):
        return  # hours, computers, address …: nothing the directory keeps
    async with uow:
        epn = await _known(uow, data.epn)
        await uow.repo.save_epn(domain.changed_epn(epn, data.changes))
    log.info("EPN details changed in the directory", epn=data.epn, fields=sorted(c.field for c in data.changes))


async def on_epn_label_status_changed(uow: Uow, envelope: Envelope, data: EpnLabelStatusChanged) -> None:
    """The EPN's label status follows the register's decisions; a decision older than the last one
    applied (its ``register_version`` not above) is stale and changes nothing."""
    async with uow:
        epn = await _known(uow, data.epn)
        if domain.label_is_stale(epn, data.register_version):
            log.info("stale label decision ignored", epn=data.epn, register_version=data.register_version)
            return
        await uow.repo.save_epn(dataclasses.replace(epn, label_status=data.status, label_version=data.register_version))
    log.info("EPN label status in the directory", epn=data.epn, status=data.status)


async def _known(uow: Uow, code: str) -> DirectoryEpn:
    """The directory's EPN, locked; refused if its registration was not applied (see the module)."""
    epn = await uow.repo.epn(code, lock=True)
    if epn is None:
        raise Invalid(
            f"EPN {code} is not in the directory: its EpnRegistered was not applied (look for it in the "
            "dead letters and replay it before this event)"
        )
    return epn


async def on_grant_holder(uow: Uow, envelope: Envelope, data: GrantAwarded | GrantAgreementSigned) -> None:
    """Who holds the grant: the events about it that do not name its beneficiary (an amendment, a
    checked claim, a reviewed report) still reach the holder. Kept by this consumer group, which
    reads the funding topic from its first record, so the grants awarded before this version are
    known too (the mailer also keeps it, for the events it handles first)."""
    async with uow:
        await uow.repo.save_grant_holder(data.grant_id, data.beneficiary)
