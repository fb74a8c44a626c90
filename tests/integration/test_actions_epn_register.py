"""The actions service learns the EPNs from the funding service's register, against the real
broker and database: the register's events published to the funding topic become organisations
of the plan (once each, in order) that may partner an action, a code that is another kind of
organisation here is dead-lettered with its reason, the seed's reload at start leaves the
register's rows alone, and the database keeps both rules even when the two writers meet on one
code. The repository's new queries run on the fake and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from passerelle_contracts.funding_v1 import TOPIC

from services.actions.app import MIGRATIONS
from services.actions.handlers.plan import LoadPlan, load_plan, read_seed
from services.actions.sql import ActionsRepository
from services.runtime import db
from services.runtime.uow import Context
from tests.conftest import CreateDatabase
from tests.epn_register import EPN, dead_lettered, event_id, record, registered, registered_withdrawn_and_renamed
from tests.integration.actions_repository.conftest import repo
from tests.integration.actions_repository.given import PLAN
from tests.integration.conftest import ActionsUnderTest, running_actions
from tests.support import eventually, produce

pytestmark = pytest.mark.infra

NETWORK = "epn"  # the plan's seed names "epn", the network of all EPNs (kind network)
COORDINATION = "coordination-inclusion-numerique"


async def stored(pool: asyncpg.Pool, code: str) -> dict[str, Any] | None:
    """The organisation's row as the database holds it, its source included."""
    row = await pool.fetchrow("SELECT * FROM organisations WHERE code = $1", code)
    return None if row is None else dict(row)


@pytest.fixture
async def database(create_database: CreateDatabase) -> str:
    return await create_database("actions_epns")


@pytest.fixture
async def actions(database: str, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[ActionsUnderTest]:
    """The actions service in this process, retrying a failing event quickly before its dead letter."""
    async with running_actions(database, kafka_bootstrap, topic_prefix, consumer_backoff_max_s=0.05) as service:
        yield service


async def test_the_registers_events_on_the_funding_topic_become_organisations_of_the_plan_once_and_in_order(
    actions: ActionsUnderTest, kafka_bootstrap: str
) -> None:
    topic = actions.runtime.topic(TOPIC)
    pool = actions.runtime.pool
    await produce(kafka_bootstrap, topic, registered_withdrawn_and_renamed())

    async def renamed_here() -> dict[str, Any] | None:
        row = await stored(pool, EPN)
        return row if row is not None and row["name"] == "Espace numérique d'Ixelles" else None

    row = await eventually(renamed_here, what="the EPN registered, then renamed")
    assert row == {
        "code": EPN,
        "name": "Espace numérique d'Ixelles",
        "kind": "epn",
        "working_group": False,
        "copil": False,
        "source": "register",
    }, "a withdrawn EPN is still an organisation of the plan"
    applied = await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'epn-register'")
    assert applied == 2, "the registration delivered twice and the change, once each; the label decision not its"
    assert await eventually(
        lambda: pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'indicators'"),
        what="the label decision counted for action 11 by the other consumer",
    )
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'ActionDetailsChanged'") == 0

    listed = {o["code"]: o for o in (await actions.client.get("/organisations")).json()}
    assert listed[EPN]["kind"] == "epn"
    coordination = await actions.key(COORDINATION, "coordination")
    patched = await actions.client.patch("/actions/30", json={"partners": ["caban", EPN]}, headers=coordination)
    assert patched.status_code == 200, patched.text
    partnered = (await actions.client.get("/actions", params={"organisation": EPN})).json()
    assert [a["number"] for a in partnered] == [30]


async def test_an_epn_under_the_code_of_the_plans_network_is_dead_lettered_with_its_reason_and_the_network_kept(
    actions: ActionsUnderTest, kafka_bootstrap: str
) -> None:
    topic = actions.runtime.topic(TOPIC)
    pool = actions.runtime.pool
    network = await stored(pool, NETWORK)
    assert network is not None and (network["kind"], network["source"]) == ("network", "seed")
    taken = record(registered(NETWORK, epn_name="EPN de la gare"))
    await produce(kafka_bootstrap, topic, [taken, record(registered())])
    await eventually(lambda: stored(pool, EPN), what="the next EPN registered: the partition moved on")
    headers = await dead_lettered(kafka_bootstrap, topic, taken[1], what="the network's code dead-lettered")
    assert (headers["x-dlq-reason"], headers["x-dlq-consumer"]) == ("handler-failed", "epn-register")
    assert "the EPN register's code epn is already the organisation" in headers["x-dlq-error"]
    assert "of kind network here, not an EPN" in headers["x-dlq-error"]
    assert await stored(pool, NETWORK) == network
    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event_id(taken[1])) == 0


async def test_a_restart_reloads_the_seed_and_keeps_the_registers_epns_as_the_register_wrote_them(
    database: str, kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with running_actions(database, kafka_bootstrap, topic_prefix) as first:
        topic = first.runtime.topic(TOPIC)
        await produce(kafka_bootstrap, topic, [record(registered(epn_name="EPN d'Ixelles (registre)"))])
        await eventually(lambda: stored(first.runtime.pool, EPN), what="the EPN registered")
    async with running_actions(database, kafka_bootstrap, topic_prefix) as again:  # the seed loaded again
        pool = again.runtime.pool
        row = await stored(pool, EPN)
        assert row is not None and (row["name"], row["source"]) == ("EPN d'Ixelles (registre)", "register")
        plan, indicators = read_seed()
        naming_it = {**plan, "organisations": [*plan["organisations"], {**plan["organisations"][5], "code": EPN}]}
        await load_plan(again.runtime.unit_of_work(Context.system()), LoadPlan(naming_it, indicators))
        assert await stored(pool, EPN) == row, "a seed naming the register's code leaves its row alone"
        assert await pool.fetchval("SELECT count(*) FROM organisations WHERE source = 'seed'") == len(
            plan["organisations"]
        )


# -- the database's rules, whatever writes ------------------------------------------------------
@pytest.fixture
async def pool(create_database: CreateDatabase) -> AsyncIterator[asyncpg.Pool]:
    """The actions database migrated with a small plan's structure, nothing running on it."""
    pool = await db.create_pool(await create_database("actions_sources"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "actions": MIGRATIONS})
        await ActionsRepository(pool).load_reference(PLAN)
        yield pool
    finally:
        await pool.close()


async def test_the_seeds_insert_waiting_on_the_registers_insert_of_the_same_code_leaves_the_epn_as_it_is(
    pool: asyncpg.Pool,
) -> None:
    """Neither writer locks a row that does not exist yet: the upserts' conflict clauses decide."""
    seeding = {**PLAN, "organisations": [{**PLAN["organisations"][1], "code": "epn-forest", "kind": "epn"}]}
    async with pool.acquire() as register, pool.acquire() as seed:
        registering = register.transaction()
        await registering.start()
        await ActionsRepository(register).register_epn("epn-forest", "EPN de Forest")

        async def seed_it() -> list[str]:
            async with seed.transaction():
                return await ActionsRepository(seed).load_reference(seeding)

        waiting = asyncio.create_task(seed_it())
        await asyncio.sleep(0.3)
        assert not waiting.done(), "the seed's insert waits for the register's insert of the same code"
        await registering.commit()
        await waiting
    row = await stored(pool, "epn-forest")
    assert row is not None and (row["name"], row["source"]) == ("EPN de Forest", "register")


async def test_a_register_write_waiting_on_the_seeds_insert_of_another_kind_leaves_that_organisation_as_it_is(
    pool: asyncpg.Pool,
) -> None:
    seeding = {**PLAN, "organisations": [{**PLAN["organisations"][1], "code": "epn-forest"}]}  # a non-profit
    async with pool.acquire() as seed, pool.acquire() as register:
        seeding_it = seed.transaction()
        await seeding_it.start()
        await ActionsRepository(seed).load_reference(seeding)

        async def register_it() -> dict[str, Any] | None:
            async with register.transaction():
                return await ActionsRepository(register).register_epn("epn-forest", "EPN de Forest")

        waiting = asyncio.create_task(register_it())
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await seeding_it.commit()
        assert await waiting is None, "the register's write left the row as it is"
    row = await stored(pool, "epn-forest")
    assert row is not None and (row["kind"], row["name"], row["source"]) == ("non-profit", "CABAN", "seed")


async def test_a_row_the_register_keeps_never_becomes_another_kind_whatever_writes_it(pool: asyncpg.Pool) -> None:
    await ActionsRepository(pool).register_epn("epn-forest", "EPN de Forest")
    with pytest.raises(asyncpg.CheckViolationError, match="organisations_register_keeps_epns"):
        await pool.execute("UPDATE organisations SET kind = 'non-profit' WHERE code = 'epn-forest'")
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("UPDATE organisations SET source = 'http' WHERE code = 'epn-forest'")
    with pytest.raises(asyncpg.NotNullViolationError):
        await pool.execute("INSERT INTO organisations (code, name, kind) VALUES ('x', 'X', 'other')")


# -- the repository's new queries, on the fake and on PostgreSQL (the repository suite's ``repo``) --
async def test_an_organisation_is_read_with_where_its_row_comes_from(repo: Any) -> None:
    assert await repo.organisation("caban") == {**PLAN["organisations"][1], "source": "seed"}
    assert await repo.organisation("nobody") is None


async def test_the_register_inserts_an_epn_renames_it_and_keeps_its_membership(repo: Any) -> None:
    epn = {"code": EPN, "name": "EPN d'Ixelles", "kind": "epn", "working_group": False, "copil": False}
    assert await repo.register_epn(EPN, "EPN d'Ixelles") == {**epn, "source": "register"}
    assert await repo.register_epn(EPN, "EPN Ixelles") == {**epn, "name": "EPN Ixelles", "source": "register"}
    assert await repo.organisation(EPN, lock=True) == {**epn, "name": "EPN Ixelles", "source": "register"}
    assert await repo.unknown_organisations([EPN]) == []
    assert [o["code"] for o in await repo.organisations()] == ["actiris", "caban", "coordination", EPN]


async def test_the_register_adopts_a_seeded_epn_and_leaves_another_kind_as_it_is(repo: Any) -> None:
    seeded = {"code": EPN, "name": "EPN (plan)", "kind": "epn", "working_group": True, "copil": False}
    assert await repo.load_reference({**PLAN, "organisations": [seeded]}) == []
    assert await repo.register_epn(EPN, "EPN d'Ixelles") == {**seeded, "name": "EPN d'Ixelles", "source": "register"}
    assert await repo.register_epn("caban", "EPN CABAN") is None
    assert await repo.organisation("caban") == {**PLAN["organisations"][1], "source": "seed"}


async def test_the_seeds_reload_leaves_the_registers_rows_and_names_them(repo: Any) -> None:
    await repo.register_epn(EPN, "EPN d'Ixelles")
    naming_it = {**PLAN, "organisations": [*PLAN["organisations"], {**PLAN["organisations"][1], "code": EPN}]}
    assert await repo.load_reference(naming_it) == [EPN]
    assert await repo.organisation(EPN) == {
        "code": EPN,
        "name": "EPN d'Ixelles",
        "kind": "epn",
        "working_group": False,
        "copil": False,
        "source": "register",
    }
    assert await repo.load_reference(PLAN) == [], "a seed without the code leaves the row too"
    assert await repo.organisation(EPN) is not None


__all__ = ["repo"]  # the fixture, shared with the repository suite
