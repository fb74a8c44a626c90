"""Sends queued e-mails through SMTP, at least once, with backoff; every attempt is logged.

Each e-mail is sent in a transaction of its own: its delivery row is locked (FOR UPDATE SKIP
LOCKED, so several replicas share the work), the message goes to the SMTP server, and the
outcome is recorded before the next one is taken. If the process dies after the SMTP server
accepted a message but before the row is marked sent, that one message is sent again (one
transaction for a whole batch re-sent the batch); its Message-ID is derived from the delivery,
so mail clients can recognise the duplicate.

Nothing one e-mail carries may stop the others: an error while building or sending it is
recorded on its row and the loop goes on (a line break in a subject once stopped every later
e-mail for ever). A refused e-mail is tried again with backoff until it is
``mail_give_up_after_s`` old, so an SMTP outage delays the e-mails without failing them.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate

from services.runtime.logs import get_logger
from services.runtime.uow import UnitOfWork

from .domain import DueDelivery, RetryRule, failed_attempt
from .repository import NotificationsRepository
from .settings import NotificationsSettings

log = get_logger(__name__)

Send = Callable[[EmailMessage], None]


def one_line(value: str) -> str:
    """A header value on one line: every run of white space (line breaks of any kind included:
    CR, LF, U+2028, U+0085 …) becomes one space, so no value can break or inject a header."""
    return " ".join(value.split())


class Mailer:
    """The background loop. ``unit_of_work`` gives one per e-mail (see the module docstring)."""

    def __init__(
        self,
        settings: NotificationsSettings,
        unit_of_work: Callable[[], UnitOfWork[NotificationsRepository]],
        send: Send | None = None,
    ) -> None:
        self._s = settings
        self._unit_of_work = unit_of_work
        self._send = send or self.send_smtp
        self._retry = RetryRule(settings.mail_backoff_max_s, settings.mail_give_up_after_s)

    def send_smtp(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self._s.smtp_host, self._s.smtp_port, timeout=self._s.smtp_timeout_s) as smtp:
            if self._s.smtp_starttls:
                # Without a context, starttls() encrypts but does not check who answers.
                smtp.starttls(context=ssl.create_default_context())
            if self._s.smtp_username:
                smtp.login(self._s.smtp_username, self._s.smtp_password or "")
            smtp.send_message(message)

    def build(self, delivery: DueDelivery) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._s.smtp_from
        message["To"] = one_line(delivery.email)
        message["Subject"] = one_line(delivery.subject)
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
        """Send what is due now, up to a batch, one transaction each; returns how many were sent."""
        sent = 0
        for _ in range(self._s.mail_batch_size):
            outcome = await self._send_next()
            if outcome is None:
                break
            sent += outcome
        return sent

    async def _send_next(self) -> int | None:
        """Send the oldest due e-mail: 1 if sent, 0 if refused (recorded), None if none was due."""
        uow = self._unit_of_work()
        async with uow:
            due = await uow.repo.due_deliveries(1)
            if not due:
                return None
            [delivery] = due
            try:
                await asyncio.to_thread(self._send, self.build(delivery))
            except Exception as error:  # noqa: BLE001 - one e-mail's failure is its own; see the module docstring
                queued_for_s = (datetime.now(UTC) - delivery.queued_at).total_seconds()
                failure = failed_attempt(delivery.attempts, queued_for_s, self._retry)
                await uow.repo.record_failed_attempt(delivery.id, failure, repr(error)[:1000])
                log.warning(
                    "e-mail not sent",
                    delivery=delivery.id,
                    attempts=failure.attempts,
                    error=repr(error),
                    gave_up=failure.gave_up,
                )
                return 0
            await uow.repo.mark_sent(delivery.id)
        log.info("e-mail sent", delivery=delivery.id, event_id=str(delivery.event_id), language=delivery.language)
        return 1

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
