"""An event partners subscribe to becomes e-mails, rendered now and sent later by the mailer."""

from __future__ import annotations

from typing import Any

from passerelle_contracts import Envelope
from passerelle_contracts.common import Language

from services.runtime.uow import UnitOfWork

from ..domain import NewDelivery, addressed_epn, recipients
from ..repository import NotificationsRepository
from ..templates import Message, render


async def notify_subscribers(uow: UnitOfWork[NotificationsRepository], envelope: Envelope, data: Any) -> None:
    """Render one e-mail per partner to tell, in the partner's language, to be sent by the mailer.

    Runs in the consumer's unit of work, with its inbox row: the e-mails are queued if and only if
    the event is marked handled. A redelivery finds its rows and adds nothing. An event addressed to
    an EPN reaches its operator too, as the EPN directory knows it when the event is handled (an
    EPN the directory does not know yet: its own partner only).
    """
    async with uow:
        rendered: dict[Language, Message] = {}  # one rendering per language, not per partner
        deliveries = []
        epn_code = addressed_epn(envelope.event_type, envelope.data)
        epn = None if epn_code is None else await uow.repo.epn(epn_code)
        subscribers = await uow.repo.subscribers(envelope.event_type, envelope.occurred_at)
        operator = None if epn is None else epn.operator
        for partner in recipients(envelope.event_type, envelope.data, subscribers, operator):
            if partner.language not in rendered:
                rendered[partner.language] = render(envelope, partner.language)
            message = rendered[partner.language]
            deliveries.append(
                NewDelivery(
                    partner_code=partner.code,
                    event_id=envelope.event_id,
                    event_type=envelope.event_type,
                    correlation_id=envelope.correlation_id,
                    email=partner.email,
                    language=partner.language,
                    subject=message.subject,
                    body=message.body,
                )
            )
        await uow.repo.add_deliveries(deliveries)
