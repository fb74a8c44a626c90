"""What the notifications use-case tests share: partners, the contracts' examples, units of work on
a PostgreSQL database of their own (``PgStore``), and the messages it holds."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from passerelle_contracts import Envelope

from services.notifications.domain import ContactDetails, PartnerDetails
from services.notifications.handlers.deliveries import Links, Notifier
from services.notifications.repository import NotificationsRepository
from services.notifications.settings import NotificationsSettings
from services.runtime.consumer import Position, PostgresDeadLetters
from services.runtime.uow import Context, PostgresUnitOfWork, Session, UnitOfWork

EXAMPLES = Path(__file__).resolve().parents[3] / "contracts" / "examples"
SETTINGS = NotificationsSettings(
    database_url="postgresql://unused", public_url="https://passerelle.example", dashboard_url="https://dash.example"
)
LINKS = Links(SETTINGS.public_url, SETTINGS.dashboard_url)

EASY = PartnerDetails(
    code="easy-brussels",
    name="easy.brussels",
    email="easy@partners.example",
    language="fr",
    roles=frozenset({"working_group"}),
)
ACTIRIS = PartnerDetails(
    code="actiris", name="Actiris", email="actiris@partners.example", language="nl", roles=frozenset({"working_group"})
)
CABAN = PartnerDetails(code="caban", name="CABAN", email="caban@partners.example", language="fr")
COORDINATION = PartnerDetails(
    code="coordination-inclusion-numerique", name="Coordination", email="coordination@cirb.example", language="fr",
    roles=frozenset({"working_group", "copil"}),
)  # fmt: skip


class PgStore:
    """Units of work and the repository on one test database, shaped like ``FakeStore`` so that the
    consumer drivers of ``tests.epn_register`` can use it (its dead letters are the table's)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.session = Session(SETTINGS, pool, NotificationsRepository)
        self.repo = NotificationsRepository(pool)
        self._dead_letters = PostgresDeadLetters(lambda: pool)

    def unit_of_work(self, context: Context | None = None, *, source: str = "notifications") -> PostgresUnitOfWork[Any]:
        return self.session.unit_of_work(context or Context.system())

    async def dead_lettered(self, consumer: str, positions: Sequence[Position]) -> set[Position]:
        return await self._dead_letters.dead_lettered(consumer, positions)

    async def record_dead_letter(
        self, consumer: str, position: Position, reason: str, event_id: uuid.UUID | None
    ) -> None:
        await self._dead_letters.record_dead_letter(consumer, position, reason, event_id)

    async def events(self, event_type: str | None = None) -> list[Envelope]:
        """The events the service wrote to its outbox, in order (of one type if given)."""
        rows = await self.pool.fetch("SELECT payload FROM outbox ORDER BY id")
        found = [Envelope.model_validate(r["payload"]) for r in rows]
        return [e for e in found if event_type is None or e.event_type == event_type]

    async def messages(self, **where: Any) -> list[dict[str, Any]]:
        """The messages table's rows, oldest first (``where``: column = value)."""
        conditions = " AND ".join(f"{column} = ${i}" for i, column in enumerate(where, start=1)) or "true"
        rows = await self.pool.fetch(f"SELECT * FROM messages WHERE {conditions} ORDER BY id", *where.values())
        return [dict(r) for r in rows]


Store = PgStore


def example(event_type: str, *, occurred_at: datetime | None = None, **data: Any) -> Envelope:
    """The contracts' example of ``event_type`` (its data updated with ``data``), happening now (or
    at ``occurred_at``), with an id of its own: the service tells only what happened since it first
    started, and once per event."""
    envelope = Envelope.model_validate_json((EXAMPLES / f"{event_type}.v1.json").read_text("utf-8"))
    return envelope.model_copy(
        update={
            "occurred_at": occurred_at or datetime.now(UTC),
            "event_id": uuid.uuid4(),
            "data": {**envelope.data, **data},
        }
    )


def system(store: Store, context: Context | None = None) -> UnitOfWork[NotificationsRepository]:
    """A unit of work on the test database, acting as the system (or in ``context``)."""
    uow: UnitOfWork[NotificationsRepository] = store.unit_of_work(context or Context.system())
    return uow


async def subscribe(store: Store, partner: PartnerDetails, *event_types: str) -> None:
    """The partner, its mailbox subscribed to ``event_types``."""
    await store.repo.upsert_partner(partner)
    await store.repo.set_subscriptions(partner.code, event_types)


async def person(store: Store, partner: PartnerDetails, email: str, **details: Any) -> int:
    """A person of ``partner`` (created if need be), its number."""
    if await store.repo.partner(partner.code) is None:
        await store.repo.upsert_partner(partner)
    return await store.repo.add_contact(
        partner.code, ContactDetails(kind="person", language=details.pop("language", "fr"), email=email, **details)
    )


async def handle(store: Store, envelope: Envelope) -> None:
    """As the consumer ``mailer`` does: a unit of work caused by the event, its inbox row, then the handler."""
    uow = system(store, Context.caused_by(envelope))
    async with uow:
        if await uow.claim_inbox("mailer", envelope, "passerelle.actions.v1", 0, 1):
            await Notifier(LINKS)(uow, envelope, envelope.data)
