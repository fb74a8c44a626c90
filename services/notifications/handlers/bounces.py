"""Bounces that come back later: a delivery status notification (RFC 3464) sent by a mail server
to the envelope sender of one of our e-mails, which names the message (``bounces`` builds one
bounce address per message, VERP). A mailbox poller or the mail relay posts it here
(``POST /bounces``). A hard bounce counts toward suspending the contact's e-mail, exactly as a 5xx
at submission does (``mailer``); a soft one (delayed, 4.x.x) is only published."""

from __future__ import annotations

from typing import Any

from passerelle_contracts.notifications_v1 import MessageBounced

from services.runtime.logs import get_logger
from services.runtime.uow import UnitOfWork

from ..bounces import parse_dsn
from ..mailer import BOUNCE_KEY, count_hard_bounce
from ..repository import NotificationsRepository
from ..settings import NotificationsSettings

log = get_logger(__name__)


async def record_dsn(
    uow: UnitOfWork[NotificationsRepository], settings: NotificationsSettings, raw: bytes
) -> dict[str, Any]:
    """Apply a DSN; returns what it held (bounces of our messages, hard or soft, and the others).
    A DSN reported twice changes nothing the second time (a message bounces once)."""
    counts = {"hard": 0, "soft": 0, "not_ours": 0, "already": 0}
    async with uow:
        key = await uow.repo.service_key(BOUNCE_KEY)
        for bounce in parse_dsn(raw, key):
            message = None if bounce.message_row is None else await uow.repo.message(bounce.message_row)
            if message is None or message["channel"] != "email":
                counts["not_ours"] += 1
                continue
            if message["status"] == "bounced":
                counts["already"] += 1
                continue
            event = MessageBounced(
                message_id=message["id"],
                partner=message["partner_code"],
                contact=message["contact_id"],
                channel="email",
                about=message["event_type"],
                about_event_id=None if message["event_id"] is None else str(message["event_id"]),
                hard=bounce.hard,
                status=bounce.status[:200],
            )
            uow.emit(event, f"message-{message['id']}")
            if not bounce.hard:
                counts["soft"] += 1
                continue
            counts["hard"] += 1
            await uow.repo.close_message(message["id"], "bounced", f"dsn {bounce.status}"[:1000], attempted=False)
            if message["contact_id"] is not None:
                await count_hard_bounce(
                    uow, settings, message["contact_id"], message["partner_code"], f"dsn {bounce.status}"
                )
    log.info("bounce reported", **counts)
    return counts
