"""Fixtures of the end-to-end tests: the four services as processes, a real SMTP server."""

from __future__ import annotations

import asyncio
import email
import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from services.access.admin import Admin
from services.access.cli import bootstrap_services, retire_services
from services.access.principals import service_principal
from tests.conftest import CreateDatabase
from tests.e2e import stacks
from tests.e2e.stacks import (
    SERVICES,
    STACK,
    ContainerBroker,
    ContainerDatabase,
    ContainerService,
    LocalBroker,
    container_env_ready,
)
from tests.support import ServiceProcess, free_port, kafka


class Inbox:
    """An SMTP server on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.original_content or b"", policy=default)
        assert isinstance(message, EmailMessage)  # the default policy builds EmailMessage
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


if STACK == "containers":

    @pytest.fixture(scope="session")
    async def container_infra(
        tmp_path_factory: pytest.TempPathFactory,
    ) -> AsyncIterator[tuple[ContainerBroker, ContainerDatabase]]:
        """Kafka and PostgreSQL as containers, once per test session."""
        container_env_ready()
        secrets = tmp_path_factory.mktemp("kafka-secrets")
        broker = ContainerBroker(free_port(), free_port(), free_port(), secrets)
        database = ContainerDatabase(free_port())
        # Every client of this session (the tests', the services') reaches this broker as its
        # admin, not the local stack's (tests/conftest.py put that one in the environment).
        saved = {k: os.environ.get(k) for k in broker.access.environment()}
        os.environ.pop("PASSERELLE_KAFKA_PASSWORD_FILE", None)
        os.environ.update(broker.access.environment())
        try:
            broker.start()
            database.start()
            await asyncio.gather(broker.wait_ready(), database.wait_ready())
            yield broker, database
        finally:
            broker.stop()
            database.stop()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    @pytest.fixture(scope="session")
    def kafka_bootstrap(container_infra: tuple[ContainerBroker, ContainerDatabase]) -> str:
        return container_infra[0].bootstrap

    @pytest.fixture(scope="session")
    def database_url_base(container_infra: tuple[ContainerBroker, ContainerDatabase]) -> str:
        return container_infra[1].url_base

    @pytest.fixture
    def broker(container_infra: tuple[ContainerBroker, ContainerDatabase]) -> ContainerBroker:
        return container_infra[0]

else:

    @pytest.fixture
    def broker(kafka_bootstrap: str) -> LocalBroker:
        return LocalBroker(kafka_bootstrap)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if STACK == "containers":
        terminalreporter.write_line(f"e2e stack: containers; containers started: {stacks.started_containers}")


@pytest.fixture
def service_env() -> dict[str, str]:
    """Settings a test module gives its services besides the system's own (override it there)."""
    return {}


@pytest.fixture
async def system(
    create_database: CreateDatabase,
    kafka_bootstrap: str,
    topic_prefix: str,
    tmp_path: Path,
    smtp: tuple[Inbox, int],
    service_env: dict[str, str],
) -> AsyncIterator[dict[str, Any]]:
    prefix = f"{topic_prefix}e2e{uuid.uuid4().hex[:6]}."  # each system its own topics
    from services.runtime.topics import ensure_topics

    access = kafka(kafka_bootstrap)
    await ensure_topics(access, prefix)
    # Each service as its own principal, with the ACLs the registry gives it (as in production).
    credentials = tmp_path / "kafka-credentials"
    await asyncio.to_thread(bootstrap_services, Admin(access), prefix, credentials)
    env = {
        "PASSERELLE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PASSERELLE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "PASSERELLE_KAFKA_CA_FILE": access.ca_file or "",
        "PASSERELLE_TOPIC_PREFIX": prefix,
    }
    for name in SERVICES:
        env[f"PASSERELLE_{name.upper()}_DATABASE_URL"] = await create_database(name)
        env[f"PASSERELLE_{name.upper()}_HTTP_PORT"] = str(free_port())
    env["PASSERELLE_NOTIFICATIONS_SMTP_PORT"] = str(smtp[1])
    # The dashboard's System page reads the others' metrics where this system serves them.
    env["PASSERELLE_DASHBOARD_SERVICE_URLS"] = json.dumps(
        {
            name: f"http://127.0.0.1:{env[f'PASSERELLE_{name.upper()}_HTTP_PORT']}"
            for name in SERVICES
            if name != "dashboard"
        }
    )
    env.update(service_env)
    own = {name: principal_env(name, prefix, credentials) for name in SERVICES}
    if STACK == "containers":
        env.update({f"PASSERELLE_{name.upper()}_HTTP_HOST": "127.0.0.1" for name in SERVICES})
        env["PASSERELLE_LOG_JSON"] = "true"
        processes: dict[str, Any] = {name: ContainerService(name, env | own[name]) for name in SERVICES}
    else:
        processes = {name: ServiceProcess(name, env | own[name], tmp_path) for name in SERVICES}
    try:
        for process in processes.values():
            process.start()
        await asyncio.gather(*(p.wait_ready() for p in processes.values()))
        yield processes
    finally:
        for process in processes.values():
            process.stop()
        await asyncio.to_thread(retire_services, Admin(access), prefix)  # credentials pile up otherwise


def principal_env(service: str, prefix: str, credentials: Path) -> dict[str, str]:
    """A service's own Kafka principal (its password inline: a container sees no file of ours)."""
    return {
        "PASSERELLE_KAFKA_USERNAME": service_principal(service, prefix),
        "PASSERELLE_KAFKA_PASSWORD": (credentials / f"{service}.password").read_text().strip(),
    }


def call(
    url: str,
    body: dict | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
) -> tuple[int, Any]:
    """JSON over real HTTP; returns (status, decoded body)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        body: bytes = response.read()
        return body
