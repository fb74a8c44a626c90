"""The fault suite's harness: a stream of events with a per-key sequence, the real services as
processes (optionally with a SIGKILL planted, see ``killer``), private brokers and PostgreSQL
clusters that a scenario may stop, an SMTP server that can go away, and the figures each
scenario reports.

The flow under test is the real one of docs/architecture.md: ``DevicesDelivered`` events on the
equipment topic, consumed by the actions service's consumer ``indicators`` (inbox row, one
measurement of indicator a46, an ``IndicatorMeasured`` in the outbox, one transaction), published
by its outbox relay on the actions topic (the SMTP scenario follows the notifications service's
e-mails instead, see ``test_smtp``). Every figure is read from that service's database and from
the topics, never from logs (a note may quote a count from the log as a hint of where a fault
struck, e.g. the replays the inbox skipped):

* applied -- events with their measurement in the database *and* their ``IndicatorMeasured`` on
  the actions topic;
* lost -- events of the stream missing from either;
* duplicated -- an event measured twice, or two different ``IndicatorMeasured`` for one event
  (the relay sending the *same* event id again is at-least-once publication, which consumers'
  inboxes absorb: it is reported as ``resent``, not as a duplicate);
* order violations -- events applied after a later event of their key: in measurement id order
  (ids are allocated under the indicator's row lock, so they are the order of application) and
  in the order of the ``IndicatorMeasured`` records on their partition;
* time to recover -- from the end of the fault to the backlog drained: every event measured and
  the outbox empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from passerelle_contracts.actions_v1 import TOPIC as ACTIONS_TOPIC
from passerelle_contracts.equipment_v1 import TOPIC as EQUIPMENT_TOPIC

from services.runtime.kafka_access import KafkaAccess
from tests.support import ROOT, ServiceProcess, eventually, free_port, infra, kafka, read_topic


def _setting(name: str, default: float) -> float:
    value = os.environ.get(name) or str(default)
    try:
        return float(value)
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not a number") from None


# How many events each scenario streams through the services (the full run: 10000).
EVENTS = int(_setting("PASSERELLE_FAULT_EVENTS", 1000))
# Kafka keys (aggregates) the events are spread over, each with its own sequence 1, 2, 3 …
KEYS = int(_setting("PASSERELLE_FAULT_KEYS", 24))
# How long the broker and PostgreSQL stay down, and how long the database stays slow.
OUTAGE_S = _setting("PASSERELLE_FAULT_OUTAGE_S", 3)
SLOW_DB_S = _setting("PASSERELLE_FAULT_SLOW_DB_S", 5)
# The SMTP outage (the full run: 1800 s), and the mailer's longest wait between two tries of an
# e-mail during it (production: 300 s; a short one keeps CI short).
SMTP_OUTAGE_S = _setting("PASSERELLE_FAULT_SMTP_OUTAGE_S", 5)
SMTP_BACKOFF_MAX_S = _setting("PASSERELLE_FAULT_SMTP_BACKOFF_MAX_S", 1)
# A test's budget: start-up, the stream at a few hundred events a second, the outages.
TIMEOUT_S = int(180 + EVENTS * 0.06 + OUTAGE_S + SLOW_DB_S + SMTP_OUTAGE_S + SMTP_BACKOFF_MAX_S)
# The fault comes when this share of the stream is applied.
FAULT_AT = max(1, EVENTS // 3)

INDICATOR = "a46-devices-pupils"
CONSUMER = "indicators"
EXAMPLE = json.loads((ROOT / "contracts" / "examples" / "DevicesDelivered.v1.json").read_text())

Record = tuple[bytes, bytes, list[tuple[str, bytes]]]  # key, value, headers


# --- the stream ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    event_id: str
    key: str
    seq: int
    devices: int
    value: bytes

    @property
    def record(self) -> Record:
        return self.key.encode(), self.value, [("x-fault-seq", str(self.seq).encode())]


class Stream:
    """``n`` DevicesDelivered events to pupils' associations (each counts in indicator a46 only),
    spread round robin over ``keys`` keys, each key with its own sequence 1, 2, 3 … carried in the
    payload (``fault_seq``, an extra field readers ignore) and in a header."""

    def __init__(self, n: int = EVENTS, keys: int = KEYS) -> None:
        run = uuid.uuid4().hex[:6]
        now = datetime.now(UTC).isoformat()  # after the services started (the mailer's start cut-off)
        seqs: Counter[str] = Counter()
        self.events: list[Event] = []
        for i in range(n):
            key = f"delivery-{run}-{i % keys}"
            seqs[key] += 1
            event_id, devices = str(uuid.uuid4()), 1 + i % 5
            envelope = {
                **EXAMPLE,
                "event_id": event_id,
                "subject": key,
                "occurred_at": now,
                "correlation_id": event_id,
                "data": {
                    **EXAMPLE["data"],
                    "delivery_id": f"{key}-{seqs[key]}",
                    "donor_kind": None,  # the example's donor kind would count in a57 too
                    "devices": {"laptop": devices},
                    "total_devices": devices,
                    "fault_seq": seqs[key],
                },
            }
            self.events.append(Event(event_id, key, seqs[key], devices, json.dumps(envelope).encode()))
        self.by_id = {e.event_id: e for e in self.events}

    def __len__(self) -> int:
        return len(self.events)

    @property
    def total_devices(self) -> int:
        return sum(e.devices for e in self.events)

    def records(self) -> list[Record]:
        return [e.record for e in self.events]

    def order_violations(self, event_ids: Iterable[str]) -> int:
        """Events applied after a later event of their key (first occurrences only; events that
        are not the stream's are left out)."""
        last: dict[str, int] = {}
        seen: set[str] = set()
        violations = 0
        for event_id in event_ids:
            event = self.by_id.get(event_id)
            if event is None or event_id in seen:
                continue
            seen.add(event_id)
            if event.seq < last.get(event.key, 0):
                violations += 1
            else:
                last[event.key] = event.seq
        return violations


async def produce(
    bootstrap: str | KafkaAccess, topic: str, records: Sequence[Record], *, spread_s: float = 0.0
) -> None:
    """Every record, in order, idempotent producer with acks=all; with ``spread_s``, in 20 chunks
    over that many seconds (a stream that keeps flowing, whatever the consumers' speed)."""
    producer = AIOKafkaProducer(**kafka(bootstrap).aiokafka(), enable_idempotence=True, acks="all", linger_ms=5)
    await producer.start()
    try:
        chunks = 20 if spread_s > 0 else 1
        size = -(-len(records) // chunks)
        for n in range(chunks):
            chunk = records[n * size : (n + 1) * size]
            futures = [await producer.send(topic, value, key=key, headers=headers) for key, value, headers in chunk]
            await asyncio.gather(*futures)
            if n < chunks - 1:
                await asyncio.sleep(spread_s / chunks)
    finally:
        await producer.stop()


# --- figures ------------------------------------------------------------------------------------


@dataclass
class Figures:
    scenario: str
    events_in: int
    applied: int
    lost: int
    duplicated: int
    order_violations: int
    recover_s: float | None
    total_s: float
    note: str = ""

    HEADER = (
        f"{'scenario':<38} {'events':>7} {'applied':>8} {'lost':>5} {'dup':>4} {'order':>6} "
        f"{'recover s':>10} {'total s':>8}  note"
    )

    def line(self) -> str:
        recover = "-" if self.recover_s is None else f"{self.recover_s:.1f}"
        return (
            f"{self.scenario:<38} {self.events_in:>7} {self.applied:>8} {self.lost:>5} {self.duplicated:>4} "
            f"{self.order_violations:>6} {recover:>10} {self.total_s:>8.1f}  {self.note}"
        )

    def check(self) -> None:
        assert (self.lost, self.duplicated, self.order_violations) == (0, 0, 0), self.line()
        assert self.applied == self.events_in, self.line()


FIGURES: list[Figures] = []  # every scenario's, for the table at the end of the run


def report(figures: Figures) -> Figures:
    FIGURES.append(figures)
    print(f"\nFAULT {figures.line()}", flush=True)
    return figures


def table(figures: Sequence[Figures]) -> list[str]:
    return [
        f"fault suite: {EVENTS} events per scenario (PASSERELLE_FAULT_EVENTS), {KEYS} keys",
        Figures.HEADER,
        *(f.line() for f in figures),
    ]


# --- waiting ------------------------------------------------------------------------------------


async def wait_for(check: Callable[[], Awaitable[Any]], *, timeout: float, what: str, interval: float = 0.1) -> Any:
    """``eventually``, where errors of the database or the broker under test count as 'not yet'."""
    return await eventually(
        check,
        timeout=timeout,
        interval=interval,
        what=what,
        tolerate=(OSError, asyncpg.PostgresError, asyncpg.InterfaceError),
    )


async def query(dsn: str, sql: str, *args: Any) -> Any:
    """One value, on a connection of its own (a scenario may have restarted the server)."""
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return await conn.fetchval(sql, *args, timeout=10)
    finally:
        await conn.close(timeout=5)


# --- processes ----------------------------------------------------------------------------------


class FaultProcess(ServiceProcess):
    """A service process (``python -m services.<name>``); with ``kill_at``, run through
    ``tests.faults.killer``, which SIGKILLs it at that point (see there)."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        log_dir: Path,
        *,
        label: str | None = None,
        kill_at: str | None = None,
        kill_after: int = 0,
        kill_event_type: str | None = None,
    ) -> None:
        super().__init__(name, env, log_dir)
        self.label = label or name
        self.log_path = log_dir / f"{self.label}.log"
        self.mark = log_dir / f"{self.label}.killed.json"
        self.kill_at = kill_at
        self.kill_env = {
            "PASSERELLE_FAULT_KILL_AT": kill_at or "",
            "PASSERELLE_FAULT_KILL_AFTER": str(kill_after),
            "PASSERELLE_FAULT_KILL_MARK": str(self.mark),
            "PASSERELLE_FAULT_KILL_EVENT_TYPE": kill_event_type or "",
        }

    def start(self) -> None:
        if not self.kill_at:
            super().start()
            return
        self.starts += 1
        self.mark.unlink(missing_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.faults.killer", self.name],
                env={**self.env, **self.kill_env},
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def wait_killed(self, timeout: float) -> dict[str, Any]:
        """Until the planted SIGKILL struck; returns where (the killer's mark)."""

        async def dead() -> bool:
            return self.process is not None and self.process.poll() is not None

        await wait_for(dead, timeout=timeout, what=f"{self.label} to reach {self.kill_at}")
        assert self.process is not None
        assert self.process.returncode == -signal.SIGKILL, f"{self.label} exited with {self.process.returncode}"
        where: dict[str, Any] = json.loads(self.mark.read_text())
        self.kill_at = None  # started again, it runs unpatched
        return where

    def cpu_s(self) -> float:
        """CPU seconds the process has used so far (user + system, from /proc)."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def replays(self) -> int:
        """Records the consumer recognised as already applied (its log lines: a hint of where
        the fault struck, never a figure of the table)."""
        if not self.log_path.exists():
            return 0
        replays = 0
        for line in self.log_path.read_text(errors="replace").splitlines():
            if '"batch handled"' in line:  # one line per batch, with a count per outcome
                with contextlib.suppress(ValueError):
                    replays += int(json.loads(line).get("duplicate", 0))
        return replays


# --- the actions flow ---------------------------------------------------------------------------


@dataclass
class Outcome:
    measured: set[str]
    published: set[str]
    db_duplicated: int
    topic_duplicated: int
    db_order_violations: int
    topic_order_violations: int
    resent: int
    unexpected: int
    indicator_value: Any

    def figures(self, scenario: str, stream: Stream, recover_s: float | None, total_s: float, note: str) -> Figures:
        expected = set(stream.by_id)
        both = self.measured & self.published & expected
        extra = f"; {self.unexpected} unexpected effects" if self.unexpected else ""
        value = "" if self.indicator_value == stream.total_devices else f"; a46 = {self.indicator_value}!"
        return Figures(
            scenario=scenario,
            events_in=len(stream),
            applied=len(both),
            lost=len(expected - both),
            duplicated=self.db_duplicated + self.topic_duplicated + self.unexpected,
            order_violations=self.db_order_violations + self.topic_order_violations,
            recover_s=recover_s,
            total_s=total_s,
            note=f"{note}{extra}{value}; relay resent {self.resent}",
        )


class ActionsFlow:
    """The actions service reading the stream from the equipment topic, in its own database and
    topic prefix; ``process()`` makes a process of it (several may run: replicas)."""

    def __init__(self, dsn: str, bootstrap: str | KafkaAccess, prefix: str, log_dir: Path, **settings: str) -> None:
        self.dsn, self.prefix, self.log_dir = dsn, prefix, log_dir
        self.bootstrap = kafka(bootstrap)
        self.env = {
            "PASSERELLE_ACTIONS_DATABASE_URL": dsn,
            **self.bootstrap.environment(),
            "PASSERELLE_TOPIC_PREFIX": prefix,
            **settings,
        }

    @property
    def source_topic(self) -> str:
        return self.prefix + EQUIPMENT_TOPIC

    @property
    def actions_topic(self) -> str:
        return self.prefix + ACTIONS_TOPIC

    @property
    def group(self) -> str:
        return f"{self.prefix}actions.{CONSUMER}"

    def process(self, label: str = "actions", **kill: Any) -> FaultProcess:
        env = {**self.env, "PASSERELLE_ACTIONS_HTTP_PORT": str(free_port())}
        return FaultProcess("actions", env, self.log_dir, label=label, **kill)

    async def measured(self) -> int:
        return int(await query(self.dsn, "SELECT count(*) FROM measurements WHERE indicator_code = $1", INDICATOR))

    async def in_inbox(self, event_id: str) -> bool:
        return bool(
            await query(
                self.dsn,
                "SELECT count(*) FROM inbox WHERE consumer = $1 AND event_id = $2",
                CONSUMER,
                uuid.UUID(event_id),
            )
        )

    async def at_least(self, n: int) -> int:
        measured = await self.measured()
        return measured if measured >= n else 0

    async def drained(self, stream: Stream) -> bool:
        """Every event measured and every outbox row published."""
        conn = await asyncpg.connect(self.dsn, timeout=5)
        try:
            measured = await conn.fetchval("SELECT count(*) FROM measurements WHERE indicator_code = $1", INDICATOR)
            waiting = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        finally:
            await conn.close(timeout=5)
        return bool(measured >= len(stream) and waiting == 0)

    async def wait_drained(self, stream: Stream, *, since: float, timeout: float = TIMEOUT_S) -> float:
        """Seconds from ``since`` (a time.monotonic()) to the backlog drained."""
        await wait_for(lambda: self.drained(stream), timeout=timeout, what=f"all {len(stream)} events applied")
        return time.monotonic() - since

    async def committed(self) -> int:
        """Records of the source topic the consumer group has committed (sum of its offsets)."""
        admin = AIOKafkaAdminClient(**kafka(self.bootstrap).aiokafka(), request_timeout_ms=15_000)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(self.group)
        finally:
            await admin.close()
        return sum(meta.offset for tp, meta in offsets.items() if tp.topic == self.source_topic and meta.offset > 0)

    async def stable_members(self) -> int:
        """Members of the consumer group once it is stable (no rebalance under way), else 0."""
        admin = AIOKafkaAdminClient(**kafka(self.bootstrap).aiokafka(), request_timeout_ms=15_000)
        await admin.start()
        try:
            [response] = await admin.describe_consumer_groups([self.group])
        finally:
            await admin.close()
        # DescribeGroups: (error_code, group, state, protocol_type, protocol, members, …)
        [group] = response.groups
        return len(group[5]) if group[2] == "Stable" else 0

    async def outcome(self, stream: Stream) -> Outcome:
        conn = await asyncpg.connect(self.dsn)
        try:
            rows = await conn.fetch(
                "SELECT source_event_id FROM measurements WHERE indicator_code = $1 ORDER BY id", INDICATOR
            )
            inbox = await conn.fetch("SELECT event_id FROM inbox WHERE consumer = $1", CONSUMER)
            value = await conn.fetchval("SELECT current_value FROM indicators WHERE code = $1", INDICATOR)
        finally:
            await conn.close()
        measured_order = [str(r["source_event_id"]) for r in rows]
        measured = Counter(measured_order)
        applied_ids = {str(r["event_id"]) for r in inbox}

        records = await read_topic(self.bootstrap, self.actions_topic, timeout=60 + len(stream) / 100)
        published: dict[str, set[str]] = {}  # source event -> IndicatorMeasured event ids
        topic_order: list[str] = []
        sent: Counter[str] = Counter()
        for record in records:
            envelope = json.loads(record.value)
            if envelope["event_type"] != "IndicatorMeasured" or envelope["data"]["indicator_code"] != INDICATOR:
                continue
            source = str(envelope["data"]["source_event_id"])
            published.setdefault(source, set()).add(envelope["event_id"])
            topic_order.append(source)
            sent[envelope["event_id"]] += 1
        expected = set(stream.by_id)
        return Outcome(
            measured=set(measured),
            published=set(published),
            db_duplicated=sum(n - 1 for n in measured.values()),
            topic_duplicated=sum(len(ids) - 1 for ids in published.values()),
            db_order_violations=stream.order_violations(measured_order),
            topic_order_violations=stream.order_violations(topic_order),
            resent=sum(n - 1 for n in sent.values()),
            unexpected=len((set(measured) | applied_ids | set(published)) - expected),
            indicator_value=value,
        )


# --- private infrastructure ---------------------------------------------------------------------


# Run with the private cluster's environment: tools.postgres reads it at import.
_CRASH = """
import sys
from tools.postgres import Cluster
cluster = Cluster()
done = cluster.as_pg(*cluster.tool("pg_ctl", "stop", "-D", cluster.data, "-m", "immediate", "-w"))
sys.exit(done.returncode)
"""


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own (scripts/infra with its own run directory and port;
    as root it runs as the postgres user, see tools/postgres.py); ``crash()`` stops it with
    ``pg_ctl stop -m immediate`` (no checkpoint, clients cut: a crash as far as the data goes)."""

    def __init__(self, run_dir: Path) -> None:
        self.port = free_port()
        self.env = {**os.environ, "PASSERELLE_RUN_DIR": str(run_dir), "PASSERELLE_PG_PORT": str(self.port)}
        self.url_base = f"postgresql://passerelle:passerelle@127.0.0.1:{self.port}"

    async def start(self) -> None:
        await asyncio.to_thread(infra, self.env, "start", "postgres")

    async def crash(self) -> None:
        def run() -> None:
            result = subprocess.run(
                [sys.executable, "-c", _CRASH], env=self.env, cwd=ROOT, check=False, capture_output=True, timeout=60
            )
            assert result.returncode == 0, result.stderr.decode()

        await asyncio.to_thread(run)

    def close(self) -> None:
        """Stop it and delete its data (which may live in /var/lib/passerelle, see tools/postgres.py)."""
        subprocess.run(
            [ROOT / "scripts" / "infra", "reset", "postgres"], env=self.env, check=False, capture_output=True
        )


# --- SMTP ---------------------------------------------------------------------------------------


@dataclass
class Received:
    message_id: str
    to: str
    event_id: str


@dataclass
class SmtpSink:
    """An SMTP server on loopback, in a thread of its own, that keeps what it receives.
    ``down()`` closes the listening socket (a session in progress finishes: the outage never
    cuts a message in half), ``up()`` listens again on the same port."""

    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smtp-sink", daemon=True)
        self._thread.start()
        self._server: asyncio.AbstractServer | None = None

    async def handle_DATA(self, server: object, session: object, envelope: SmtpEnvelope) -> str:
        message = message_from_bytes(envelope.original_content or b"", policy=default_policy)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.received.append(
                Received(str(message["Message-ID"]), str(message["To"]), str(message["X-Passerelle-Event-Id"]))
            )
        return "250 OK"

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def up(self) -> None:
        async def listen() -> asyncio.AbstractServer:
            return await self._loop.create_server(lambda: SMTP(self, hostname="fault-sink"), "127.0.0.1", self.port)

        self._server = asyncio.run_coroutine_threadsafe(listen(), self._loop).result(timeout=10)

    def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            self._loop.call_soon_threadsafe(server.close)
            with contextlib.suppress(TimeoutError):
                asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self._loop).result(timeout=5)

    def close(self) -> None:
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
