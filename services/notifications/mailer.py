"""Sends queued e-mails through SMTP, at least once, with backoff; every attempt is logged.

A delivery row is locked (FOR UPDATE SKIP LOCKED) while it is sent, so several replicas share
the work. If the process dies after the SMTP server accepted a message but before the row is
marked sent, the message is sent again: its Message-ID is derived from the delivery, so mail
clients can recognise the duplicate.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate

from services.runtime.logs import get_logger
from services.runtime.uow import UnitOfWork

from .domain import DueDelivery, failed_attempt
from .repository import NotificationsRepository
from .settings import NotificationsSettings

log = get_logger(__name__)

Send = Callable[[EmailMessage], None]


class Mailer:
    """The background loop. ``unit_of_work`` gives one per pass: the pass's batch stays locked in
    its transaction until every e-mail of the batch was tried and its outcome recorded."""

    def __init__(
        self,
        settings: NotificationsSettings,
        unit_of_work: Callable[[], UnitOfWork[NotificationsRepository]],
        send: Send | None = None,
    ) -> None:
        self._s = settings
        self._unit_of_work = unit_of_work
        self._send = send or self._send_smtp
        self.sent = 0

    def _send_smtp(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self._s.smtp_host, self._s.smtp_port, timeout=self._s.smtp_timeout_s) as smtp:
            if self._s.smtp_starttls:
                smtp.starttls()
            if self._s.smtp_username:
                smtp.login(self._s.smtp_username, self._s.smtp_password or "")
            smtp.send_message(message)

    def build(self, delivery: DueDelivery) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._s.smtp_from
        message["To"] = delivery.email
        message["Subject"] = delivery.subject
        message["Date"] = formatdate(localtime=False)
        # The same for every attempt at one delivery (make_msgid would add a time and a random
        # part), so a message resent after a crash is recognisable as a duplicate; the event id
        # makes it unique across deployments, whose delivery ids overlap.
        message["Message-ID"] = f"<{delivery.event_id}.{delivery.id}@passerelle.local>"
        message["X-Passerelle-Event-Id"] = str(delivery.event_id)
        message["X-Passerelle-Correlation-Id"] = str(delivery.correlation_id)
        message.set_content(delivery.body)
        message["Content-Language"] = delivery.language  # after set_content, which drops Content-* headers
        return message

    async def send_due(self) -> int:
        """Send what is due now; returns how many were sent."""
        sent = 0
        uow = self._unit_of_work()
        async with uow:
            for delivery in await uow.repo.due_deliveries(self._s.mail_batch_size):
                try:
                    await asyncio.to_thread(self._send, self.build(delivery))
                except (OSError, smtplib.SMTPException) as error:
                    failure = failed_attempt(delivery.attempts, self._s.mail_max_attempts)
                    await uow.repo.record_failed_attempt(delivery.id, failure, repr(error)[:1000])
                    log.warning(
                        "e-mail not sent",
                        delivery=delivery.id,
                        attempts=failure.attempts,
                        error=repr(error),
                        gave_up=failure.gave_up,
                    )
                else:
                    await uow.repo.mark_sent(delivery.id)
                    log.info(
                        "e-mail sent", delivery=delivery.id, event_id=str(delivery.event_id), language=delivery.language
                    )
                    sent += 1
        self.sent += sent
        return sent

    async def run(self) -> None:
        while True:
            try:
                if await self.send_due():
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - keep the loop alive through outages
                log.warning("mailer pass failed", error=repr(error))
            await asyncio.sleep(self._s.mail_poll_interval_s)
