"""Fixtures shared by the integration and end-to-end tests.

They need the real Kafka broker and PostgreSQL that `scripts/test` starts (or any others named
by PASSERELLE_KAFKA_BOOTSTRAP and PASSERELLE_DATABASE_URL_BASE). Each test session uses its own
topic prefix and each test its own databases, so runs never see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from services.runtime.topics import ensure_topics
from tests.support import delete_topics, drop_database, kafka

ROOT = Path(__file__).resolve().parent.parent


def _env_file() -> dict[str, str]:
    path = Path(os.environ.get("PASSERELLE_RUN_DIR", ROOT / ".run")) / "env"
    if not path.is_file():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def pytest_configure(config: pytest.Config) -> None:
    """Every Kafka client of the session, the services' settings and the processes the tests start
    included, reaches the broker with the security that ``scripts/infra start`` wrote beside its
    address (the local stack's admin principal, over TLS): put it in the environment once. A
    session without the infrastructure (the unit tests alone) never connects: PLAINTEXT on
    loopback keeps the settings valid there."""
    for name, value in _env_file().items():
        if name.startswith("PASSERELLE_KAFKA_"):
            os.environ.setdefault(name, value)
    os.environ.setdefault("PASSERELLE_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")


def _setting(name: str) -> str:
    value = os.environ.get(name) or _env_file().get(name)
    if not value:
        pytest.fail(f"{name} is not set and .run/env is missing: start the infrastructure with scripts/infra start")
    return value


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return _setting("PASSERELLE_KAFKA_BOOTSTRAP")


@pytest.fixture(scope="session")
def database_url_base() -> str:
    return _setting("PASSERELLE_DATABASE_URL_BASE")


@pytest.fixture(scope="session")
async def topic_prefix(kafka_bootstrap: str) -> AsyncIterator[str]:
    """This session's topic prefix; every topic a test creates starts with it, and all of them are
    deleted at the end: a developer's broker that kept every run's topics took longer to restart
    after each run, until it no longer started within its readiness timeout."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await ensure_topics(kafka(kafka_bootstrap), prefix)
    yield prefix
    await delete_topics(kafka_bootstrap, prefix)


CreateDatabase = Callable[[str], Awaitable[str]]


@pytest.fixture
async def create_database(database_url_base: str) -> AsyncIterator[CreateDatabase]:
    """Make fresh, empty databases for a test (dropped afterwards); returns their URLs."""
    admin = await asyncpg.connect(f"{database_url_base}/postgres")
    made: list[str] = []

    async def create(label: str) -> str:
        name = f"test_{label}_{uuid.uuid4().hex[:8]}"
        await admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"{database_url_base}/{name}"

    try:
        yield create
    finally:
        try:
            for name in made:
                await drop_database(admin, name)
        finally:
            await admin.close()
