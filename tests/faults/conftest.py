"""Fixtures of the fault suite (see ``harness``): private infrastructure a scenario may break, an
SMTP sink, and the table of figures at the end of the run."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.runtime.topics import ensure_topics
from tests.conftest import CreateDatabase
from tests.faults.harness import FIGURES, ActionsFlow, PrivatePostgres, SmtpSink, table
from tests.support import PrivateKafka, kafka


@pytest.fixture
def private_kafka(tmp_path: Path) -> Iterator[PrivateKafka]:
    """Not started: the test starts it (and may stop and start it again); stopped at the end."""
    broker = PrivateKafka(tmp_path / "kafka-run")
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    """Not started: the test starts it; stopped and its data deleted at the end."""
    cluster = PrivatePostgres(tmp_path / "pg-run")
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.up()
    try:
        yield sink
    finally:
        sink.close()


@pytest.fixture
async def actions_flow(
    create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> AsyncIterator[ActionsFlow]:
    """The actions flow on the shared broker and PostgreSQL: its own database and topics."""
    prefix = f"{topic_prefix}f{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka(kafka_bootstrap), prefix)
    yield ActionsFlow(await create_database("faults"), kafka_bootstrap, prefix, tmp_path)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("fault suite figures")
        for line in table(FIGURES):
            terminalreporter.write_line(line)
