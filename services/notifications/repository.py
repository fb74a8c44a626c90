"""The notifications service's SQL about partners, contacts, subscriptions, preferences and the
EPN directory. Messages, digests and what the service learnt of the plan are in
``repository_messages`` (a mixin of the same class)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import asyncpg

from services.runtime.db import Executor

from .audience import Frequency
from .domain import (
    REMINDER,
    Contact,
    ContactDetails,
    DirectoryEntry,
    DirectoryEpn,
    Partner,
    PartnerDetails,
    Subscription,
)
from .repository_messages import MessagesRepository

_PARTNERS = """SELECT p.code, p.name, p.language, p.roles, p.active, p.updated_at, c.email,
                      coalesce((SELECT array_agg(DISTINCT s.event_type ORDER BY s.event_type) FROM subscriptions s
                                WHERE s.contact_id = c.id AND s.filters = '{}'), '{}') AS subscriptions
               FROM partners p LEFT JOIN contacts c ON c.partner_code = p.code AND c.kind = 'mailbox'"""
_CONTACTS = """SELECT id, partner_code, kind, name, email, webhook_url, language, channels, quiet_from, quiet_until,
                      active, hard_bounces, suspended_at, suspended_reason, created_at, updated_at FROM contacts"""


class NotificationsRepository(MessagesRepository):
    def __init__(self, executor: Executor) -> None:
        self.db = executor

    # -- partners (organisations) and their mailbox ---------------------------------------------
    async def upsert_partner(self, p: PartnerDetails) -> None:
        """The organisation and its functional mailbox (its ``mailbox`` contact), created or updated."""
        await self.db.execute(
            """INSERT INTO partners (code, name, language, roles, active) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, language = EXCLUDED.language,
                   roles = EXCLUDED.roles, active = EXCLUDED.active, updated_at = now()""",
            p.code,
            p.name,
            p.language,
            sorted(p.roles),
            p.active,
        )
        await self.db.execute(
            """INSERT INTO contacts (partner_code, kind, email, language, channels) VALUES ($1, 'mailbox', $2, $3, '{email}')
               ON CONFLICT (partner_code) WHERE kind = 'mailbox'
               DO UPDATE SET email = EXCLUDED.email, language = EXCLUDED.language, updated_at = now(),
                   hard_bounces = CASE WHEN contacts.email = EXCLUDED.email THEN contacts.hard_bounces ELSE 0 END,
                   suspended_at = CASE WHEN contacts.email = EXCLUDED.email THEN contacts.suspended_at END,
                   suspended_reason = CASE WHEN contacts.email = EXCLUDED.email THEN contacts.suspended_reason END""",
            p.code,
            p.email,
            p.language,
        )

    async def mailbox(self, partner: str) -> int | None:
        """The number of the organisation's mailbox contact (none: no such partner, or erased)."""
        found: int | None = await self.db.fetchval(
            "SELECT id FROM contacts WHERE partner_code = $1 AND kind = 'mailbox'", partner
        )
        return found

    async def set_subscriptions(self, partner: str, event_types: Iterable[str]) -> None:
        """Replace the unfiltered subscriptions of the partner's mailbox with ``event_types``."""
        mailbox = await self.mailbox(partner)
        if mailbox is None:
            raise LookupError(f"no partner {partner}")
        await self.db.execute("DELETE FROM subscriptions WHERE contact_id = $1 AND filters = '{}'", mailbox)
        await self.db.executemany(
            "INSERT INTO subscriptions (contact_id, event_type) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [(mailbox, t) for t in sorted(set(event_types))],
        )

    async def partner(self, code: str) -> Partner | None:
        row = await self.db.fetchrow(f"{_PARTNERS} WHERE p.code = $1", code)
        return _partner(row) if row is not None else None

    async def partners(self) -> list[Partner]:
        return [_partner(r) for r in await self.db.fetch(f"{_PARTNERS} ORDER BY p.code")]

    async def has_partners(self) -> bool:
        return bool(await self.db.fetchval("SELECT EXISTS (SELECT 1 FROM partners)"))

    async def members(self, role: str) -> frozenset[str]:
        """The active organisations with ``role`` (the members of the Working Group, of the COPIL)."""
        rows = await self.db.fetch("SELECT code FROM partners WHERE active AND $1 = ANY(roles)", role)
        return frozenset(r["code"] for r in rows)

    # -- contacts ----------------------------------------------------------------------------------
    async def add_contact(self, partner: str, d: ContactDetails) -> int:
        contact: int = await self.db.fetchval(
            """INSERT INTO contacts (partner_code, kind, name, email, webhook_url, language, channels, quiet_from,
                                     quiet_until, active)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id""",
            partner,
            d.kind,
            d.name,
            d.email,
            d.webhook_url,
            d.language,
            list(d.channels),
            d.quiet_from,
            d.quiet_until,
            d.active,
        )
        return contact

    async def update_contact(self, contact: int, d: ContactDetails) -> None:
        """Write the contact's details; a new address lifts a suspension and forgets its bounces."""
        await self.db.execute(
            """UPDATE contacts SET name = $2, email = $3, webhook_url = $4, language = $5, channels = $6,
                   quiet_from = $7, quiet_until = $8, active = $9, updated_at = now(),
                   hard_bounces = CASE WHEN email IS NOT DISTINCT FROM $3 AND webhook_url IS NOT DISTINCT FROM $4
                                       THEN hard_bounces ELSE 0 END,
                   suspended_at = CASE WHEN email IS NOT DISTINCT FROM $3 AND webhook_url IS NOT DISTINCT FROM $4
                                       THEN suspended_at END,
                   suspended_reason = CASE WHEN email IS NOT DISTINCT FROM $3
                                           AND webhook_url IS NOT DISTINCT FROM $4 THEN suspended_reason END
               WHERE id = $1""",
            contact,
            d.name,
            d.email,
            d.webhook_url,
            d.language,
            list(d.channels),
            d.quiet_from,
            d.quiet_until,
            d.active,
        )

    async def contact(self, contact: int, *, lock: bool = False) -> Contact | None:
        row = await self.db.fetchrow(f"{_CONTACTS} WHERE id = $1{' FOR UPDATE' if lock else ''}", contact)
        return None if row is None else _contact(row)

    async def contacts(self, partner: str | None = None) -> list[Contact]:
        rows = await self.db.fetch(f"{_CONTACTS} WHERE $1::text IS NULL OR partner_code = $1 ORDER BY id", partner)
        return [_contact(r) for r in rows]

    async def erase_contact(self, contact: int) -> int:
        """Erase a contact: its row, subscriptions, preferences, secrets and pending digest entries
        go; its messages stay in the delivery log without its address or number (anonymised), and
        the ones not sent yet are not sent. Returns how many messages were anonymised."""
        anonymised = await self.db.fetchval(
            # The server's replies may quote the address, and the unsubscribe links name the contact:
            # both go. What was told, when, and how it went (the status) stay.
            """WITH done AS (
                   UPDATE messages SET address = NULL, unsubscribe = NULL,
                       status = CASE WHEN status = 'pending' THEN 'suppressed' ELSE status END,
                       last_error = CASE WHEN last_error IS NULL AND status <> 'pending' THEN NULL
                                         ELSE 'contact erased' END,
                       body = regexp_replace(body, '/unsubscribe/[^[:space:]]+', '/unsubscribe/…', 'g')
                   WHERE contact_id = $1 RETURNING 1)
               SELECT count(*) FROM done""",
            contact,
        )
        await self.db.execute("DELETE FROM contacts WHERE id = $1", contact)
        return int(anonymised)

    async def subscriptions_of(self, contact: int) -> list[Subscription]:
        rows = await self.db.fetch(
            "SELECT event_type, filters FROM subscriptions WHERE contact_id = $1 ORDER BY event_type, id", contact
        )
        return [Subscription(r["event_type"], {k: tuple(v) for k, v in sorted(r["filters"].items())}) for r in rows]

    async def replace_contact_subscriptions(self, contact: int, subscriptions: Iterable[Subscription]) -> None:
        await self.db.execute("DELETE FROM subscriptions WHERE contact_id = $1", contact)
        await self.db.executemany(
            "INSERT INTO subscriptions (contact_id, event_type, filters) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            [(contact, s.event_type, {k: sorted(set(v)) for k, v in sorted(s.filters.items())}) for s in subscriptions],
        )

    async def preferences_of(self, contact: int) -> dict[tuple[str, str], Frequency]:
        rows = await self.db.fetch(
            "SELECT topic, channel, frequency FROM preferences WHERE contact_id = $1 ORDER BY topic, channel", contact
        )
        return {(r["topic"], r["channel"]): r["frequency"] for r in rows}

    async def replace_preferences(self, contact: int, preferences: Mapping[tuple[str, str], Frequency]) -> None:
        await self.db.execute("DELETE FROM preferences WHERE contact_id = $1", contact)
        await self.db.executemany(
            "INSERT INTO preferences (contact_id, topic, channel, frequency) VALUES ($1, $2, $3, $4)",
            [(contact, topic, channel, f) for (topic, channel), f in sorted(preferences.items())],
        )

    async def set_preference(self, contact: int, topic: str, channel: str, frequency: Frequency) -> bool:
        """Set one preference; false if the contact is unknown (erased since the link was sent)."""
        done = await self.db.fetchval(
            """INSERT INTO preferences (contact_id, topic, channel, frequency)
               SELECT id, $2, $3, $4 FROM contacts WHERE id = $1
               ON CONFLICT (contact_id, topic, channel) DO UPDATE SET frequency = EXCLUDED.frequency
               RETURNING true""",
            contact,
            topic,
            channel,
            frequency,
        )
        return bool(done)

    # -- webhook secrets ---------------------------------------------------------------------------
    async def add_webhook_secret(self, contact: int, secret: str, previous_expire_at: datetime | None) -> None:
        """A new signing secret; the ones before it expire at ``previous_expire_at`` (now if none)."""
        await self.db.execute(
            """UPDATE webhook_secrets SET expires_at = least(coalesce(expires_at, 'infinity'), coalesce($2, now()))
               WHERE contact_id = $1""",
            contact,
            previous_expire_at,
        )
        await self.db.execute("INSERT INTO webhook_secrets (contact_id, secret) VALUES ($1, $2)", contact, secret)

    async def webhook_secrets(self, contact: int) -> list[str]:
        """The secrets that sign now, newest first."""
        rows = await self.db.fetch(
            """SELECT secret FROM webhook_secrets WHERE contact_id = $1 AND (expires_at IS NULL OR expires_at > now())
               ORDER BY created_at DESC""",
            contact,
        )
        return [r["secret"] for r in rows]

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
        operator's, with an active contact) and those of them that hear its reminders (a contact
        that has not muted them by e-mail); ``without_contact``: only the EPNs no partner reaches."""
        rows = await self.db.fetch(
            """SELECT e.code, e.name, e.operator, e.commune, e.label_status, e.label_version,
                      coalesce(array_agg(DISTINCT p.code ORDER BY p.code) FILTER (WHERE p.code IS NOT NULL), '{}')
                          AS contacts,
                      coalesce(array_agg(DISTINCT p.code ORDER BY p.code)
                               FILTER (WHERE p.code IS NOT NULL AND c.kind <> 'webhook' AND NOT EXISTS (
                                   SELECT 1 FROM preferences pr WHERE pr.contact_id = c.id AND pr.channel = 'email'
                                   AND pr.topic IN ($2, '*') AND pr.frequency = 'off')), '{}') AS reminded
               FROM epns e
               LEFT JOIN partners p ON p.active AND (p.code = e.code OR p.code = e.operator)
                   AND EXISTS (SELECT 1 FROM contacts a WHERE a.partner_code = p.code AND a.active)
               LEFT JOIN contacts c ON c.partner_code = p.code AND c.active
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


def _partner(row: asyncpg.Record) -> Partner:
    details = PartnerDetails(
        code=row["code"],
        name=row["name"],
        email=row["email"] or "",
        language=row["language"],
        roles=frozenset(row["roles"]),
        active=row["active"],
    )
    return Partner(details=details, subscriptions=list(row["subscriptions"]), updated_at=row["updated_at"])


def _contact(row: asyncpg.Record | Mapping[str, Any]) -> Contact:
    details = ContactDetails(
        kind=row["kind"],
        language=row["language"],
        name=row["name"],
        email=row["email"],
        webhook_url=row["webhook_url"],
        channels=tuple(row["channels"]),
        quiet_from=row["quiet_from"],
        quiet_until=row["quiet_until"],
        active=row["active"],
    )
    return Contact(
        id=row["id"],
        partner_code=row["partner_code"],
        details=details,
        hard_bounces=row["hard_bounces"],
        suspended_at=row["suspended_at"],
        suspended_reason=row["suspended_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
