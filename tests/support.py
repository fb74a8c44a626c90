"""Helpers for the integration and end-to-end tests: real processes, real Kafka, real SMTP."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.runtime.kafka_access import KafkaAccess

ROOT = Path(__file__).resolve().parent.parent


def kafka(broker: str | KafkaAccess) -> KafkaAccess:
    """How a test reaches a broker: a bare bootstrap is the session's broker, reached with the
    security of PASSERELLE_KAFKA_* (tests/conftest.py puts the local stack's admin there); a
    private broker (a test's own, a cluster) comes with its own ``KafkaAccess``."""
    return broker if isinstance(broker, KafkaAccess) else KafkaAccess.from_environment(broker)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def eventually(
    check: Callable[[], Any],
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "",
    tolerate: tuple[type[BaseException], ...] = (),
) -> Any:
    """Poll an (async or sync) check until it returns something truthy; the errors in
    ``tolerate`` count as "not yet" (e.g. the database or the broker under test is down)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if asyncio.iscoroutine(last):
                last = await last
        except tolerate as error:
            last = error
        else:
            if last:
                return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or check}; last value: {last!r}")


async def read_topic(bootstrap: str | KafkaAccess, topic: str, *, timeout: float = 2.0) -> list[Any]:
    """Every record on the topic from the beginning (no consumer group, nothing committed)."""
    consumer = AIOKafkaConsumer(**kafka(bootstrap).aiokafka(), enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []
        deadline = time.monotonic() + timeout

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in tps])

        while await behind() and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for items in batch.values():
                records.extend(items)
        return records
    finally:
        await consumer.stop()


async def produce(bootstrap: str | KafkaAccess, topic: str, messages: Sequence[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(**kafka(bootstrap).aiokafka(), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def envelopes(records: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records]


class ServiceProcess:
    """One service run the way it is deployed: `python -m services.<name>` with its environment."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = {**os.environ, **env, "PASSERELLE_LOG_JSON": "true"}
        self.port = int(env[f"PASSERELLE_{name.upper()}_HTTP_PORT"])
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")
        try:
            with urllib.request.urlopen(self.url + "/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    async def wait_ready(self, timeout: float = 60.0) -> None:
        await eventually(self.ready, timeout=timeout, interval=0.2, what=f"{self.name} /ready")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed or committed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: frozen, its connections open (a leader that stops answering but is not dead)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def tail(self, lines: int = 40) -> str:
        return (
            "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:]) if self.log_path.exists() else ""
        )

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", f"services.{self.name}", *args],
            env=self.env,
            cwd=ROOT,
            check=False,  # the assertion below shows stderr
            capture_output=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr.decode()
        return result.stdout.decode().strip()


async def drop_database(admin: asyncpg.Connection, name: str) -> None:
    """Drop a test database, ending its sessions. An autovacuum worker may be busy in it: that
    session belongs to the server, which our role may not end, so wait for it to finish."""
    for _ in range(100):
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except asyncpg.exceptions.InsufficientPrivilegeError:
            await asyncio.sleep(0.1)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def delete_topics(bootstrap: str | KafkaAccess, prefix: str) -> list[str]:
    """Delete every topic whose name starts with ``prefix`` (a test session's); returns them."""
    admin = AIOKafkaAdminClient(**kafka(bootstrap).aiokafka(), request_timeout_ms=30_000)
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics() if t.startswith(prefix))
        if names:
            await admin.delete_topics(names, timeout_ms=30_000)
        return names
    finally:
        await admin.close()


class PrivateKafka:
    """A broker of a test's own (scripts/infra with its own run directory and ports), which it may
    stop and start: the shared one is never touched. Secure like the shared one, with its own CA
    and admin password (made at its first start): ``access`` is how to reach it."""

    def __init__(self, run_dir: Path) -> None:
        port = free_port()
        self.run_dir = run_dir
        self.env = {
            **os.environ,
            "PASSERELLE_RUN_DIR": str(run_dir),
            "PASSERELLE_KAFKA_PORT": str(port),
            "PASSERELLE_KAFKA_CONTROLLER_PORT": str(free_port()),
            "PASSERELLE_KAFKA_INTERNAL_PORT": str(free_port()),
        }
        self.bootstrap = f"127.0.0.1:{port}"

    @property
    def access(self) -> KafkaAccess:
        """As its admin (once it has started at least once)."""
        state = self.run_dir / "kafka"
        password = (state / "credentials" / "admin.password").read_text().strip()
        return KafkaAccess(self.bootstrap, "SASL_SSL", "admin", password, str(state / "pki" / "ca.crt"))

    def start_now(self) -> None:
        infra(self.env, "start", "kafka")

    def stop_now(self) -> None:
        infra(self.env, "stop", "kafka")

    async def start(self) -> None:
        await asyncio.to_thread(self.start_now)

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_now)

    def close(self) -> None:
        subprocess.run([ROOT / "scripts" / "infra", "stop", "kafka"], env=self.env, check=False, capture_output=True)


def infra(env: dict[str, str], *args: str) -> None:
    """``scripts/infra`` with ``env`` (a private run directory and ports): it must succeed."""
    result = subprocess.run([ROOT / "scripts" / "infra", *args], env=env, check=False, capture_output=True, timeout=180)
    assert result.returncode == 0, f"scripts/infra {' '.join(args)}: {result.stderr.decode()}"
