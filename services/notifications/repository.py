"""All of the notifications service's SQL: partners, their subscriptions, the directory of the
EPN register's EPNs, and the e-mail deliveries (queued by the consumer, sent by the mailer, read
as the delivery log)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import asyncpg

from services.runtime.db import Executor

from .domain import (
    REMINDER,
    Delivery,
    DeliveryStatus,
    DirectoryEntry,
    DirectoryEpn,
    DueDelivery,
    FailedAttempt,
    NewDelivery,
    Partner,
    PartnerDetails,
    Subscriber,
)

_PARTNERS = """SELECT p.*, coalesce(array_agg(s.event_type ORDER BY s.event_type) FILTER (WHERE s.event_type IS NOT NULL), '{}')
                      AS subscriptions
               FROM partners p LEFT JOIN subscriptions s ON s.partner_code = p.code"""


class NotificationsRepository:
    def __init__(self, executor: Executor) -> None:
        self.db = executor

    # -- partners and subscriptions -----------------------------------------------------------
    async def upsert_partner(self, p: PartnerDetails) -> None:
        await self.db.execute(
            """INSERT INTO partners (code, name, email, language, working_group, copil, active)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, language = EXCLUDED.language,
                   working_group = EXCLUDED.working_group, copil = EXCLUDED.copil, active = EXCLUDED.active,
                   updated_at = now()""",
            p.code,
            p.name,
            p.email,
            p.language,
            p.working_group,
            p.copil,
            p.active,
        )

    async def set_subscriptions(self, partner: str, event_types: Iterable[str]) -> None:
        """Replace the partner's subscriptions with ``event_types``."""
        await self.db.execute("DELETE FROM subscriptions WHERE partner_code = $1", partner)
        await self.db.executemany(
            "INSERT INTO subscriptions (partner_code, event_type) VALUES ($1, $2)",
            [(partner, t) for t in sorted(set(event_types))],
        )

    async def partner(self, code: str) -> Partner | None:
        row = await self.db.fetchrow(f"{_PARTNERS} WHERE p.code = $1 GROUP BY p.code", code)
        return _partner(row) if row is not None else None

    async def partners(self) -> list[Partner]:
        return [_partner(r) for r in await self.db.fetch(f"{_PARTNERS} GROUP BY p.code ORDER BY p.code")]

    async def has_partners(self) -> bool:
        return bool(await self.db.fetchval("SELECT EXISTS (SELECT 1 FROM partners)"))

    async def subscribers(self, event_type: str, occurred_at: datetime) -> list[Subscriber]:
        """The active partners subscribed to ``event_type``, by code; nobody for an event that
        occurred before this service first started (history, not news: see migration 0002).
        One query per event, the start included, since every consumed event asks."""
        rows = await self.db.fetch(
            """SELECT p.code, p.email, p.language FROM partners p JOIN subscriptions s ON s.partner_code = p.code
               WHERE s.event_type = $1 AND p.active AND $2 >= (SELECT started_at FROM mailer_start)
               ORDER BY p.code""",
            event_type,
            occurred_at,
        )
        return [Subscriber(code=r["code"], email=r["email"], language=r["language"]) for r in rows]

    # -- the EPN directory (the funding register's EPNs) -----------------------------------------
    async def register_epn(self, epn: DirectoryEpn) -> None:
        """The register's EPN, inserted or updated with its name, operator and commune; with its
        label status too unless a label decision was applied already (the register's later word)."""
        await self.db.execute(
            """INSERT INTO epns (code, name, operator, commune, label_status) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, operator = EXCLUDED.operator,
                   commune = EXCLUDED.commune,
                   label_status = CASE WHEN epns.label_version IS NULL THEN EXCLUDED.label_status
                                       ELSE epns.label_status END""",
            epn.code,
            epn.name,
            epn.operator,
            epn.commune,
            epn.label_status,
        )

    async def epn(self, code: str, *, lock: bool = False) -> DirectoryEpn | None:
        """The directory's EPN; locked until the transaction ends if ``lock`` (none: nothing locked)."""
        query = "SELECT code, name, operator, commune, label_status, label_version FROM epns WHERE code = $1"
        row = await self.db.fetchrow(f"{query} FOR UPDATE" if lock else query, code)
        return None if row is None else DirectoryEpn(**dict(row))

    async def save_epn(self, epn: DirectoryEpn) -> None:
        """Write a known EPN's entry as given (a change of details, a label decision)."""
        await self.db.execute(
            """UPDATE epns SET name = $2, operator = $3, commune = $4, label_status = $5, label_version = $6
               WHERE code = $1""",
            epn.code,
            epn.name,
            epn.operator,
            epn.commune,
            epn.label_status,
            epn.label_version,
        )

    async def epn_directory(self, without_contact: bool = False) -> list[DirectoryEntry]:
        """The directory by code, each EPN with the active partners that reach it (its code's and its
        operator's) and those of them subscribed to its reminders; ``without_contact``: only the
        EPNs no active partner reaches."""
        rows = await self.db.fetch(
            """SELECT e.code, e.name, e.operator, e.commune, e.label_status, e.label_version,
                      coalesce(array_agg(p.code ORDER BY p.code) FILTER (WHERE p.code IS NOT NULL), '{}') AS contacts,
                      coalesce(array_agg(p.code ORDER BY p.code) FILTER (WHERE s.event_type IS NOT NULL), '{}')
                          AS reminded
               FROM epns e
               LEFT JOIN partners p ON p.active AND (p.code = e.code OR p.code = e.operator)
               LEFT JOIN subscriptions s ON s.partner_code = p.code AND s.event_type = $2
               GROUP BY e.code
               HAVING NOT $1::boolean OR count(p.code) = 0
               ORDER BY e.code""",
            without_contact,
            REMINDER,
        )
        return [
            DirectoryEntry(
                epn=DirectoryEpn(
                    **{k: r[k] for k in ("code", "name", "operator", "commune", "label_status", "label_version")}
                ),
                contacts=list(r["contacts"]),
                reminded=list(r["reminded"]),
            )
            for r in rows
        ]

    # -- deliveries ---------------------------------------------------------------------------
    async def add_deliveries(self, deliveries: Iterable[NewDelivery]) -> None:
        """Queue e-mails; one per (partner, event): a redelivered event adds nothing."""
        await self.db.executemany(
            """INSERT INTO deliveries (partner_code, event_id, event_type, correlation_id, email, language, subject, body)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (partner_code, event_id) DO NOTHING""",
            [
                (d.partner_code, d.event_id, d.event_type, d.correlation_id, d.email, d.language, d.subject, d.body)
                for d in deliveries
            ],
        )

    async def deliveries(self, partner: str | None, status: DeliveryStatus | None, limit: int) -> list[Delivery]:
        """The delivery log, newest first."""
        rows = await self.db.fetch(
            """SELECT id, partner_code, event_id, event_type, correlation_id, email, language, subject, status, attempts,
                      last_error, created_at, sent_at
               FROM deliveries WHERE ($1::text IS NULL OR partner_code = $1) AND ($2::text IS NULL OR status = $2)
               ORDER BY id DESC LIMIT $3""",
            partner,
            status,
            limit,
        )
        return [Delivery(**dict(r)) for r in rows]

    async def deliveries_by_status(self) -> dict[str, int]:
        """How many e-mails are pending, sent and failed (a status with none is left out)."""
        rows = await self.db.fetch("SELECT status, count(*) AS n FROM deliveries GROUP BY status ORDER BY status")
        return {r["status"]: r["n"] for r in rows}

    async def oldest_pending_age_s(self) -> float:
        """Seconds the oldest pending e-mail has waited (0 when none waits): the mail queue's age,
        which grows through an SMTP outage while the counts alone may not move."""
        age = await self.db.fetchval(
            "SELECT extract(epoch FROM now() - min(created_at)) FROM deliveries WHERE status = 'pending'"
        )
        return max(float(age), 0.0) if age is not None else 0.0

    async def started_at(self) -> datetime:
        """When this service first started: what happened before is history, not news."""
        started: datetime = await self.db.fetchval("SELECT started_at FROM mailer_start")
        return started

    async def due_deliveries(self, limit: int) -> list[DueDelivery]:
        """The pending e-mails due now, oldest first, locked for this transaction. Rows another
        mailer holds are skipped (SKIP LOCKED), so several replicas share the work."""
        rows = await self.db.fetch(
            """SELECT id, email, language, subject, body, event_id, correlation_id, attempts, created_at AS queued_at
               FROM deliveries
               WHERE status = 'pending' AND next_attempt_at <= now()
               ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED""",
            limit,
        )
        return [DueDelivery(**dict(r)) for r in rows]

    async def mark_sent(self, delivery_id: int) -> None:
        await self.db.execute(
            "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = now() WHERE id = $1", delivery_id
        )

    async def record_failed_attempt(self, delivery_id: int, failure: FailedAttempt, error: str) -> None:
        """Keep the error and try again after the backoff, or mark the delivery failed."""
        await self.db.execute(
            """UPDATE deliveries SET attempts = $2, last_error = $3, status = $4,
                   next_attempt_at = now() + make_interval(secs => $5) WHERE id = $1""",
            delivery_id,
            failure.attempts,
            error,
            failure.status,
            failure.retry_in_s,
        )


def _partner(row: asyncpg.Record) -> Partner:
    details = PartnerDetails(
        code=row["code"],
        name=row["name"],
        email=row["email"],
        language=row["language"],
        working_group=row["working_group"],
        copil=row["copil"],
        active=row["active"],
    )
    return Partner(details=details, subscriptions=list(row["subscriptions"]), updated_at=row["updated_at"])
