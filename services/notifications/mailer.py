"""Sends queued messages (e-mails over SMTP, signed webhook posts), at least once, with backoff;
every attempt is logged and its outcome published on the service's own topic.

Each message is sent in a transaction of its own: its row is locked (FOR UPDATE SKIP LOCKED, so
several replicas share the work), the message goes out, and the outcome is recorded, with its
event in the outbox, before the next one is taken. If the process dies after the SMTP server or
the receiver accepted a message but before the row is marked sent, that one message is sent again
(one transaction for a whole batch re-sent the batch); its Message-ID (``webhook-id`` for a
webhook) is derived from the row, so mail clients and receivers recognise the duplicate.

Nothing one message carries may stop the others: an error while building or sending it is recorded
on its row and the loop goes on (a line break in a subject once stopped every later e-mail for
ever). What is refused for good is not tried again: an SMTP 5xx (a *hard bounce* when the mailbox
refused it: after ``hard_bounce_limit`` of them the contact's e-mail is suspended and the
Coordination told), a webhook's 410 Gone (the receiver asks to stop: the webhook is suspended) or
other 4xx. Anything else (4xx from SMTP, a 5xx or a timeout from a receiver, a connection refused)
is tried again with backoff until the message is ``mail_give_up_after_s`` old (72 h): an outage
of hours delays messages without failing them. A message given up or refused is a dead letter in
the delivery log, which an operator may send again (``POST /deliveries/{id}/retry``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate

import httpx
from passerelle_contracts.notifications_v1 import ChannelSuspended, MessageBounced, MessageFailed, MessageSent

from services.runtime.logs import get_logger
from services.runtime.uow import UnitOfWork

from . import bounces, links, webhooks
from .audience import COORDINATION
from .channels import Outcome, one_line
from .domain import DueMessage, NewMessage, RetryRule, failed_attempt
from .rendering import render_bounce_alert
from .repository import NotificationsRepository
from .settings import NotificationsSettings
from .smtp import SmtpServer, send_email

log = get_logger(__name__)

SendEmail = Callable[[EmailMessage, str, str], Awaitable[Outcome]]
"""(message, envelope sender, recipient) -> outcome."""
PostWebhook = Callable[[str, tuple[str, ...], str, bytes], Awaitable[Outcome]]
"""(url, secrets, message id, body) -> outcome."""
BOUNCE_KEY = "bounces"


HEADER_MAX_CHARS = 998  # RFC 5322: a header line is at most 998 characters


def header(value: str) -> str:
    """A header value on one line (``channels.one_line``: every run of white space, line breaks of
    any kind included, becomes one space), so no value can break or inject a header."""
    return one_line(value, HEADER_MAX_CHARS)


_SMTP_CODES = re.compile(r"\b([245]\d\d)\b(?:[ -]+([245]\.\d{1,3}\.\d{1,3}))?")


def reason(channel: str, outcome: Outcome) -> str:
    """The outcome as a code and a status, never free text: the server's reply, or our own, may
    quote the address (events and the Coordination's alerts name no person)."""
    detail = outcome.detail
    if channel == "email":
        found = _SMTP_CODES.search(detail)
        if found:
            return " ".join(p for p in ("smtp", found.group(1), found.group(2)) if p)
    elif re.fullmatch(r"HTTP \d{3}", detail):
        return detail.lower()
    return {"retry": "unreachable", "refused": "refused", "sent": "sent"}[outcome.kind]


def enhanced_status(outcome: Outcome) -> str:
    found = _SMTP_CODES.search(outcome.detail)
    if found is None:
        return "5.0.0" if outcome.hard_bounce else "4.0.0"
    return found.group(2) or f"{found.group(1)[0]}.0.0"


class Mailer:
    """The background loop. ``unit_of_work`` gives one per message (see the module docstring)."""

    def __init__(
        self,
        settings: NotificationsSettings,
        unit_of_work: Callable[[], UnitOfWork[NotificationsRepository]],
        send: SendEmail | None = None,
        post: PostWebhook | None = None,
    ) -> None:
        self._s = settings
        self._unit_of_work = unit_of_work
        self._send = send or self.send_smtp
        self._post = post or self.post_webhook
        self._client: httpx.AsyncClient | None = None
        self._keys: dict[str, bytes] = {}  # the deployment's keys, made once and never changed
        self._retry = RetryRule(settings.mail_backoff_max_s, settings.mail_give_up_after_s)
        local, _, domain = settings.bounce_address.partition("@")
        self._bounce_local, self._domain = local, domain or "passerelle.local"

    async def send_smtp(self, message: EmailMessage, envelope_from: str, recipient: str) -> Outcome:
        s = self._s
        server = SmtpServer(
            s.smtp_host, s.smtp_port, s.smtp_starttls, s.smtp_username, s.smtp_password, s.smtp_timeout_s
        )
        return await send_email(server, message, envelope_from=envelope_from, recipient=recipient)

    async def post_webhook(self, url: str, secrets: tuple[str, ...], message_id: str, body: bytes) -> Outcome:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._s.webhook_timeout_s, follow_redirects=False)
        return await webhooks.post_webhook(
            self._client, url, secrets, message_id, body, allow_loopback=self._s.webhook_allow_loopback
        )

    def message_id(self, m: DueMessage) -> str:
        """The same for every attempt at one message (make_msgid would add a time and a random
        part), so a message resent after a crash is recognisable as a duplicate; the event id or the
        digest's key makes it unique across deployments, whose message numbers overlap."""
        about = str(m.event_id) if m.event_id is not None else hashlib.sha256(m.topic_key.encode()).hexdigest()[:24]
        return f"<{about}.{m.id}@{self._domain}>"

    def build(self, m: DueMessage, unsubscribe_url: str | None) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._s.smtp_from
        message["To"] = header(m.address or "")
        message["Subject"] = header(m.subject)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = self.message_id(m)
        if m.event_id is not None:
            message["X-Passerelle-Event-Id"] = str(m.event_id)
        message["X-Passerelle-Correlation-Id"] = str(m.correlation_id)
        if unsubscribe_url is not None:  # RFC 8058: one click in the mail client, no login
            message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(m.body)
        message["Content-Language"] = m.language  # after set_content, which drops Content-* headers
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
        """Send the oldest due message: 1 if sent, 0 if not (recorded), None if none was due."""
        uow = self._unit_of_work()
        async with uow:
            due = await uow.repo.due_messages(1)
            if not due:
                return None
            [m] = due
            if m.suspended or m.address is None:
                why = "contact erased or inactive" if m.contact_id is None else "channel suspended or contact inactive"
                await uow.repo.close_message(m.id, "suppressed", why, attempted=False)
                return 0
            try:
                outcome = await self._attempt(uow, m)
            except Exception as error:  # noqa: BLE001 - one message's failure is its own; see the module docstring
                outcome = Outcome("retry", repr(error)[:300])
            await self._record(uow, m, outcome)
        if outcome.kind == "sent":
            log.info("message sent", message=m.id, channel=m.channel, event_id=str(m.event_id), language=m.language)
        return 1 if outcome.kind == "sent" else 0

    async def _attempt(self, uow: UnitOfWork[NotificationsRepository], m: DueMessage) -> Outcome:
        if m.channel == "webhook":
            if not m.webhook_secrets:
                return Outcome("refused", "no signing secret")
            return await self._post(m.address or "", m.webhook_secrets, f"msg_{m.id}", m.body.encode())
        unsubscribe_url = None
        if m.unsubscribe is not None and m.contact_id is not None:
            key = await self._key(uow, links.KEY_NAME)
            unsubscribe_url = links.unsubscribe_url(self._s.public_url, key, m.contact_id, m.unsubscribe)
        verp_key = await self._key(uow, BOUNCE_KEY)
        envelope_from = bounces.bounce_address(self._bounce_local, self._domain, m.id, verp_key)
        return await self._send(self.build(m, unsubscribe_url), envelope_from, m.address or "")

    async def _key(self, uow: UnitOfWork[NotificationsRepository], name: str) -> bytes:
        """A key of this deployment (``service_secrets``), read once: not two queries per e-mail."""
        if name not in self._keys:
            self._keys[name] = await uow.repo.service_key(name)
        return self._keys[name]

    async def _record(self, uow: UnitOfWork[NotificationsRepository], m: DueMessage, outcome: Outcome) -> None:
        common = {
            "message_id": m.id,
            "partner": m.partner_code,
            "contact": m.contact_id,
            "channel": m.channel,
            "about": m.event_type,
            "about_event_id": None if m.event_id is None else str(m.event_id),
        }
        subject = f"message-{m.id}"
        why = reason(m.channel, outcome)
        if outcome.kind == "sent":
            attempts = await uow.repo.mark_sent(m.id, m.address)
            uow.emit(MessageSent(**common, attempts=attempts), subject)
            return
        if outcome.kind == "retry":
            queued_for_s = (datetime.now(UTC) - m.queued_at).total_seconds()
            failure = failed_attempt(m.attempts, queued_for_s, self._retry)
            await uow.repo.record_failed_attempt(m.id, failure, outcome.detail[:1000])
            log.warning("message not sent", message=m.id, attempts=failure.attempts, error=why, gave_up=failure.gave_up)
            if failure.gave_up:
                hours = round(self._s.mail_give_up_after_s / 3600)
                uow.emit(
                    MessageFailed(**common, reason=f"gave up after {hours} h: {why}", attempts=failure.attempts),
                    subject,
                )
            return
        # Refused for good.
        if m.channel == "email" and outcome.hard_bounce:
            await uow.repo.close_message(m.id, "bounced", outcome.detail[:1000], attempted=True)
            uow.emit(MessageBounced(**common, hard=True, status=enhanced_status(outcome)), subject)
            if m.contact_id is not None:
                await count_hard_bounce(uow, self._s, m.contact_id, m.partner_code, why)
            return
        await uow.repo.close_message(m.id, "failed", outcome.detail[:1000], attempted=True)
        uow.emit(MessageFailed(**common, reason=why, attempts=m.attempts + 1), subject)
        log.warning("message refused", message=m.id, channel=m.channel, error=why)
        if m.channel == "webhook" and outcome.detail == "HTTP 410" and m.contact_id is not None:
            await suspend(uow, self._s, m.contact_id, m.partner_code, "webhook", "http 410", 0)

    async def run(self) -> None:
        try:
            while True:
                try:
                    if await self.send_due():
                        continue
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # noqa: BLE001 - keep the loop alive through outages
                    log.warning("dispatcher pass failed", error=repr(error))
                await asyncio.sleep(self._s.mail_poll_interval_s)
        finally:
            if self._client is not None:
                await self._client.aclose()


async def count_hard_bounce(
    uow: UnitOfWork[NotificationsRepository], settings: NotificationsSettings, contact: int, partner: str, why: str
) -> None:
    """One more hard bounce against the contact; at the limit its e-mail is suspended."""
    count = await uow.repo.record_hard_bounce(contact)
    if count >= settings.hard_bounce_limit:
        await suspend(uow, settings, contact, partner, "email", f"{count} hard bounces ({why})", count)


async def suspend(
    uow: UnitOfWork[NotificationsRepository],
    settings: NotificationsSettings,
    contact: int,
    partner: str,
    channel: str,
    why: str,
    count: int,
) -> None:
    """Suspend the contact's channel, publish it, and tell the Coordination (e-mail and feed)."""
    if not await uow.repo.suspend_contact(contact, why):
        return  # suspended already: told once
    uow.emit(
        ChannelSuspended(partner=partner, contact=contact, channel=channel, reason=why, hard_bounces=count),
        f"contact-{contact}",
    )
    log.warning("channel suspended", contact=contact, partner=partner, channel=channel, reason=why)
    alerts = []
    for c in await uow.repo.contacts_of([COORDINATION]):
        text = render_bounce_alert(partner, contact, count, c.language, settings.dashboard_url)
        for channel_ in ("email", "feed"):
            if channel_ not in c.channels or (channel_ == "email" and c.suspended):
                continue
            alerts.append(
                NewMessage(
                    contact_id=c.contact_id,
                    partner_code=c.partner_code,
                    channel=channel_,
                    topic_key=f"suspended:{contact}:{datetime.now(UTC):%Y%m%dT%H%M%S}",
                    event_id=None,
                    event_type="BounceAlert",
                    correlation_id=uow.correlation_id,
                    address=c.address if channel_ == "email" else None,
                    language=c.language,
                    subject=text.subject,
                    body=text.body if channel_ == "email" else text.line,
                    link=text.link,
                )
            )
    await uow.repo.add_messages(alerts)
