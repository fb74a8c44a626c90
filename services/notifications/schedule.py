"""What the service sends on its own clock: daily and weekly digests, the reminder the day before a
meeting, and the digest of what changed since the last meeting, sent before it.

Why slots and keys
------------------
A digest belongs to a *slot*: the last daily (or weekly) sending time at or before now, in Brussels
(``digest_time``, the ``weekly_digest_weekday``). Its message's key names the slot
(``digest:daily:2026-11-30``), and the table allows one message per contact, channel and key, so
two replicas, a restart or a pass that runs twice build it once; a service that was down at 07:00
builds it when it comes back, in the same slot. A digest takes the contact's waiting entries (the
events routed to it, ``handlers.deliveries``) in the transaction that writes its message: an event
consumed while the digest is built waits for the next one rather than being lost, and every event
an immediate subscriber got is in some digest of a digest subscriber.

A meeting's reminder and pre-meeting digest are marked sent on the meeting's row (locked with SKIP
LOCKED while they are made); a new date clears the marks, so they are sent again before it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

from passerelle_contracts.common import Language

from services.runtime.logs import get_logger
from services.runtime.uow import UnitOfWork

from . import audience, links
from .domain import MEMBER_ROLE, Candidate, NewMessage
from .handlers.deliveries import Links
from .rendering import DigestItem, Rendered, render_digest, render_footer, render_meeting_reminder
from .repository import NotificationsRepository
from .settings import NotificationsSettings

log = get_logger(__name__)
Uow = UnitOfWork[NotificationsRepository]

DIGEST_REASON: dict[str, dict[Language, str]] = {
    "daily": {
        "fr": "Vous recevez ce résumé quotidien parce que vous avez choisi de suivre ces événements une fois par jour.",
        "nl": "U ontvangt dit dagelijkse overzicht omdat u ervoor koos deze gebeurtenissen eenmaal per dag te volgen.",
    },
    "weekly": {
        "fr": "Vous recevez ce résumé hebdomadaire parce que vous avez choisi de suivre ces événements une fois par semaine.",
        "nl": "U ontvangt dit wekelijkse overzicht omdat u ervoor koos deze gebeurtenissen eenmaal per week te volgen.",
    },
    "meeting": {
        "fr": "Vous recevez ce résumé parce que votre organisation ({partner}) est membre de cette instance.",
        "nl": "U ontvangt dit overzicht omdat uw organisatie ({partner}) lid is van dit orgaan.",
    },
}
MEETING_REMINDER_REASON: dict[Language, str] = {
    "fr": "Vous recevez ce rappel parce que votre organisation ({partner}) est convoquée à cette réunion.",
    "nl": "U ontvangt deze herinnering omdat uw organisatie ({partner}) voor deze vergadering is uitgenodigd.",
}
PAGE = 200  # contacts whose digest is built per query


def slot(now: datetime, frequency: Literal["daily", "weekly"], at: time, weekday: int) -> datetime:
    """The last sending time of the frequency at or before ``now``: ``at`` o'clock in Brussels,
    every day or on ``weekday`` (0 is Monday)."""
    local = now.astimezone(audience.BRUSSELS)
    day = local.date()
    if local.time() < at:
        day -= timedelta(days=1)
    if frequency == "weekly":
        day -= timedelta(days=(day.weekday() - weekday) % 7)
    # Combined on the day found, so that a day of 23 or 25 hours (daylight saving) keeps the hour.
    return datetime.combine(day, at, tzinfo=audience.BRUSSELS)


def digest_items(rows: Sequence[Mapping[str, Any]]) -> list[DigestItem]:
    return [DigestItem(r["event_id"], r["event_type"], r["occurred_at"], r["data"]) for r in rows]


class Scheduler:
    """The scheduled pass (``run_once``), run every ``schedule_interval_s`` by the runtime."""

    def __init__(self, settings: NotificationsSettings, unit_of_work: Callable[[], Uow]) -> None:
        self._s = settings
        self._unit_of_work = unit_of_work
        self.links = Links(settings.public_url, settings.dashboard_url)

    async def run_once(self, now: datetime | None = None) -> dict[str, int]:
        """One pass: every digest and meeting message due at ``now``; returns how many of each."""
        now = now or datetime.now(UTC)
        async with self._unit_of_work() as uow:
            key = await uow.repo.service_key(links.KEY_NAME)
        done = {
            "daily": await self.digests("daily", now, key),
            "weekly": await self.digests("weekly", now, key),
            "reminders": await self.meetings("reminder", now, key),
            "meeting_digests": await self.meetings("digest", now, key),
        }
        async with self._unit_of_work() as uow:
            await uow.repo.prune_items(now - timedelta(days=self._s.digest_item_retention_days))
        if any(done.values()):
            log.info("scheduled messages made", **done)
        return done

    # -- daily and weekly digests ------------------------------------------------------------------
    async def digests(self, frequency: Literal["daily", "weekly"], now: datetime, key: bytes) -> int:
        at = slot(now, frequency, self._s.digest_time, self._s.weekly_digest_weekday)
        topic_key = f"digest:{frequency}:{at.date().isoformat()}"
        made, after = 0, 0
        while contacts := await self._unit_of_work().repo.contacts_awaiting_digest(frequency, at, PAGE, after):
            for contact in contacts:
                try:
                    made += await self.digest_of(contact, frequency, topic_key, at, now, key)
                except Exception as error:  # noqa: BLE001 - one contact's digest never stops the others'
                    log.warning("digest not built", contact=contact, frequency=frequency, error=repr(error))
            after = contacts[-1]
        return made

    async def digest_of(
        self,
        contact: int,
        frequency: Literal["daily", "weekly"],
        topic_key: str,
        at: datetime,
        now: datetime,
        key: bytes,
    ) -> int:
        """Build one contact's digest of the slot ``at``, in a transaction of its own, with the
        entries of the events consumed before it (the later ones wait for the next slot); 0 if
        it has one already, or nothing waits."""
        async with self._unit_of_work() as uow:
            if await uow.repo.contact(contact, lock=True) is None or await uow.repo.has_message(
                contact, "email", topic_key
            ):
                return 0
            found = await uow.repo.contacts_of([], kinds=["person", "mailbox"], contact=contact)
            rows = await uow.repo.take_digest_entries(contact, frequency, at)
            if not rows or not found or found[0].suspended:
                return 0  # nothing to say, or nowhere to say it (the feed showed each item)
            [c] = found
            items = digest_items(rows)
            text = render_digest(
                items,
                c.language,
                self._s.dashboard_url,
                kind=frequency,
                since=min(i.occurred_at for i in items),
                until=at,
            )
            reason = DIGEST_REASON[frequency][c.language]
            await uow.repo.add_messages(
                [self.email(c, text, topic_key, "Digest", audience.DIGEST_TOPICS[frequency], now, reason, key)]
            )
        return 1

    # -- meetings ------------------------------------------------------------------------------------
    async def meetings(self, what: Literal["reminder", "digest"], now: datetime, key: bytes) -> int:
        """Each meeting due in a transaction of its own; one that fails is left for the next pass
        and never stops the others."""
        lead = self._s.meeting_reminder_lead_s if what == "reminder" else self._s.pre_meeting_digest_lead_s
        made, failed = 0, set[str]()
        while True:
            meeting: Mapping[str, Any] | None = None
            try:
                async with self._unit_of_work() as uow:
                    due = await uow.repo.meetings_due(what, now, lead, limit=1, leaving_out=failed)
                    if not due:
                        return made
                    [meeting] = due
                    count = await self.meeting_messages(uow, what, meeting, now, key)
                    await uow.repo.mark_meeting(meeting["meeting_id"], what)
                made += count
            except Exception as error:
                if meeting is None:
                    raise  # not this meeting's doing (the database): the pass fails, the next one tries
                failed.add(meeting["meeting_id"])
                log.warning("meeting messages not made", meeting=meeting["meeting_id"], what=what, error=repr(error))

    async def meeting_messages(self, uow: Uow, what: str, meeting: Mapping[str, Any], now: datetime, key: bytes) -> int:
        data: dict[str, Any] = dict(meeting["data"])
        kind = meeting["kind"]
        members = await uow.repo.members(MEMBER_ROLE[kind])
        starts = meeting["starts_at"].isoformat()
        messages: list[NewMessage] = []
        if what == "reminder":
            topic_key = f"reminder:{meeting['meeting_id']}:{starts}"
            invited = {c for c in data.get("invited", []) if isinstance(c, str)}
            for c in await uow.repo.contacts_of(set(members) | invited):
                text = render_meeting_reminder(data, c.language, self._s.dashboard_url)
                reason = MEETING_REMINDER_REASON[c.language].format(partner=c.partner_code)
                if "email" in c.channels and not c.suspended:
                    messages.append(
                        self.email(c, text, topic_key, "MeetingReminder", None, now, reason, key, critical=True)
                    )
                if "feed" in c.channels:
                    messages.append(feed_message(c, text, topic_key, "MeetingReminder", critical=True))
        else:
            topic_key = f"digest:meeting:{meeting['meeting_id']}:{starts}"
            since = await uow.repo.last_meeting_before(kind, meeting["starts_at"]) or now - timedelta(days=90)
            items = digest_items(await uow.repo.items_between(since, now, 20_000, leaving_out=audience.PRIVATE))
            rendered: dict[Language, Rendered] = {}
            for c in await uow.repo.contacts_of(members):
                if c.suspended or c.preferences.get((audience.DIGEST_TOPICS["meeting"], "email")) == "off":
                    continue
                if c.language not in rendered:
                    rendered[c.language] = render_digest(
                        items, c.language, self._s.dashboard_url, kind="meeting", since=since, until=now, meeting=data
                    )
                reason = DIGEST_REASON["meeting"][c.language].format(partner=c.partner_code)
                messages.append(
                    self.email(
                        c,
                        rendered[c.language],
                        topic_key,
                        "Digest",
                        audience.DIGEST_TOPICS["meeting"],
                        now,
                        reason,
                        key,
                    )
                )
        await uow.repo.add_messages(messages)
        return len(messages)

    # -- building messages ---------------------------------------------------------------------------
    def email(
        self,
        c: Candidate,
        text: Rendered,
        topic_key: str,
        event_type: str,
        unsubscribe: str | None,
        now: datetime,
        reason: str,
        key: bytes,
        *,
        critical: bool = False,
    ) -> NewMessage:
        footer = render_footer(
            c.language,
            reason=reason,
            unsubscribe_url=None
            if unsubscribe is None
            else links.unsubscribe_url(self._s.public_url, key, c.contact_id, unsubscribe),
            preferences_url=self.links.preferences_url,
        )
        return NewMessage(
            contact_id=c.contact_id,
            partner_code=c.partner_code,
            channel="email",
            topic_key=topic_key,
            event_id=None,
            event_type=event_type,
            correlation_id=correlation_of(topic_key),
            address=c.address,
            language=c.language,
            subject=text.subject,
            body=f"{text.body.rstrip()}\n\n{footer}",
            link=text.link,
            critical=critical,
            unsubscribe=unsubscribe,
            not_before=None if critical else audience.quiet_hours_end(now, c.quiet_from, c.quiet_until),
        )


def correlation_of(topic_key: str) -> uuid.UUID:
    """A scheduled message's correlation id: the same for every message of one digest or reminder,
    so the log groups them as one flow."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"passerelle:notifications:{topic_key}")


def feed_message(c: Candidate, text: Rendered, topic_key: str, event_type: str, *, critical: bool) -> NewMessage:
    return NewMessage(
        contact_id=c.contact_id,
        partner_code=c.partner_code,
        channel="feed",
        topic_key=topic_key,
        event_id=None,
        event_type=event_type,
        correlation_id=correlation_of(topic_key),
        address=None,
        language=c.language,
        subject=text.subject,
        body=text.line,
        link=text.link,
        critical=critical,
    )
