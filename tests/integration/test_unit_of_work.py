"""The unit of work's contract, run against the fake and against PostgreSQL (so the fake that
every service's use-case tests rely on cannot drift from the real one)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from passerelle_contracts import Actor, Envelope
from passerelle_contracts.funding_v1 import EpnLabelled

from services.runtime import db
from services.runtime.errors import Invalid
from services.runtime.testing import FakeStore
from services.runtime.uow import Context, PostgresUnitOfWork, UnitOfWork, once
from tests.conftest import CreateDatabase

pytestmark = pytest.mark.infra

COORDINATION = Actor(organisation="easy-brussels", role="coordination", key_id="k1")
OTHER = Actor(organisation="actiris", role="coordination", key_id="k2")
LABEL = EpnLabelled(epn="epn-anderlecht", commune="Anderlecht", labelled_on=date(2026, 3, 1))


class FakeLabels:
    """A one-table repository in memory."""

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}

    async def add(self, epn: str, commune: str) -> None:
        self.rows[epn] = commune

    async def count(self) -> int:
        return len(self.rows)


class SqlLabels:
    def __init__(self, executor: db.Executor) -> None:
        self.db = executor

    async def add(self, epn: str, commune: str) -> None:
        await self.db.execute("INSERT INTO labels (epn, commune) VALUES ($1, $2)", epn, commune)

    async def count(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM labels"))


@dataclass
class Storage:
    """One of the two storages: a factory of units of work and a view of what committed."""

    unit_of_work: Callable[[Context], UnitOfWork[Any]]
    committed_events: Callable[[], Awaitable[list[tuple[str, Envelope]]]]


@pytest.fixture(params=["fake", "postgres"])
async def storage(request: pytest.FixtureRequest, create_database: CreateDatabase) -> AsyncIterator[Storage]:
    prefix = "t."
    if request.param == "fake":
        store = FakeStore(FakeLabels())

        async def fake_events() -> list[tuple[str, Envelope]]:
            return list(store.outbox)

        yield Storage(lambda ctx: store.unit_of_work(ctx, source="funding", topic=lambda n: prefix + n), fake_events)
        return
    pool = await db.create_pool(await create_database("uow"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS})
        await pool.execute("CREATE TABLE labels (epn text PRIMARY KEY, commune text NOT NULL)")

        async def pg_events() -> list[tuple[str, Envelope]]:
            rows = await pool.fetch("SELECT topic, payload FROM outbox ORDER BY id")
            return [(r["topic"], Envelope.model_validate(r["payload"])) for r in rows]

        yield Storage(
            lambda ctx: PostgresUnitOfWork(pool, SqlLabels, source="funding", context=ctx, topic=lambda n: prefix + n),
            pg_events,
        )
    finally:
        await pool.close()


async def test_events_emitted_in_a_committed_block_reach_the_outbox_with_who_and_which_flow_and_their_partner_copy(
    storage: Storage,
) -> None:
    cause = uuid.uuid4()
    correlation = uuid.uuid4()
    uow = storage.unit_of_work(Context(actor=COORDINATION, correlation_id=correlation, causation_id=cause))
    async with uow:
        await uow.repo.add(LABEL.epn, "Anderlecht")
        envelope = uow.emit(LABEL, subject="epn-epn-anderlecht")
    [(topic, stored), (partner_topic, copy)] = await storage.committed_events()
    assert topic == "t.passerelle.funding.v1"
    assert stored == envelope
    assert partner_topic == "t.passerelle.partners.funding.v1", "what partners read, committed with it"
    assert (copy.causation_id, copy.event_type, copy.data) == (envelope.event_id, envelope.event_type, envelope.data)
    assert (stored.source, stored.subject, stored.actor) == ("funding", "epn-epn-anderlecht", COORDINATION)
    assert (stored.correlation_id, stored.causation_id) == (correlation, cause)
    assert await uow.repo.count() == 1


async def test_a_block_that_fails_leaves_neither_state_nor_events(storage: Storage) -> None:
    uow = storage.unit_of_work(Context(actor=COORDINATION))
    with pytest.raises(ValueError, match="refused"):
        async with uow:
            await uow.repo.add(LABEL.epn, "Anderlecht")
            uow.emit(LABEL, subject="epn-epn-anderlecht")
            await uow.flush()
            raise ValueError("refused")
    assert await storage.committed_events() == []
    assert await uow.repo.count() == 0
    assert uow.emitted == []


async def test_a_nested_block_joins_the_outer_transaction(storage: Storage) -> None:
    uow = storage.unit_of_work(Context(actor=COORDINATION))
    with pytest.raises(RuntimeError):
        async with uow:
            async with uow:  # a use case calling another
                await uow.repo.add(LABEL.epn, "Anderlecht")
                uow.emit(LABEL, subject="epn-epn-anderlecht")
            assert uow.active, "the inner block did not commit on its own"
            raise RuntimeError("the outer block fails")
    assert await uow.repo.count() == 0
    assert await storage.committed_events() == []


async def test_emitting_outside_a_block_is_refused(storage: Storage) -> None:
    uow = storage.unit_of_work(Context(actor=COORDINATION))
    with pytest.raises(RuntimeError, match="outside"):
        uow.emit(LABEL, subject="epn-epn-anderlecht")


async def test_an_event_is_claimed_once_per_consumer_and_a_rolled_back_claim_is_released(storage: Storage) -> None:
    event = Envelope.wrap(LABEL, source="funding", subject="epn-x", actor=COORDINATION)

    async def claim(consumer: str, fail: bool = False) -> bool:
        uow = storage.unit_of_work(Context.caused_by(event))
        async with uow:
            fresh = await uow.claim_inbox(consumer, event, "t.passerelle.funding.v1", 0, 7)
            if fail:
                raise RuntimeError("handler failed")
        return fresh

    with pytest.raises(RuntimeError):
        await claim("indicators", fail=True)
    assert await claim("indicators") is True
    assert await claim("indicators") is False
    assert await claim("mailer") is True, "each consumer applies the event once"


async def test_an_idempotency_key_runs_the_command_once_and_answers_its_repetitions_with_the_first_reply(
    storage: Storage,
) -> None:
    runs = 0

    async def command(uow: UnitOfWork[Any], body: dict[str, Any], key: str | None) -> tuple[Any, bool]:
        async def run() -> dict[str, Any]:
            nonlocal runs
            runs += 1
            await uow.repo.add(f"epn-{runs}", body["commune"])
            uow.emit(LABEL, subject=f"epn-{runs}")
            return {"epn": f"epn-{runs}", "labelled_on": date(2026, 3, 1)}

        return await once(uow, "POST /epn-labels", key, body, run)

    body = {"commune": "Anderlecht"}
    first = await command(storage.unit_of_work(Context(actor=COORDINATION)), body, "k-1")
    again = await command(storage.unit_of_work(Context(actor=COORDINATION)), body, "k-1")
    assert first == ({"epn": "epn-1", "labelled_on": date(2026, 3, 1)}, True)
    assert again == ({"epn": "epn-1", "labelled_on": "2026-03-01"}, False), "the stored reply, as JSON"
    assert runs == 1
    assert [topic for topic, _ in await storage.committed_events()] == [
        "t.passerelle.funding.v1",
        "t.passerelle.partners.funding.v1",
    ], "one event, and its partner copy"

    with pytest.raises(Invalid, match="different request"):
        await command(storage.unit_of_work(Context(actor=COORDINATION)), {"commune": "Ixelles"}, "k-1")

    other = await command(storage.unit_of_work(Context(actor=OTHER)), body, "k-1")
    assert other[1] is True, "keys belong to the caller's organisation"
    unkeyed = await command(storage.unit_of_work(Context(actor=COORDINATION)), body, None)
    assert unkeyed[1] is True and runs == 3
