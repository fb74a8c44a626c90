"""Partners, subscriptions, the EPN directory and deliveries in memory: what
``NotificationsRepository`` does, without PostgreSQL. ``tests/integration/test_notifications_repository.py`` runs one suite against both.

Not modelled: ``due_deliveries``' row locks (FOR UPDATE SKIP LOCKED) — the fake has one caller
at a time, so there is nobody to skip."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from services.notifications.domain import (
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


@dataclasses.dataclass
class StoredDelivery:
    """A row of the deliveries table."""

    id: int
    new: NewDelivery
    status: DeliveryStatus = "pending"
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime = dataclasses.field(default_factory=lambda: datetime.now(UTC))
    created_at: datetime = dataclasses.field(default_factory=lambda: datetime.now(UTC))
    sent_at: datetime | None = None


class FakeNotificationsRepository:
    def __init__(self) -> None:
        self.started = datetime.now(UTC)  # as the migration records a new database's first start
        self.partners_by_code: dict[str, tuple[PartnerDetails, datetime]] = {}
        self.subscriptions: dict[str, set[str]] = {}
        self.rows: dict[int, StoredDelivery] = {}
        self.next_id = 1
        self.epns: dict[str, DirectoryEpn] = {}

    # -- partners and subscriptions -----------------------------------------------------------
    async def upsert_partner(self, p: PartnerDetails) -> None:
        self.partners_by_code[p.code] = (p, datetime.now(UTC))

    async def set_subscriptions(self, partner: str, event_types: Iterable[str]) -> None:
        if partner not in self.partners_by_code:
            raise ValueError(f"no partner {partner}")  # the foreign key refuses it too
        self.subscriptions[partner] = set(event_types)

    async def partner(self, code: str) -> Partner | None:
        if code not in self.partners_by_code:
            return None
        details, updated_at = self.partners_by_code[code]
        return Partner(details=details, subscriptions=sorted(self.subscriptions.get(code, ())), updated_at=updated_at)

    async def partners(self) -> list[Partner]:
        return [p for code in sorted(self.partners_by_code) if (p := await self.partner(code)) is not None]

    async def has_partners(self) -> bool:
        return bool(self.partners_by_code)

    async def subscribers(self, event_type: str, occurred_at: datetime) -> list[Subscriber]:
        if occurred_at < self.started:
            return []
        return [
            Subscriber(code=p.code, email=p.email, language=p.language)
            for code, (p, _) in sorted(self.partners_by_code.items())
            if p.active and event_type in self.subscriptions.get(code, ())
        ]

    # -- the EPN directory (the funding register's EPNs) -----------------------------------------
    async def register_epn(self, epn: DirectoryEpn) -> None:
        known = self.epns.get(epn.code)
        if known is not None and known.label_version is not None:  # a decision's word stands
            epn = dataclasses.replace(epn, label_status=known.label_status, label_version=known.label_version)
        self.epns[epn.code] = epn

    async def epn(self, code: str, *, lock: bool = False) -> DirectoryEpn | None:
        return self.epns.get(code)  # one caller at a time: nothing to lock

    async def save_epn(self, epn: DirectoryEpn) -> None:
        if epn.code in self.epns:  # an UPDATE: an unknown code changes nothing
            self.epns[epn.code] = epn

    async def epn_directory(self, without_contact: bool = False) -> list[DirectoryEntry]:
        entries = []
        for code in sorted(self.epns):
            epn = self.epns[code]
            contacts = sorted(
                c for c, (p, _) in self.partners_by_code.items() if p.active and c in (epn.code, epn.operator)
            )
            if without_contact and contacts:
                continue
            reminded = [c for c in contacts if REMINDER in self.subscriptions.get(c, ())]
            entries.append(DirectoryEntry(epn=epn, contacts=contacts, reminded=reminded))
        return entries

    # -- deliveries ---------------------------------------------------------------------------
    async def add_deliveries(self, deliveries: Iterable[NewDelivery]) -> None:
        taken = {(r.new.partner_code, r.new.event_id) for r in self.rows.values()}
        for d in deliveries:
            if d.partner_code not in self.partners_by_code:
                raise ValueError(f"no partner {d.partner_code}")  # the foreign key refuses it too
            if (d.partner_code, d.event_id) in taken:
                continue
            taken.add((d.partner_code, d.event_id))
            self.rows[self.next_id] = StoredDelivery(id=self.next_id, new=d)
            self.next_id += 1

    async def deliveries(self, partner: str | None, status: DeliveryStatus | None, limit: int) -> list[Delivery]:
        rows = [
            r
            for r in sorted(self.rows.values(), key=lambda r: r.id, reverse=True)
            if (partner is None or r.new.partner_code == partner) and (status is None or r.status == status)
        ]
        return [
            Delivery(
                id=r.id,
                partner_code=r.new.partner_code,
                event_id=r.new.event_id,
                event_type=r.new.event_type,
                correlation_id=r.new.correlation_id,
                email=r.new.email,
                language=r.new.language,
                subject=r.new.subject,
                status=r.status,
                attempts=r.attempts,
                last_error=r.last_error,
                created_at=r.created_at,
                sent_at=r.sent_at,
            )
            for r in rows[:limit]
        ]

    async def deliveries_by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows.values():
            counts[row.status] = counts.get(row.status, 0) + 1
        return dict(sorted(counts.items()))

    async def oldest_pending_age_s(self) -> float:
        pending = [r.created_at for r in self.rows.values() if r.status == "pending"]
        return max((datetime.now(UTC) - min(pending)).total_seconds(), 0.0) if pending else 0.0

    async def started_at(self) -> datetime:
        return self.started

    async def due_deliveries(self, limit: int) -> list[DueDelivery]:
        now = datetime.now(UTC)
        due = [
            r
            for r in sorted(self.rows.values(), key=lambda r: r.id)
            if r.status == "pending" and r.next_attempt_at <= now
        ]
        return [
            DueDelivery(
                id=r.id,
                email=r.new.email,
                language=r.new.language,
                subject=r.new.subject,
                body=r.new.body,
                event_id=r.new.event_id,
                correlation_id=r.new.correlation_id,
                attempts=r.attempts,
                queued_at=r.created_at,
            )
            for r in due[:limit]
        ]

    async def mark_sent(self, delivery_id: int) -> None:
        row = self.rows[delivery_id]
        row.status, row.attempts, row.sent_at = "sent", row.attempts + 1, datetime.now(UTC)

    async def record_failed_attempt(self, delivery_id: int, failure: FailedAttempt, error: str) -> None:
        row = self.rows[delivery_id]
        row.attempts, row.last_error, row.status = failure.attempts, error, failure.status
        row.next_attempt_at = datetime.now(UTC) + timedelta(seconds=failure.retry_in_s)

    # -- for tests: what a test may arrange that no use case does -----------------------------
    def age(self, delivery_id: int, *, seconds: float) -> None:
        """Make a delivery as old as if it had been queued ``seconds`` ago."""
        self.rows[delivery_id].created_at = datetime.now(UTC) - timedelta(seconds=seconds)

    def make_due(self, delivery_id: int) -> None:
        """Bring a delayed retry forward (a test does not wait out the backoff)."""
        self.rows[delivery_id].next_attempt_at = datetime.now(UTC)
