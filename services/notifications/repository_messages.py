"""The notifications service's SQL about messages (queued, sent, the delivery log, the feed), the
digests' projection of the events consumed, and what the service learnt of the plan (actions,
meetings, grant holders). A mixin of ``NotificationsRepository``."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import asyncpg
from passerelle_contracts import Envelope

from services.runtime.db import Executor

from .domain import Candidate, Delivery, DeliveryStatus, DueMessage, FailedAttempt, FeedItem, NewMessage

# Whether a subscription's filters let an event through (``audience.matches``, in SQL): every
# filter key must share a value with the event's facets ($2, {"key": ["value", …]}).
_FILTERS_MATCH = """NOT EXISTS (SELECT 1 FROM jsonb_object_keys(s.filters) k
                                WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(s.filters -> k) v
                                                  WHERE coalesce($2::jsonb -> k, '[]') ? v))"""


class MessagesRepository:
    db: Executor

    # -- who may hear of an event --------------------------------------------------------------
    async def audience(self, event_type: str, facets: Mapping[str, list[str]], own: Iterable[str]) -> list[Candidate]:
        """The active contacts of active partners that are subscribed to ``event_type`` (their
        filters matching ``facets``) or belong to an organisation the event is about (``own``),
        each with its preferences for the event's topic and for every topic. One query, however
        many contacts: the fan-out of one event to 500 subscribers is one round trip."""
        rows = await self.db.fetch(
            f"""SELECT c.id, c.partner_code, c.kind, coalesce(c.email, c.webhook_url) AS address, c.language,
                       c.channels, c.quiet_from, c.quiet_until, c.suspended_at IS NOT NULL AS suspended,
                       EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = c.id AND s.event_type = $1
                               AND {_FILTERS_MATCH}) AS subscribed,
                       coalesce((SELECT array_agg(pr.topic || ' ' || pr.channel || ' ' || pr.frequency)
                                 FROM preferences pr WHERE pr.contact_id = c.id
                                 AND pr.topic IN ($1, '*', 'digest:daily', 'digest:weekly')), '{{}}') AS preferences
                FROM contacts c JOIN partners p ON p.code = c.partner_code
                WHERE c.active AND p.active
                  AND (c.partner_code = ANY($3::text[])
                       OR EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = c.id AND s.event_type = $1
                                  AND {_FILTERS_MATCH}))
                ORDER BY c.id""",  # noqa: S608 - a constant condition
            event_type,
            dict(facets),
            sorted(set(own)),
        )
        return [_candidate(r) for r in rows]

    async def contacts_of(
        self, partners: Iterable[str], *, kinds: Sequence[str] = ("person", "mailbox"), contact: int | None = None
    ) -> list[Candidate]:
        """The active contacts of the given active partners (or the one ``contact``), for messages
        the service makes itself (a digest, a reminder, an alert to the Coordination)."""
        rows = await self.db.fetch(
            """SELECT c.id, c.partner_code, c.kind, coalesce(c.email, c.webhook_url) AS address, c.language,
                      c.channels, c.quiet_from, c.quiet_until, c.suspended_at IS NOT NULL AS suspended,
                      coalesce((SELECT array_agg(pr.topic || ' ' || pr.channel || ' ' || pr.frequency)
                                FROM preferences pr WHERE pr.contact_id = c.id), '{}') AS preferences
               FROM contacts c JOIN partners p ON p.code = c.partner_code
               WHERE c.active AND p.active AND c.kind = ANY($2::text[])
                 AND CASE WHEN $3::bigint IS NULL THEN c.partner_code = ANY($1::text[]) ELSE c.id = $3 END
               ORDER BY c.id""",
            sorted(set(partners)),
            list(kinds),
            contact,
        )
        return [_candidate(r) for r in rows]

    # -- messages ------------------------------------------------------------------------------
    async def add_messages(self, messages: Sequence[NewMessage]) -> int:
        """Queue messages, one per (contact, channel, thing told): a redelivered event adds nothing.
        Feed messages are delivered by being written. Returns how many were new."""
        if not messages:
            return 0
        added = await self.db.fetchval(
            """WITH new AS (
                   INSERT INTO messages (contact_id, partner_code, channel, topic_key, event_id, event_type,
                                         correlation_id, address, language, subject, body, link, critical, unsubscribe,
                                         status, sent_at, next_attempt_at)
                   SELECT m.contact_id, m.partner_code, m.channel, m.topic_key, m.event_id, m.event_type,
                          m.correlation_id, m.address, m.language, m.subject, m.body, m.link, m.critical, m.unsubscribe,
                          CASE WHEN m.channel = 'feed' THEN 'sent' ELSE 'pending' END,
                          CASE WHEN m.channel = 'feed' THEN now() END,
                          coalesce(m.not_before, now())
                   FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::text[], $7::uuid[],
                               $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::boolean[],
                               $14::text[], $15::timestamptz[])
                        AS m(contact_id, partner_code, channel, topic_key, event_id, event_type, correlation_id,
                             address, language, subject, body, link, critical, unsubscribe, not_before)
                   ON CONFLICT (contact_id, channel, topic_key) DO NOTHING
                   RETURNING 1)
               SELECT count(*) FROM new""",
            [m.contact_id for m in messages],
            [m.partner_code for m in messages],
            [m.channel for m in messages],
            [m.topic_key for m in messages],
            [m.event_id for m in messages],
            [m.event_type for m in messages],
            [m.correlation_id for m in messages],
            [m.address for m in messages],
            [m.language for m in messages],
            [m.subject for m in messages],
            [m.body for m in messages],
            [m.link for m in messages],
            [m.critical for m in messages],
            [m.unsubscribe for m in messages],
            [m.not_before for m in messages],
        )
        return int(added)

    async def has_message(self, contact: int, channel: str, topic_key: str) -> bool:
        return bool(
            await self.db.fetchval(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE contact_id = $1 AND channel = $2 AND topic_key = $3)",
                contact,
                channel,
                topic_key,
            )
        )

    async def deliveries(
        self,
        partner: str | None,
        status: DeliveryStatus | None,
        limit: int,
        *,
        channel: str | None = None,
        contact: int | None = None,
        before: int | None = None,
    ) -> list[Delivery]:
        """The delivery log, newest first (``before``: the page after the message numbered so)."""
        rows = await self.db.fetch(
            """SELECT id, partner_code, contact_id, channel, event_id, event_type, correlation_id, address, language,
                      subject, critical, status, attempts, last_error, next_attempt_at, created_at, sent_at
               FROM messages
               WHERE ($1::text IS NULL OR partner_code = $1) AND ($2::text IS NULL OR status = $2)
                 AND ($4::text IS NULL OR channel = $4) AND ($5::bigint IS NULL OR contact_id = $5)
                 AND ($6::bigint IS NULL OR id < $6)
               ORDER BY id DESC LIMIT $3""",
            partner,
            status,
            limit,
            channel,
            contact,
            before,
        )
        return [Delivery(**dict(r)) for r in rows]

    async def feed(
        self, contact: int, limit: int, *, unread: bool = False, before: int | None = None
    ) -> list[FeedItem]:
        rows = await self.db.fetch(
            """SELECT id, event_type, event_id, subject, link, critical, created_at, read_at FROM messages
               WHERE contact_id = $1 AND channel = 'feed' AND (NOT $3 OR read_at IS NULL)
                 AND ($4::bigint IS NULL OR id < $4)
               ORDER BY id DESC LIMIT $2""",
            contact,
            limit,
            unread,
            before,
        )
        return [FeedItem(**dict(r)) for r in rows]

    async def mark_read(self, contact: int, ids: Sequence[int]) -> int:
        done = await self.db.execute(
            """UPDATE messages SET read_at = now()
               WHERE contact_id = $1 AND channel = 'feed' AND id = ANY($2::bigint[]) AND read_at IS NULL""",
            contact,
            list(ids),
        )
        return int(done.split()[-1])

    async def deliveries_by_status(self) -> dict[str, int]:
        """How many messages are pending, sent, failed … (a status with none is left out)."""
        rows = await self.db.fetch("SELECT status, count(*) AS n FROM messages GROUP BY status ORDER BY status")
        return {r["status"]: r["n"] for r in rows}

    async def oldest_pending_age_s(self) -> float:
        """Seconds the oldest message due now has waited (0 when none): the queue's age, which grows
        through an SMTP outage while the counts alone may not move. Messages held by quiet hours
        are not late."""
        age = await self.db.fetchval(
            """SELECT extract(epoch FROM now() - min(CASE WHEN attempts = 0 THEN next_attempt_at ELSE created_at END))
               FROM messages WHERE status = 'pending' AND (attempts > 0 OR next_attempt_at <= now())"""
        )
        return max(float(age), 0.0) if age is not None else 0.0

    async def started_at(self) -> datetime:
        """When this service first started: what happened before is history, not news."""
        started: datetime = await self.db.fetchval("SELECT started_at FROM mailer_start")
        return started

    async def due_messages(self, limit: int) -> list[DueMessage]:
        """The e-mails and webhook posts due now, oldest first, locked for this transaction. Rows
        another dispatcher holds are skipped (SKIP LOCKED), so several replicas share the work."""
        rows = await self.db.fetch(
            # The contact's address now, not the one it had when the message was queued: a corrected
            # address (which lifts a suspension) is the one a pending or replayed message goes to.
            """SELECT m.id, m.contact_id, m.partner_code, m.channel, m.topic_key, m.event_id, m.event_type,
                      m.correlation_id, CASE WHEN c.id IS NULL THEN m.address ELSE coalesce(c.email, c.webhook_url) END
                          AS address, m.language, m.subject, m.body, m.unsubscribe, m.attempts,
                      m.created_at AS queued_at,
                      (c.id IS NULL OR c.suspended_at IS NOT NULL OR NOT c.active) AS suspended,
                      coalesce((SELECT array_agg(w.secret ORDER BY w.created_at DESC) FROM webhook_secrets w
                                WHERE w.contact_id = m.contact_id AND (w.expires_at IS NULL OR w.expires_at > now())),
                               '{}') AS webhook_secrets
               FROM messages m LEFT JOIN contacts c ON c.id = m.contact_id
               WHERE m.status = 'pending' AND m.next_attempt_at <= now()
               ORDER BY m.next_attempt_at, m.id LIMIT $1 FOR UPDATE OF m SKIP LOCKED""",
            limit,
        )
        return [DueMessage(**{**dict(r), "webhook_secrets": tuple(r["webhook_secrets"])}) for r in rows]

    async def mark_sent(self, message: int, address: str | None) -> int:
        """Sent to ``address`` (the log keeps where it went)."""
        attempts: int = await self.db.fetchval(
            """UPDATE messages SET status = 'sent', attempts = attempts + 1, sent_at = now(), last_error = NULL,
                   address = $2
               WHERE id = $1 RETURNING attempts""",
            message,
            address,
        )
        return attempts

    async def record_failed_attempt(self, message: int, failure: FailedAttempt, error: str) -> None:
        """Keep the error and try again after the backoff, or mark the message failed."""
        await self.db.execute(
            """UPDATE messages SET attempts = $2, last_error = $3, status = $4,
                   next_attempt_at = now() + make_interval(secs => $5) WHERE id = $1""",
            message,
            failure.attempts,
            error,
            failure.status,
            failure.retry_in_s,
        )

    async def close_message(self, message: int, status: DeliveryStatus, error: str, *, attempted: bool) -> None:
        """A message that will not be sent: refused for good, bounced, or suppressed."""
        await self.db.execute(
            """UPDATE messages SET status = $2, last_error = $3, attempts = attempts + $4::int WHERE id = $1""",
            message,
            status,
            error,
            1 if attempted else 0,
        )

    async def retry_message(self, message: int) -> bool:
        """An operator sends a failed or bounced message again (the dead letter replayed)."""
        done = await self.db.execute(
            """UPDATE messages SET status = 'pending', next_attempt_at = now(), last_error = NULL, attempts = 0,
                   created_at = now()  -- the retry period counts from the replay, not from the first queueing
               WHERE id = $1 AND status IN ('failed', 'bounced', 'suppressed') AND contact_id IS NOT NULL""",
            message,
        )
        return done.endswith(" 1")

    async def message(self, message: int) -> dict[str, Any] | None:
        """A message's contact, partner, channel, subject and state: what a bounce refers to."""
        row = await self.db.fetchrow(
            """SELECT id, contact_id, partner_code, channel, event_type, event_id, status, attempts FROM messages
               WHERE id = $1""",
            message,
        )
        return None if row is None else dict(row)

    async def record_hard_bounce(self, contact: int) -> int:
        """Count a hard bounce against the contact; returns its count."""
        count: int | None = await self.db.fetchval(
            "UPDATE contacts SET hard_bounces = hard_bounces + 1 WHERE id = $1 RETURNING hard_bounces", contact
        )
        return count or 0

    async def suspend_contact(self, contact: int, reason: str) -> bool:
        """Suspend the contact's sending channel; false if it was suspended already."""
        done = await self.db.execute(
            """UPDATE contacts SET suspended_at = now(), suspended_reason = $2
               WHERE id = $1 AND suspended_at IS NULL""",
            contact,
            reason,
        )
        return done.endswith(" 1")

    # -- what digests are made of --------------------------------------------------------------
    async def record_item(self, envelope: Envelope, facets: Mapping[str, list[str]]) -> int:
        """Keep the event for digests (once); returns its sequence number."""
        seq: int | None = await self.db.fetchval(
            """INSERT INTO digest_items (event_id, event_type, occurred_at, data, facets) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (event_id) DO NOTHING RETURNING seq""",
            envelope.event_id,
            envelope.event_type,
            envelope.occurred_at,
            envelope.data,
            dict(facets),
        )
        if seq is None:
            seq = await self.db.fetchval("SELECT seq FROM digest_items WHERE event_id = $1", envelope.event_id)
        assert seq is not None
        return seq

    async def add_digest_entries(self, entries: Sequence[tuple[int, str, int]]) -> None:
        """(contact, frequency, item) : the item waits for the contact's next digest of that frequency."""
        if entries:
            await self.db.execute(
                """INSERT INTO digest_entries (contact_id, frequency, item_seq)
                   SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING""",
                [e[0] for e in entries],
                [e[1] for e in entries],
                [e[2] for e in entries],
            )

    async def contacts_awaiting_digest(self, frequency: str, before: datetime, limit: int, after: int = 0) -> list[int]:
        """The contacts with entries of events consumed before ``before`` waiting for a digest."""
        rows = await self.db.fetch(
            """SELECT DISTINCT e.contact_id FROM digest_entries e JOIN digest_items i ON i.seq = e.item_seq
               WHERE e.frequency = $1 AND i.consumed_at < $2 AND e.contact_id > $4
               ORDER BY e.contact_id LIMIT $3""",
            frequency,
            before,
            limit,
            after,
        )
        return [r["contact_id"] for r in rows]

    async def take_digest_entries(self, contact: int, frequency: str, before: datetime) -> list[dict[str, Any]]:
        """The items waiting for the contact's digest, of the events consumed before ``before``
        (the digest's slot), oldest first, removed (in this transaction: if the digest's message is
        not committed, they wait again)."""
        rows = await self.db.fetch(
            """WITH taken AS (
                   DELETE FROM digest_entries e USING digest_items i
                   WHERE e.contact_id = $1 AND e.frequency = $2 AND i.seq = e.item_seq AND i.consumed_at < $3
                   RETURNING e.item_seq)
               SELECT i.seq, i.event_id, i.event_type, i.occurred_at, i.data FROM digest_items i
               JOIN taken t ON t.item_seq = i.seq ORDER BY i.seq""",
            contact,
            frequency,
            before,
        )
        return [dict(r) for r in rows]

    async def items_between(
        self, since: datetime, until: datetime, limit: int, *, leaving_out: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        """The events consumed between two moments, oldest first, but those of the types
        ``leaving_out`` (a pre-meeting digest goes to every member: no private event in it)."""
        rows = await self.db.fetch(
            """SELECT seq, event_id, event_type, occurred_at, data FROM digest_items
               WHERE occurred_at > $1 AND occurred_at <= $2 AND event_type <> ALL($4::text[])
               ORDER BY seq LIMIT $3""",
            since,
            until,
            limit,
            sorted(set(leaving_out)),
        )
        return [dict(r) for r in rows]

    async def prune_items(self, before: datetime) -> int:
        done = await self.db.execute(
            """DELETE FROM digest_items i WHERE i.consumed_at < $1
               AND NOT EXISTS (SELECT 1 FROM digest_entries e WHERE e.item_seq = i.seq)""",
            before,
        )
        return int(done.split()[-1])

    # -- what the service learnt of the plan ---------------------------------------------------
    async def save_plan_action(self, number: int, axis: int, chantier: int, lead: str, partners: list[str]) -> None:
        await self.db.execute(
            """INSERT INTO plan_actions (action_number, axis, chantier, lead, partners) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (action_number) DO UPDATE SET axis = EXCLUDED.axis, chantier = EXCLUDED.chantier,
                   lead = EXCLUDED.lead, partners = EXCLUDED.partners""",
            number,
            axis,
            chantier,
            lead,
            partners,
        )

    async def change_plan_action_lead(self, number: int, lead: str) -> None:
        await self.db.execute("UPDATE plan_actions SET lead = $2 WHERE action_number = $1", number, lead)

    async def plan_action(self, number: int) -> dict[str, Any] | None:
        row = await self.db.fetchrow(
            "SELECT action_number, axis, chantier, lead, partners FROM plan_actions WHERE action_number = $1", number
        )
        return None if row is None else dict(row)

    async def save_grant_holder(self, grant_id: str, beneficiary: str) -> None:
        await self.db.execute(
            """INSERT INTO grant_holders (grant_id, beneficiary) VALUES ($1, $2)
               ON CONFLICT (grant_id) DO UPDATE SET beneficiary = EXCLUDED.beneficiary""",
            grant_id,
            beneficiary,
        )

    async def grant_holder(self, grant_id: str) -> str | None:
        found: str | None = await self.db.fetchval(
            "SELECT beneficiary FROM grant_holders WHERE grant_id = $1", grant_id
        )
        return found

    async def save_meeting(
        self,
        meeting_id: str,
        kind: str,
        starts_at: datetime | None,
        data: Mapping[str, Any],
        status: str,
        held_on: date | None = None,
    ) -> None:
        """The meeting as last announced; a new date forgets the reminder and digest already sent
        for the old one (they are sent again before the new date)."""
        await self.db.execute(
            """INSERT INTO meetings (meeting_id, kind, starts_at, data, status, held_on)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (meeting_id) DO UPDATE SET kind = EXCLUDED.kind,
                   starts_at = coalesce(EXCLUDED.starts_at, meetings.starts_at),
                   data = CASE WHEN EXCLUDED.status = 'held' THEN meetings.data ELSE EXCLUDED.data END,
                   status = EXCLUDED.status, held_on = coalesce(EXCLUDED.held_on, meetings.held_on),
                   reminded_at = CASE WHEN EXCLUDED.starts_at IS DISTINCT FROM meetings.starts_at
                                      AND EXCLUDED.status = 'scheduled' THEN NULL ELSE meetings.reminded_at END,
                   digest_sent_at = CASE WHEN EXCLUDED.starts_at IS DISTINCT FROM meetings.starts_at
                                         AND EXCLUDED.status = 'scheduled' THEN NULL ELSE meetings.digest_sent_at END""",
            meeting_id,
            kind,
            starts_at,
            dict(data),
            status,
            held_on,
        )

    async def meetings_due(
        self, what: str, now: datetime, lead_s: float, *, limit: int = 100, leaving_out: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        """Scheduled meetings starting within ``lead_s`` whose reminder (``what`` = 'reminder') or
        pre-meeting digest ('digest') was not sent yet, soonest first, but ``leaving_out``; locked
        (SKIP LOCKED: another replica takes the next) for this transaction."""
        column = {"reminder": "reminded_at", "digest": "digest_sent_at"}[what]
        rows = await self.db.fetch(
            f"""SELECT meeting_id, kind, starts_at, data FROM meetings
                WHERE status = 'scheduled' AND {column} IS NULL AND starts_at > $1
                  AND starts_at <= $1 + make_interval(secs => $2) AND meeting_id <> ALL($4::text[])
                ORDER BY starts_at LIMIT $3 FOR UPDATE SKIP LOCKED""",  # noqa: S608 - one of two column names
            now,
            lead_s,
            limit,
            sorted(set(leaving_out)),
        )
        return [dict(r) for r in rows]

    async def mark_meeting(self, meeting_id: str, what: str) -> None:
        column = {"reminder": "reminded_at", "digest": "digest_sent_at"}[what]
        await self.db.execute(
            f"UPDATE meetings SET {column} = now() WHERE meeting_id = $1",  # noqa: S608 - one of two column names
            meeting_id,
        )

    async def last_meeting_before(self, kind: str, before: datetime) -> datetime | None:
        """When the last meeting of the kind held before ``before`` took place (its start, or the
        day it was held): a pre-meeting digest says what changed since."""
        found: datetime | None = await self.db.fetchval(
            """SELECT max(coalesce(starts_at, held_on::timestamptz)) FROM meetings
               WHERE kind = $1 AND status = 'held' AND coalesce(starts_at, held_on::timestamptz) < $2""",
            kind,
            before,
        )
        return found

    # -- the service's own keys ------------------------------------------------------------------
    async def service_key(self, name: str) -> bytes:
        """A random key of this deployment, made on first use and kept (see migration 0004)."""
        await self.db.execute(
            "INSERT INTO service_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            name,
            secrets.token_bytes(32),
        )
        key: bytes = await self.db.fetchval("SELECT value FROM service_secrets WHERE name = $1", name)
        return key


def _candidate(r: asyncpg.Record) -> Candidate:
    return Candidate(
        contact_id=r["id"],
        partner_code=r["partner_code"],
        kind=r["kind"],
        address=r["address"],
        language=r["language"],
        channels=tuple(r["channels"]),
        quiet_from=r["quiet_from"],
        quiet_until=r["quiet_until"],
        suspended=r["suspended"],
        subscribed=r.get("subscribed", False),
        preferences={
            (topic, channel): frequency  # the table's CHECK keeps them valid
            for topic, channel, frequency in (p.split(" ") for p in r["preferences"])
        },
    )
