"""The equipment service learns the EPNs from the funding service's register, against the real
broker and database: the register's events published to the funding topic become organisations
(once each, in order), a code that is another kind of organisation here is dead-lettered with its
reason, HTTP no longer changes the register's rows, and the database keeps both rules even when
the two writers meet on one code."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from passerelle_contracts.funding_v1 import TOPIC

from services.equipment.app import MIGRATIONS
from services.equipment.settings import EquipmentSettings
from services.equipment.sql import EquipmentRepository
from services.runtime import db
from tests.conftest import CreateDatabase
from tests.epn_register import EPN, dead_lettered, event_id, record, registered, registered_withdrawn_and_renamed
from tests.integration.conftest import running_service
from tests.support import eventually, produce

pytestmark = pytest.mark.infra

SCHOOL = "ecole-secondaire-exemple"  # the seed's school: a code already taken
COORDINATION = "coordination-inclusion-numerique"


async def stored(pool: asyncpg.Pool, code: str) -> dict[str, Any]:
    """The organisation's row as the database holds it, its source included."""
    row = await pool.fetchrow("SELECT * FROM organisations WHERE code = $1", code)
    assert row is not None, f"no organisation {code}"
    return dict(row)


@pytest.fixture
async def equipment(create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Any]:
    """The equipment service in this process, retrying a failing event quickly before its dead letter."""
    from services.equipment.app import create_app

    settings = EquipmentSettings(
        database_url=await create_database("equipment_epns"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=f"{topic_prefix}{uuid.uuid4().hex[:6]}.",
        http_port=0,
        outbox_poll_interval_s=0.2,
        consumer_backoff_initial_s=0.01,
        consumer_backoff_max_s=0.05,
    )
    async with running_service(create_app, settings, "http://equipment") as service:
        yield service


async def test_the_registers_events_on_the_funding_topic_become_organisations_once_and_in_order(
    equipment: Any, kafka_bootstrap: str
) -> None:
    topic = equipment.runtime.topic(TOPIC)
    pool = equipment.runtime.pool
    await produce(kafka_bootstrap, topic, registered_withdrawn_and_renamed())

    async def renamed_here() -> dict[str, Any] | None:
        row = await pool.fetchrow("SELECT * FROM organisations WHERE code = $1", EPN)
        return dict(row) if row is not None and row["name"] == "Espace numérique d'Ixelles" else None

    row = await eventually(renamed_here, what="the EPN registered, then renamed")
    assert row == {
        "code": EPN,
        "name": "Espace numérique d'Ixelles",
        "kind": "epn",
        "commune": "Ixelles",
        "source": "register",
    }, "a withdrawn EPN is still an organisation; the register's hours are not kept here"
    applied = await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'epn-register'")
    assert applied == 2, "the registration delivered twice and the change, once each; the label decision ignored"

    coordination = await equipment.key(COORDINATION, "coordination")
    listed = {o["code"]: o for o in (await equipment.client.get("/organisations", headers=coordination)).json()}
    assert (listed[EPN]["source"], listed[SCHOOL]["source"]) == ("register", "seed")
    typed = {"name": "EPN Ixelles", "kind": "epn", "commune": "Ixelles"}
    refused = await equipment.client.put(f"/organisations/{EPN}", json=typed, headers=coordination)
    assert refused.status_code == 409, refused.text
    assert "managed by the EPN register" in refused.json()["reason"]
    same = {"name": "Espace numérique d'Ixelles", "kind": "epn", "commune": "Ixelles"}
    repeated = await equipment.client.put(f"/organisations/{EPN}", json=same, headers=coordination)
    assert (repeated.status_code, repeated.json()) == (200, {"code": EPN, **same}), "a PUT that changes nothing"
    assert await pool.fetchval("SELECT source FROM organisations WHERE code = $1", EPN) == "register"


async def test_an_epn_under_a_code_taken_by_a_school_is_dead_lettered_with_its_reason_and_the_school_kept(
    equipment: Any, kafka_bootstrap: str
) -> None:
    topic = equipment.runtime.topic(TOPIC)
    pool = equipment.runtime.pool
    school = await stored(pool, SCHOOL)
    taken = record(registered(SCHOOL, epn_name="EPN de l'école"))
    await produce(kafka_bootstrap, topic, [taken, record(registered())])
    await eventually(
        lambda: pool.fetchval("SELECT count(*) FROM organisations WHERE code = $1", EPN),
        what="the next EPN registered: the partition moved on",
    )
    headers = await dead_lettered(kafka_bootstrap, topic, taken[1], what="the school's code dead-lettered")
    assert (headers["x-dlq-reason"], headers["x-dlq-consumer"]) == ("handler-failed", "epn-register")
    assert f"the EPN register's code {SCHOOL} is already the organisation" in headers["x-dlq-error"]
    assert "of kind secondary-school here, not an EPN" in headers["x-dlq-error"]
    assert await stored(pool, SCHOOL) == school
    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event_id(taken[1])) == 0


@pytest.fixture
async def pool(create_database: CreateDatabase) -> AsyncIterator[asyncpg.Pool]:
    """The equipment database migrated, nothing running on it."""
    pool = await db.create_pool(await create_database("equipment_sources"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "equipment": MIGRATIONS})
        yield pool
    finally:
        await pool.close()


async def test_a_register_write_waiting_on_an_http_insert_of_the_same_code_leaves_that_organisation_as_it_is(
    pool: asyncpg.Pool,
) -> None:
    """Neither writer locks a row that does not exist yet: the upserts' conflict clauses decide."""
    async with pool.acquire() as http, pool.acquire() as register:
        typing = http.transaction()
        await typing.start()
        await EquipmentRepository(http).put_organisation("epn-forest", "Ecole de Forest", "primary-school", "Forest")

        async def register_it() -> dict[str, Any] | None:
            async with register.transaction():
                return await EquipmentRepository(register).register_epn("epn-forest", "EPN de Forest", "Forest")

        waiting = asyncio.create_task(register_it())
        await asyncio.sleep(0.3)
        assert not waiting.done(), "the register's insert waits for the HTTP insert of the same code"
        await typing.commit()
        assert await waiting is None, "the register's write left the row as it is"
    row = await stored(pool, "epn-forest")
    assert (row["kind"], row["name"], row["source"]) == ("primary-school", "Ecole de Forest", "http")


async def test_an_http_write_waiting_on_the_registers_insert_of_the_same_code_leaves_the_epn_as_it_is(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as register, pool.acquire() as http:
        registering = register.transaction()
        await registering.start()
        await EquipmentRepository(register).register_epn("epn-forest", "EPN de Forest", "Forest")

        async def put_it() -> dict[str, Any] | None:
            async with http.transaction():
                return await EquipmentRepository(http).put_organisation("epn-forest", "EPN Forest", "epn", None)

        waiting = asyncio.create_task(put_it())
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await registering.commit()
        assert await waiting is None, "the HTTP write left the row as it is"
    row = await stored(pool, "epn-forest")
    assert (row["name"], row["commune"], row["source"]) == ("EPN de Forest", "Forest", "register")


async def test_a_row_the_register_keeps_never_becomes_another_kind_whatever_writes_it(pool: asyncpg.Pool) -> None:
    repo = EquipmentRepository(pool)
    await repo.register_epn("epn-forest", "EPN de Forest", None)
    with pytest.raises(asyncpg.CheckViolationError, match="organisations_register_keeps_epns"):
        await pool.execute("UPDATE organisations SET kind = 'non-profit' WHERE code = 'epn-forest'")
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("UPDATE organisations SET source = 'elsewhere' WHERE code = 'epn-forest'")
