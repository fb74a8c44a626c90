"""Throughput of the notifications service's fan-out and digests, through the consumer's handler
and the scheduler the service runs, on PostgreSQL: one event to 500 subscribers (e-mail and feed,
half of them behind filters, in French and Dutch), and 500 daily digests of a season (30 indicator
increments and 10 other events each). Each figure is printed beside its floor.

    scripts/infra start postgres && .venv/bin/python -m benchmarks.notifications [--subscribers 500] [--events 20]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from passerelle_contracts import Envelope

from benchmarks.pipeline import against_floor, on_fresh_database
from services.notifications.app import MIGRATIONS
from services.notifications.domain import ContactDetails, PartnerDetails, Subscription
from services.notifications.handlers.deliveries import Links, Notifier
from services.notifications.repository import NotificationsRepository
from services.notifications.schedule import Scheduler
from services.notifications.settings import NotificationsSettings
from services.runtime.uow import Context, PostgresUnitOfWork, UnitOfWork

EXAMPLES = Path(__file__).resolve().parents[1] / "contracts" / "examples"
SETTINGS = NotificationsSettings(database_url="postgresql://unused", kafka_security_protocol="PLAINTEXT")  # no Kafka
LINKS = Links("https://passerelle.example", "https://dashboard.example")
# Floors: a season's busiest minute tells the whole Working Group of a few dozen events, and the
# digests leave at one hour of the morning; these are what this machine must keep (2 CPUs) so that
# a regression shows before partners feel it.
FANOUT_FLOOR = 2_000  # messages written a second (one event to 500 subscribers: 1,000 messages)
DIGEST_FLOOR = 50  # digests built a second


def unit_of_work(pool: asyncpg.Pool, context: Context | None = None) -> UnitOfWork[NotificationsRepository]:
    return PostgresUnitOfWork(
        pool, NotificationsRepository, source="notifications", context=context or Context.system(),
        topic=lambda n: "bench",
    )  # fmt: skip


def event(event_type: str, **data: object) -> Envelope:
    envelope = Envelope.model_validate_json((EXAMPLES / f"{event_type}.v1.json").read_text("utf-8"))
    return envelope.model_copy(
        update={"event_id": uuid.uuid4(), "occurred_at": datetime.now(UTC), "data": {**envelope.data, **data}}
    )


def line(label: str, count: int, unit: str, seconds: float, floor: int) -> None:
    against_floor(label, count, unit, seconds, floor, width=62)


async def subscribers(pool: asyncpg.Pool, n: int, frequency: str) -> None:
    """``n`` people in ``n // 10`` organisations, each following action 46's indicators (half of
    them behind an action filter), at ``frequency``."""
    repo = NotificationsRepository(pool)
    await repo.save_plan_action(46, 3, 11, "coordination-inclusion-numerique", [])
    for p in range(max(n // 10, 1)):
        code = f"asbl-{frequency}-{p:03}"
        await repo.upsert_partner(PartnerDetails(code, code, f"{code}@example.org", "fr" if p % 2 else "nl"))
    for i in range(n):
        code = f"asbl-{frequency}-{i % max(n // 10, 1):03}"
        contact = await repo.add_contact(
            code, ContactDetails(kind="person", language="fr" if i % 2 else "nl", email=f"p{i}@{code}.example")
        )
        filters = {"action": ("46",)} if i % 2 else {}
        await repo.replace_contact_subscriptions(
            contact, [Subscription("IndicatorMeasured", filters), Subscription("ActionStatusChanged")]
        )
        if frequency != "immediate":
            await repo.replace_preferences(contact, {("*", "email"): frequency})  # type: ignore[dict-item]  # a checked frequency


async def handle(pool: asyncpg.Pool, notifier: Notifier, envelope: Envelope) -> None:
    uow = unit_of_work(pool, Context.caused_by(envelope))
    async with uow:
        if await uow.claim_inbox("mailer", envelope, "bench", 0, 0):
            await notifier(uow, envelope, envelope.data)


async def bench_fanout(pool: asyncpg.Pool, n: int, events: int) -> None:
    await subscribers(pool, n, "immediate")
    notifier = Notifier(LINKS)
    started = time.perf_counter()
    await handle(pool, notifier, event("IndicatorMeasured", action_number=46))
    one = time.perf_counter() - started
    messages = await pool.fetchval("SELECT count(*) FROM messages")
    line(
        f"one event to {n:,} subscribers ({messages:,} messages: e-mail and feed)",
        messages,
        "messages",
        one,
        FANOUT_FLOOR,
    )
    started = time.perf_counter()
    for k in range(events):
        await handle(pool, notifier, event("IndicatorMeasured", action_number=46, previous_value=k, value=k + 1))
    seconds = time.perf_counter() - started
    total = await pool.fetchval("SELECT count(*) FROM messages") - messages
    line(f"{events} events more, one after another ({total:,} messages)", total, "messages", seconds, FANOUT_FLOOR)


async def bench_digests(pool: asyncpg.Pool, n: int) -> None:
    await pool.execute("TRUNCATE messages, digest_entries, digest_items, subscriptions, preferences CASCADE")
    await pool.execute("DELETE FROM contacts")
    await subscribers(pool, n, "daily")
    notifier = Notifier(LINKS)
    for k in range(30):
        await handle(pool, notifier, event("IndicatorMeasured", action_number=46, previous_value=k, value=k + 1))
    for _ in range(10):
        await handle(pool, notifier, event("ActionStatusChanged"))
    entries = await pool.fetchval("SELECT count(*) FROM digest_entries")
    scheduler = Scheduler(SETTINGS, lambda: unit_of_work(pool))
    started = time.perf_counter()
    done = await scheduler.run_once(datetime.now(UTC) + timedelta(days=1))
    seconds = time.perf_counter() - started
    assert done["daily"] == n, done
    line(f"{n:,} daily digests ({entries:,} entries, folded per indicator)", n, "digests", seconds, DIGEST_FLOOR)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--events", type=int, default=20)
    args = parser.parse_args()

    async def run(pool: asyncpg.Pool) -> None:
        await bench_fanout(pool, args.subscribers, args.events)
        await bench_digests(pool, args.subscribers)

    await on_fresh_database("notifications", MIGRATIONS, run)


if __name__ == "__main__":
    asyncio.run(main())
