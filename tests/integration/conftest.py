from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services.actions.app import create_app
from services.actions.settings import ActionsSettings
from services.runtime import db
from services.runtime.auth import create_api_key
from services.runtime.kafka_access import KafkaAccess
from tests.conftest import CreateDatabase
from tests.support import PrivateKafka, kafka


class ActionsUnderTest:
    def __init__(self, app: Any, client: httpx.AsyncClient, settings: ActionsSettings) -> None:
        self.app = app
        self.client = client
        self.settings = settings
        self.runtime = app.state.runtime

    async def key(self, organisation: str, role: str) -> dict[str, str]:
        token = await create_api_key(self.runtime.pool, organisation, role)
        return {"Authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def running_actions(
    database_url: str, kafka_bootstrap: str | KafkaAccess, topic_prefix: str, **overrides: Any
) -> AsyncIterator[ActionsUnderTest]:
    """The actions service in this process: real database and broker, HTTP through ASGI."""
    settings = ActionsSettings(
        database_url=database_url,
        **kafka(kafka_bootstrap).settings(),
        # Each service under test gets its own topics and consumer groups: a group shared across
        # tests would rebalance at every test and let one test's consumer read the next test's events.
        topic_prefix=f"{topic_prefix}{uuid.uuid4().hex[:6]}.",
        http_port=0,
        consumer_backoff_initial_s=0.01,
        outbox_poll_interval_s=0.2,
        **overrides,
    )
    app = create_app(settings)
    await app.state.runtime.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://actions") as client:
            yield ActionsUnderTest(app, client, settings)
    finally:
        await app.state.runtime.stop()


@pytest.fixture
async def actions(
    create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str
) -> AsyncIterator[ActionsUnderTest]:
    async with running_actions(await create_database("actions"), kafka_bootstrap, topic_prefix) as service:
        yield service


@contextlib.asynccontextmanager
async def running_service(create_app_: Any, settings: Any, base_url: str) -> AsyncIterator[Any]:
    app = create_app_(settings)
    await app.state.runtime.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client:
            yield ActionsUnderTest(app, client, settings)
    finally:
        await app.state.runtime.stop()


@pytest.fixture
async def equipment(create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Any]:
    """The equipment service in this process (same shape as ``actions``: app, client, key())."""
    from services.equipment.app import create_app as create_equipment
    from services.equipment.settings import EquipmentSettings

    settings = EquipmentSettings(
        database_url=await create_database("equipment"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=f"{topic_prefix}{uuid.uuid4().hex[:6]}.",
        http_port=0,
        outbox_poll_interval_s=0.2,
    )
    async with running_service(create_equipment, settings, "http://equipment") as service:
        yield service


@pytest.fixture
async def funding(create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Any]:
    """The funding service in this process (same shape as ``actions``: app, client, key())."""
    from services.funding.app import create_app as create_funding
    from services.funding.settings import FundingSettings

    settings = FundingSettings(
        database_url=await create_database("funding"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=f"{topic_prefix}{uuid.uuid4().hex[:6]}.",
        http_port=0,
        outbox_poll_interval_s=0.2,
    )
    async with running_service(create_funding, settings, "http://funding") as service:
        yield service


@pytest.fixture
async def gateway(create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Any]:
    """The gateway in this process (same shape as ``actions``: app, client, key()); its streams
    need a real server (tests/integration/test_gateway.py), its refusals do not."""
    from services.gateway.app import create_app as create_gateway
    from services.gateway.settings import GatewaySettings

    settings = GatewaySettings(
        database_url=await create_database("gateway"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=f"{topic_prefix}{uuid.uuid4().hex[:6]}.",
        http_port=0,
    )
    async with running_service(create_gateway, settings, "http://gateway") as service:
        yield service


@pytest.fixture
async def notifications(create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Any]:
    """The notifications service in this process (same shape as ``actions``: app, client, key());
    its mailer finds no SMTP server, which these tests do not need."""
    from services.notifications.app import create_app as create_notifications
    from services.notifications.settings import NotificationsSettings

    settings = NotificationsSettings(
        database_url=await create_database("notifications"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=f"{topic_prefix}{uuid.uuid4().hex[:6]}.",
        http_port=0,
    )
    async with running_service(create_notifications, settings, "http://notifications") as service:
        yield service


@pytest.fixture
def own_kafka(tmp_path: Path) -> Iterator[PrivateKafka]:
    """A second, private broker that this test may stop and start (scripts/infra, other ports)."""
    broker = PrivateKafka(tmp_path / "run")
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
async def outbox_db(create_database: CreateDatabase) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    """A database with the runtime's tables only (outbox, inbox …), for the relay's tests."""
    dsn = await create_database("outbox")
    pool = await db.create_pool(dsn)
    await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS})
    yield dsn, pool
    await pool.close()
