"""Sends queued e-mails through SMTP, at least once, with backoff; every attempt is logged.

A delivery row is locked (FOR UPDATE SKIP LOCKED) while it is sent, so several replicas share
the work. If the process dies after the SMTP server accepted a message but before the row is
marked sent, the message is sent again: its Message-ID is derived from the delivery, so mail
clients can recognise the duplicate.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import asyncpg

from services.runtime.logs import get_logger

from .settings import NotificationsSettings

log = get_logger(__name__)

BACKOFF_MAX_S = 3600


class Mailer:
    def __init__(self, settings: NotificationsSettings, pool: asyncpg.Pool) -> None:
        self._s = settings
        self._pool = pool
        self.sent = 0

    def _send_sync(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self._s.smtp_host, self._s.smtp_port, timeout=self._s.smtp_timeout_s) as smtp:
            if self._s.smtp_starttls:
                smtp.starttls()
            if self._s.smtp_username:
                smtp.login(self._s.smtp_username, self._s.smtp_password or "")
            smtp.send_message(message)

    def build(self, row: asyncpg.Record) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._s.smtp_from
        message["To"] = row["email"]
        message["Subject"] = row["subject"]
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(idstring=f"delivery-{row['id']}", domain="passerelle.local")
        message["Content-Language"] = row["language"]
        message["X-Passerelle-Event-Id"] = str(row["event_id"])
        message["X-Passerelle-Correlation-Id"] = str(row["correlation_id"])
        message.set_content(row["body"])
        return message

    async def send_due(self) -> int:
        """Send what is due now; returns how many were sent."""
        sent = 0
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT id, email, language, subject, body, event_id, correlation_id, attempts FROM deliveries
                   WHERE status = 'pending' AND next_attempt_at <= now()
                   ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED""",
                self._s.mail_batch_size,
            )
            for row in rows:
                try:
                    await asyncio.to_thread(self._send_sync, self.build(row))
                except (OSError, smtplib.SMTPException) as error:
                    attempts = row["attempts"] + 1
                    failed = attempts >= self._s.mail_max_attempts
                    await conn.execute(
                        """UPDATE deliveries SET attempts = $2, last_error = $3, status = $4,
                               next_attempt_at = now() + make_interval(secs => $5) WHERE id = $1""",
                        row["id"],
                        attempts,
                        repr(error)[:1000],
                        "failed" if failed else "pending",
                        float(min(2**attempts, BACKOFF_MAX_S)),
                    )
                    log.warning("e-mail not sent", delivery=row["id"], attempts=attempts, error=repr(error), gave_up=failed)
                else:
                    await conn.execute(
                        "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = now() WHERE id = $1",
                        row["id"],
                    )
                    log.info("e-mail sent", delivery=row["id"], event_id=str(row["event_id"]), language=row["language"])
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
