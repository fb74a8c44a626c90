"""Fixtures of the end-to-end tests: the four services as processes, a real SMTP server."""

from __future__ import annotations

import asyncio
import email
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from email.message import Message
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import CreateDatabase
from tests.support import ServiceProcess, free_port

SERVICES = ("actions", "equipment", "funding", "notifications")


class Inbox:
    """An SMTP server on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp() -> AsyncIterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
async def system(
    create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> AsyncIterator[dict[str, ServiceProcess]]:
    prefix = f"{topic_prefix}e2e{uuid.uuid4().hex[:6]}."  # each system its own topics
    from services.runtime.topics import ensure_topics

    await ensure_topics(kafka_bootstrap, prefix)
    env = {"PASSERELLE_KAFKA_BOOTSTRAP": kafka_bootstrap, "PASSERELLE_TOPIC_PREFIX": prefix}
    for name in SERVICES:
        env[f"PASSERELLE_{name.upper()}_DATABASE_URL"] = await create_database(name)
        env[f"PASSERELLE_{name.upper()}_HTTP_PORT"] = str(free_port())
    env["PASSERELLE_NOTIFICATIONS_SMTP_PORT"] = str(smtp[1])
    processes = {name: ServiceProcess(name, env, tmp_path) for name in SERVICES}
    try:
        for process in processes.values():
            process.start()
        await asyncio.gather(*(p.wait_ready() for p in processes.values()))
        yield processes
    finally:
        for process in processes.values():
            process.stop()


def call(
    url: str, body: dict | None = None, token: str | None = None, headers: dict[str, str] | None = None,
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
        return response.read()  # type: ignore[no-any-return]
