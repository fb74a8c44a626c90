"""Helpers for the integration and end-to-end tests: real processes, real Kafka, real SMTP."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
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


class Kcat:
    """Debian's ``kcat``, run with the librdkafka the ``confluent-kafka`` wheel bundles.

    Why not plain ``kcat``: Debian 12's kcat 1.7.1 links librdkafka 2.0.2, which cannot log in
    with SCRAM to Kafka 4 (a bug in its client nonce, fixed in librdkafka 2.6.1): the broker
    answers "Authentication failed during authentication due to invalid credentials" to the right
    password. The wheel in .venv carries a recent, self-contained librdkafka under a mangled name
    (``confluent_kafka.libs/librdkafka-<hash>.so.1``); a directory holding a ``librdkafka.so.1``
    symlink to it, first on ``LD_LIBRARY_PATH``, is what kcat loads instead. Partners get the same
    advice in their kit's README.

    Every run is under coreutils' ``timeout`` (SIGTERM, then SIGKILL 5 s later): a kcat that waits
    for ever (a broker that never answers, a consumer without ``-e``) fails its test with exit
    124 and what it printed, instead of holding CI until pytest's own timeout ends everything.
    """

    def __init__(self, shim_dir: Path) -> None:
        executable = shutil.which("kcat")
        if executable is None:
            raise AssertionError("kcat is not installed: scripts/install installs it (apt package kcat)")
        import confluent_kafka

        libs = Path(confluent_kafka.__file__).resolve().parent.parent / "confluent_kafka.libs"
        bundled = sorted(libs.glob("librdkafka-*.so.1"))
        if not bundled:
            raise AssertionError(f"no librdkafka-*.so.1 in {libs}: has the confluent-kafka wheel changed its layout?")
        shim_dir.mkdir(parents=True, exist_ok=True)
        link = shim_dir / "librdkafka.so.1"
        link.unlink(missing_ok=True)
        link.symlink_to(bundled[-1])
        self.executable = executable
        self.env = {
            **os.environ,
            "LD_LIBRARY_PATH": os.pathsep.join(filter(None, [str(shim_dir), os.environ.get("LD_LIBRARY_PATH")])),
        }

    def run(
        self, *args: str, cwd: Path, timeout_s: float = 30.0, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``kcat args…`` in ``cwd`` (a kit's kcat.conf names its CA relative to the kit)."""
        return subprocess.run(
            ["timeout", "--kill-after=5", str(timeout_s), self.executable, *args],
            cwd=cwd,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,  # the exit status is what the tests look at
            timeout=timeout_s + 15,  # a backstop only: timeout(1) ends it first
        )

    async def arun(
        self, *args: str, cwd: Path, timeout_s: float = 30.0, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The same from a test's event loop, which keeps serving the services under test."""
        return await asyncio.to_thread(self.run, *args, cwd=cwd, timeout_s=timeout_s, stdin=stdin)
