"""Dead letters from the console (``python -m services.<name> dlq …``, issue 9): listed, shown,
replayed once to their original topic through the normal path, discarded, every decision in
``operator_audit``; and the mistakes a person can make end with a reason and status 2."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from passerelle_contracts.equipment_v1 import TOPIC as EQUIPMENT_TOPIC
from passerelle_contracts.funding_v1 import TOPIC as FUNDING_TOPIC

from services.runtime import db, dlq
from services.runtime.settings import ServiceSettings
from services.runtime.topics import ensure_topics
from services.runtime.uow import Session
from tests.conftest import CreateDatabase
from tests.integration.conftest import ActionsUnderTest
from tests.support import ROOT, eventually, kafka, read_topic

pytestmark = pytest.mark.infra

EXAMPLES = ROOT / "contracts" / "examples"


def delivered() -> dict[str, Any]:
    """A valid DevicesDelivered (25 devices to a pupils' association: indicator a46) of its own."""
    event: dict[str, Any] = json.loads((EXAMPLES / "DevicesDelivered.v1.json").read_text("utf-8"))
    event["event_id"] = str(uuid.uuid4())
    return event


async def send(
    bootstrap: str,
    topic: str,
    value: bytes,
    *,
    key: bytes,
    headers: list[tuple[str, bytes]],
    partition: int | None = None,
) -> int:
    producer = AIOKafkaProducer(**kafka(bootstrap).aiokafka(), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, value, key=key, headers=headers, partition=partition)
        return int(sent.offset)
    finally:
        await producer.stop()


def relay_headers(event: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The headers the outbox relay puts on a record (outbox.headers_of)."""
    return [
        ("content-type", b"application/json"),
        ("event_type", event["event_type"].encode()),
        ("event_id", event["event_id"].encode()),
        ("correlation_id", event["correlation_id"].encode()),
    ]


def console(service: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command as an operator runs it: its own process, the service's environment."""
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}", *args],
        env={**os.environ, **env, "PASSERELLE_LOG_LEVEL": "WARNING"},
        cwd=ROOT,
        check=False,  # the tests read the exit status and stderr
        capture_output=True,
        text=True,
        timeout=90,
    )


async def test_a_dead_letter_whose_cause_is_fixed_is_replayed_once_from_the_console_and_applied_once(
    actions: ActionsUnderTest, kafka_bootstrap: str
) -> None:
    pool = actions.runtime.pool
    topic = actions.runtime.topic(EQUIPMENT_TOPIC)
    env = {
        "PASSERELLE_ACTIONS_DATABASE_URL": actions.settings.database_url,
        "PASSERELLE_TOPIC_PREFIX": actions.settings.topic_prefix,
        "PASSERELLE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "USER": "night-shift",
    }
    before = await pool.fetchval("SELECT current_value FROM indicators WHERE code = 'a46-devices-pupils'")
    # A constraint added by mistake refuses every derived measurement: the handler fails on every
    # try, and the event is dead-lettered (handler-failed); the partition moves on.
    await pool.execute("ALTER TABLE measurements ADD CONSTRAINT by_mistake CHECK (origin <> 'derived') NOT VALID")
    event = delivered()
    original_offset = await send(
        kafka_bootstrap, topic, json.dumps(event).encode(), key=b"delivery-dlq", headers=relay_headers(event)
    )

    async def dead_lettered() -> list[Any]:
        records = await read_topic(kafka_bootstrap, topic + ".dlq")
        return [r for r in records if json.loads(r.value)["event_id"] == event["event_id"]]

    dead = (await eventually(dead_lettered, timeout=30, what="the event dead-lettered"))[0]
    await pool.execute("ALTER TABLE measurements DROP CONSTRAINT by_mistake")  # the cause is fixed

    listed = console("actions", env, "dlq", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 1, listed.stdout + listed.stderr
    short_id = lines[0].split()[0]
    assert short_id == f"equipment:{dead.partition}:{dead.offset}"
    assert "handler-failed" in lines[0] and "indicators" in lines[0]
    assert f"DevicesDelivered {event['event_id']}" in lines[0]
    assert "CheckViolationError" in lines[0]
    as_json = json.loads(console("actions", env, "dlq", "list", "--json", "--reason", "handler-failed").stdout)
    [entry] = as_json["dead_letters"]
    full_id = f"{topic}.dlq:{dead.partition}:{dead.offset}"
    assert entry["id"] == full_id and entry["short_id"] == short_id and as_json["unread"] == 0
    assert entry["original"] == {"topic": topic, "partition": dead.partition, "offset": original_offset}

    shown = console("actions", env, "dlq", "show", short_id)
    assert shown.returncode == 0, shown.stderr
    assert "x-dlq-reason: handler-failed" in shown.stdout
    assert '  "event_type": "DevicesDelivered",' in shown.stdout, "the value as pretty JSON"

    dry = console("actions", env, "dlq", "replay", "--dry-run", short_id)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith(f"would replay {short_id} to {topic}")
    assert len(await read_topic(kafka_bootstrap, topic)) == 1, "a dry run publishes nothing"
    assert await pool.fetchval("SELECT count(*) FROM operator_audit") == 0

    replayed = console("actions", env, "dlq", "replay", short_id, "--operator", "alice")
    assert replayed.returncode == 0, replayed.stderr
    assert "alice  dlq-replay" in replayed.stdout and "  done  replayed_to=" in replayed.stdout

    async def applied() -> bool:
        return bool(
            await pool.fetchval(
                "SELECT count(*) FROM inbox WHERE consumer = 'indicators' AND event_id = $1",
                uuid.UUID(event["event_id"]),
            )
        )

    await eventually(applied, timeout=30, what="the replayed event applied")
    after = await pool.fetchval("SELECT current_value FROM indicators WHERE code = 'a46-devices-pupils'")
    assert after == before + event["data"]["total_devices"]
    audit = await pool.fetch("SELECT * FROM operator_audit")
    assert len(audit) == 1
    row = audit[0]
    assert (row["operator"], row["action"], row["target"], row["outcome"]) == ("alice", "dlq-replay", full_id, "done")
    assert (row["topic"], row["partition"], row["offset"], row["event_id"]) == (
        topic,
        dead.partition,
        original_offset,
        event["event_id"],
    )
    records = await read_topic(kafka_bootstrap, topic)
    assert len(records) == 2
    again = records[-1]
    assert row["detail"]["replayed_to"] == f"{topic}:{again.partition}:{again.offset}"
    assert (again.key, again.value) == (dead.key, dead.value)
    headers = dict(again.headers)
    assert headers["x-replayed-from"] == full_id.encode()
    assert not [name for name in headers if name.startswith("x-dlq-")]
    assert (headers["event_id"], headers["correlation_id"]) == (
        event["event_id"].encode(),
        event["correlation_id"].encode(),
    ), "the original headers travel again"

    refused = console("actions", env, "dlq", "replay", short_id)
    assert refused.returncode == 2
    assert f"{short_id} was already replayed" in refused.stderr and "by alice; --force" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len(await read_topic(kafka_bootstrap, topic)) == 2, "nothing published again"

    hidden = console("actions", env, "dlq", "list")
    assert hidden.returncode == 0 and hidden.stdout == ""
    assert "1 replayed or discarded not shown" in hidden.stderr
    everything = console("actions", env, "dlq", "list", "--all")
    assert f"{short_id}  replayed " in everything.stdout and "by alice" in everything.stdout

    bad_date = console("actions", env, "dlq", "list", "--since", "last tuesday")
    assert bad_date.returncode == 2
    assert bad_date.stderr.startswith("dlq: 'last tuesday' is not an ISO date or time")
    unknown = console("actions", env, "dlq", "show", "equipment:0:999999")
    assert (unknown.returncode, unknown.stderr.strip()) == (
        2,
        f"dlq: no dead letter {topic}.dlq:0:999999 (never written, or expired)",
    )
    counted = await pool.fetch(
        "SELECT indicator_code, count(*) AS n FROM measurements WHERE source_event_id = $1 GROUP BY indicator_code",
        uuid.UUID(event["event_id"]),
    )
    assert counted and all(r["n"] == 1 for r in counted), "applied once: one measurement per indicator it feeds"


# -- in process: selection, ids, discard, a dead letter without its value -------------------------


class Desk:
    """The dlq commands of a service whose consumer 'indicators' reads equipment and funding."""

    def __init__(self, session: Session[Any], prefix: str) -> None:
        self.session = session
        self.prefix = prefix
        self.equipment = prefix + EQUIPMENT_TOPIC
        self.funding = prefix + FUNDING_TOPIC
        self.consumers = {"indicators": (self.equipment, self.funding)}

    async def run(self, *argv: str) -> None:
        parser = argparse.ArgumentParser()
        dlq.configure(parser)
        await dlq.run(parser.parse_args(argv), self.session, self.consumers)

    async def dead_letter(
        self, topic: str, value: bytes, *, reason: str, consumer: str = "indicators", offset: int = 7, **extra: str
    ) -> str:
        """Write a dead letter as consumer._dead_letter does; returns its id."""
        headers = {
            "x-dlq-reason": reason,
            "x-dlq-error": f"{reason}: what went wrong",
            "x-dlq-consumer": consumer,
            "x-dlq-attempts": "0",
            "x-dlq-original-topic": topic,
            "x-dlq-original-partition": "0",
            "x-dlq-original-offset": str(offset),
            "x-dlq-failed-at": "2025-03-01T10:00:00+00:00",
            **extra,
        }
        at = await send(
            self.session.settings.kafka_bootstrap,
            topic + ".dlq",
            value,
            key=b"k",
            headers=[(k, v.encode()) for k, v in headers.items()],
            partition=0,
        )
        return f"{topic}.dlq:0:{at}"


@pytest.fixture
async def desk(create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Desk]:
    prefix = f"{topic_prefix}{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka(kafka_bootstrap), prefix)
    url = await create_database("dlq")
    pool = await db.create_pool(url)
    await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS})
    settings = ServiceSettings(
        service_name="actions", database_url=url, http_port=0, kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix
    )
    try:
        yield Desk(Session(settings, pool, lambda executor: None), prefix)
    finally:
        await pool.close()


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")  # structlog's, unconfigured: on stdout


def stdout_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if not LOG_LINE.match(line)]


async def test_dead_letters_are_selected_by_filter_and_id_and_a_discard_hides_them(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    event = delivered()
    failed = await desk.dead_letter(desk.equipment, json.dumps(event).encode(), reason="handler-failed")
    garbage = await desk.dead_letter(desk.funding, b"not json at all", reason="invalid-envelope")
    others = await desk.dead_letter(desk.equipment, b"{}", reason="handler-failed", consumer="mailer")
    pool = desk.session.pool

    await desk.run("list")
    lines = stdout_lines(capsys)
    assert [line.split()[0] for line in lines] == ["equipment:0:0", "funding:0:0"], "another service's are not listed"
    assert "(no event)" in lines[1]
    await desk.run("list", "--reason", "invalid-envelope")
    assert [line.split()[0] for line in stdout_lines(capsys)] == ["funding:0:0"]
    await desk.run("list", "--topic", "equipment")
    assert [line.split()[0] for line in stdout_lines(capsys)] == ["equipment:0:0"]
    await desk.run("list", "--since", "2025-03-02")
    assert stdout_lines(capsys) == []
    await desk.run("list", "--until", "2025-03-01")
    assert len(stdout_lines(capsys)) == 2, "a date alone covers its day"
    await desk.run("list", "--limit", "1")
    out = capsys.readouterr()
    assert [line.split()[0] for line in out.out.splitlines()] == ["equipment:0:0"]
    assert "1 more dead letters match, not shown (--limit 1)" in out.err, "another service's are not counted"

    for mistake, message in [
        (("show", "nonsense"), "'nonsense' is not a dead-letter id"),
        (("show", "actions:0:0"), "'actions' is none of this service's dead-letter topics (equipment, funding)"),
        (("show", "passerelle:0:0"), "could be any of"),
        (("list", "--consumer", "mailer"), "'mailer' is not a consumer of this service"),
        (("replay", others), "was dead-lettered by consumer 'mailer'"),
        (("replay",), "name dead letters by id, or select them"),
        (("replay", failed, "--reason", "handler-failed"), "not both"),
        (("discard", failed, "--reason-text", "  "), "cannot be empty"),
    ]:
        acting = ("--operator", "bob") if mistake[0] in ("replay", "discard") else ()
        with pytest.raises(dlq.OperatorError, match=re.escape(message)):
            await desk.run(*mistake, *acting)

    await desk.run("discard", "--reason", "invalid-envelope", "--reason-text", "a test producer's garbage", "--dry-run")
    assert stdout_lines(capsys) == ["would discard funding:0:0  invalid-envelope  (no event)"]
    assert await pool.fetchval("SELECT count(*) FROM operator_audit") == 0
    await desk.run(
        "discard", "--reason", "invalid-envelope", "--reason-text", "a test producer's garbage", "--operator", "bob"
    )
    [line] = stdout_lines(capsys)
    assert "  bob  dlq-discard  funding:0:0  " in line and 'reason="a test producer\'s garbage"' in line
    row = await pool.fetchrow("SELECT * FROM operator_audit")
    assert row is not None
    assert (row["action"], row["target"], row["outcome"], row["event_id"]) == ("dlq-discard", garbage, "done", None)

    await desk.run("list")
    assert [line.split()[0] for line in stdout_lines(capsys)] == ["equipment:0:0"]
    await desk.run("list", "--all")
    assert "funding:0:0  discarded " in stdout_lines(capsys)[1]
    with pytest.raises(dlq.OperatorError, match="funding:0:0 was already discarded"):
        await desk.run("discard", "funding:0:0", "--reason-text", "again")
    with pytest.raises(dlq.OperatorError, match=r"already discarded .*; --force to replay anyway"):
        await desk.run("replay", garbage)
    await desk.run("replay", garbage, "--force", "--dry-run")
    assert stdout_lines(capsys) == [f"would replay funding:0:0 to {desk.funding}  (no event)"]


async def test_a_dead_letter_written_without_its_value_is_replayed_with_the_original_records(
    desk: Desk, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    event = delivered()
    value = json.dumps(event).encode()
    offset = await send(
        kafka_bootstrap, desk.equipment, value, key=b"delivery-big", headers=relay_headers(event), partition=0
    )
    dead = await desk.dead_letter(
        desk.equipment,
        b"",
        reason="handler-failed",
        offset=offset,
        **{"x-dlq-value-dropped": f"{len(value)} bytes, too large for the dead-letter topic"},
    )

    await desk.run("show", dead)
    assert "(not in the dead letter: " in capsys.readouterr().out
    await desk.run("replay", dead, "--operator", "carol")
    [line] = stdout_lines(capsys)
    assert "  carol  dlq-replay  equipment:0:0  " in line and "  done  replayed_to=" in line
    records = await read_topic(kafka_bootstrap, desk.equipment)
    assert [r.value for r in records] == [value, value], "the original value, read back from its topic"
    detail = await desk.session.pool.fetchval("SELECT detail FROM operator_audit WHERE target = $1", dead)
    assert detail["value_from"] == f"{desk.equipment}:0:{offset}"


async def test_a_service_that_consumes_nothing_has_the_command_and_says_it_has_no_dead_letters(
    create_database: CreateDatabase, kafka_bootstrap: str
) -> None:
    env = {
        "PASSERELLE_FUNDING_DATABASE_URL": await create_database("funding_dlq"),
        "PASSERELLE_KAFKA_BOOTSTRAP": kafka_bootstrap,
    }
    result = console("funding", env, "dlq", "list")
    assert (result.returncode, result.stdout) == (0, "")
    assert "this service consumes no topic: it has no dead letters" in result.stderr


# -- the limit, a replay audited before it is sent, refusals, failures ----------------------------


async def test_the_limit_counts_the_dead_letters_taken_not_the_records_read(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before the pending ones: another service's dead letters, and one of ours already discarded.
    for offset in range(3):
        await desk.dead_letter(desk.equipment, b"{}", reason="handler-failed", consumer="mailer", offset=offset)
    decided = await desk.dead_letter(desk.equipment, b"{}", reason="handler-failed")
    await desk.run("discard", decided, "--reason-text", "dealt with", "--operator", "bob")
    pending = [
        await desk.dead_letter(desk.equipment, json.dumps(delivered()).encode(), reason="handler-failed")
        for _ in range(2)
    ]
    capsys.readouterr()

    await desk.run("list", "--limit", "1")
    out = capsys.readouterr()
    assert [line.split()[0] for line in out.out.splitlines()] == ["equipment:0:4"], "the oldest pending one"
    assert "1 more dead letters match" in out.err and "--limit" in out.err
    await desk.run("list", "--limit", "2")
    out = capsys.readouterr()
    assert [line.split()[0] for line in out.out.splitlines()] == ["equipment:0:4", "equipment:0:5"]
    assert "more" not in out.err
    await desk.run("replay", "--topic", "equipment", "--limit", "2", "--dry-run", "--operator", "bob")
    assert [line.split()[2] for line in stdout_lines(capsys)] == ["equipment:0:4", "equipment:0:5"]
    await desk.run("list", "--all", "--limit", "1")
    assert [line.split()[0] for line in stdout_lines(capsys)] == ["equipment:0:3"], "--all: decided ones count"
    assert pending == [f"{desk.equipment}.dlq:0:4", f"{desk.equipment}.dlq:0:5"]


class FakeProducer:
    """A producer whose every send fails with ``error``, after noting the audit rows it found."""

    def __init__(self, pool: Any, error: Exception) -> None:
        self.pool = pool
        self.error = error
        self.audit_before_send: list[str] = []

    async def send_and_wait(self, topic: str, value: bytes | None, **kwargs: Any) -> Any:
        self.audit_before_send = [r["outcome"] for r in await self.pool.fetch("SELECT outcome FROM operator_audit")]
        raise self.error


def failing_producer(monkeypatch: pytest.MonkeyPatch, pool: Any, error: Exception) -> FakeProducer:
    fake = FakeProducer(pool, error)

    @asynccontextmanager
    async def producer(bootstrap: str) -> AsyncIterator[FakeProducer]:
        yield fake

    monkeypatch.setattr(dlq, "_producer", producer)
    return fake


async def test_a_replay_whose_publish_fails_is_audited_failed_stays_pending_and_exits_1(
    desk: Desk, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = await desk.dead_letter(desk.equipment, json.dumps(delivered()).encode(), reason="handler-failed")
    fake = failing_producer(monkeypatch, desk.session.pool, KafkaConnectionError("the broker went away"))
    with pytest.raises(SystemExit) as exited:
        await desk.run("replay", dead, "--operator", "bob")
    assert isinstance(exited.value.code, str), "a message: exit status 1"
    assert fake.audit_before_send == ["started"], "the replay is audited before it is sent"
    row = await desk.session.pool.fetchrow("SELECT * FROM operator_audit")
    assert row is not None and (row["outcome"], row["target"]) == ("failed", dead)
    assert "the broker went away" in row["detail"]["error"]
    err = capsys.readouterr().err
    assert "0 dead letters replayed" in err and "1 failed" in err
    await desk.run("list")
    [line] = stdout_lines(capsys)
    assert line.startswith("equipment:0:0  pending  "), "a failed replay leaves it pending"


async def test_a_replay_the_broker_did_not_confirm_is_unknown_and_not_replayed_again_without_force(
    desk: Desk, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = await desk.dead_letter(desk.equipment, json.dumps(delivered()).encode(), reason="handler-failed")
    failing_producer(monkeypatch, desk.session.pool, KafkaTimeoutError())
    with pytest.raises(SystemExit) as exited:
        await desk.run("replay", dead, "--operator", "bob")
    assert isinstance(exited.value.code, str)
    row = await desk.session.pool.fetchrow("SELECT * FROM operator_audit")
    assert row is not None and row["outcome"] == "unknown"
    assert "may have been written" in row["detail"]["error"] and "inbox" in row["detail"]["error"]
    assert "1 unknown" in capsys.readouterr().err
    monkeypatch.undo()

    await desk.run("list")
    [line] = stdout_lines(capsys)
    assert line.startswith("equipment:0:0  replay-unknown "), line
    with pytest.raises(dlq.OperatorError, match=r"equipment:0:0 .*replay-unknown.*may have been written.*--force"):
        await desk.run("replay", dead, "--operator", "bob")
    await desk.run("replay", "--topic", "equipment", "--operator", "bob")
    err = capsys.readouterr().err
    assert "0 dead letters replayed" in err and "1 not replayed: replay-unknown" in err
    assert await read_topic(kafka_bootstrap, desk.equipment) == [], "nothing published"

    await desk.run("replay", dead, "--force", "--operator", "bob")
    assert "  done  replayed_to=" in capsys.readouterr().out
    assert len(await read_topic(kafka_bootstrap, desk.equipment)) == 1
    await desk.run("list")
    assert stdout_lines(capsys) == []


async def test_a_replay_cut_short_before_its_audit_is_completed_is_replay_unknown(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = await desk.dead_letter(desk.equipment, json.dumps(delivered()).encode(), reason="handler-failed")
    # The process died between the row it commits first and the outcome: only 'started' remains.
    await desk.session.pool.execute(
        "INSERT INTO operator_audit (operator, action, target, topic, outcome) VALUES ('alice', $1, $2, $3, 'started')",
        dlq.REPLAY,
        dead,
        desk.equipment,
    )
    await desk.run("list", "--json")
    [entry] = json.loads(capsys.readouterr().out)["dead_letters"]
    assert entry["state"]["name"] == "replay-unknown" and entry["state"]["operator"] == "alice"
    with pytest.raises(dlq.OperatorError, match="replay-unknown"):
        await desk.run("replay", dead, "--operator", "bob")
    # Whoever looked and found it written says so by id; a selection by filter leaves it alone.
    await desk.run("discard", "--topic", "equipment", "--reason-text", "written after all", "--operator", "bob")
    assert "1 not discarded: replay-unknown" in capsys.readouterr().err
    await desk.run("discard", dead, "--reason-text", "written after all", "--operator", "bob")
    assert "  bob  dlq-discard  equipment:0:0  " in capsys.readouterr().out
    await desk.run("list")
    assert stdout_lines(capsys) == []


async def test_force_replays_a_dead_letter_again(
    desk: Desk, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = await desk.dead_letter(desk.equipment, json.dumps(delivered()).encode(), reason="handler-failed")
    await desk.run("replay", dead, "--operator", "bob")
    await desk.run("replay", dead, "--force", "--operator", "bob")
    records = await read_topic(kafka_bootstrap, desk.equipment)
    assert len(records) == 2 and records[0].value == records[1].value
    rows = await desk.session.pool.fetch("SELECT outcome, detail FROM operator_audit ORDER BY id")
    assert [r["outcome"] for r in rows] == ["done", "done"]
    assert [r["detail"]["replayed_to"] for r in rows] == [f"{desk.equipment}:{r.partition}:{r.offset}" for r in records]
    assert "1 dead letters replayed" in capsys.readouterr().err


async def test_an_invalid_envelope_is_replayed_only_with_force(
    desk: Desk, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = await desk.dead_letter(desk.funding, b"not json at all", reason="invalid-envelope")
    with pytest.raises(dlq.OperatorError, match=r"funding:0:0 is an invalid envelope.*dead-letter it again.*--force"):
        await desk.run("replay", garbage, "--operator", "bob")
    await desk.run("replay", "--topic", "funding", "--operator", "bob")
    err = capsys.readouterr().err
    assert "0 dead letters replayed" in err and "1 not replayed: invalid-envelope (--force)" in err
    assert await read_topic(kafka_bootstrap, desk.funding) == []
    await desk.run("replay", garbage, "--force", "--operator", "bob")
    assert [r.value for r in await read_topic(kafka_bootstrap, desk.funding)] == [b"not json at all"]


async def test_a_forged_event_is_replayed_only_with_force(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    forged = await desk.dead_letter(desk.equipment, json.dumps(delivered()).encode(), reason="wrong-producer")
    with pytest.raises(dlq.OperatorError, match=r"equipment:0:0 was not written by the producer.*--force"):
        await desk.run("replay", forged, "--operator", "bob")
    await desk.run("replay", "--reason", "wrong-producer", "--operator", "bob")
    assert "1 not replayed: wrong-producer: forged, a security matter (--force)" in capsys.readouterr().err


async def test_a_dead_letter_decided_meanwhile_is_skipped_and_not_counted(
    desk: Desk, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = await desk.dead_letter(desk.equipment, json.dumps(delivered()).encode(), reason="handler-failed")
    select = dlq._select

    async def then_another_operator_discards(*args: Any, **kwargs: Any) -> Any:
        selection = await select(*args, **kwargs)
        await desk.session.pool.execute(
            "INSERT INTO operator_audit (operator, action, target, outcome) VALUES ('carol', $1, $2, 'done')",
            dlq.DISCARD,
            dead,
        )
        return selection

    monkeypatch.setattr(dlq, "_select", then_another_operator_discards)
    await desk.run("replay", dead, "--operator", "bob")
    out = capsys.readouterr()
    assert "skipped equipment:0:0: discarded " in out.out
    assert "0 dead letters replayed" in out.err and "1 skipped" in out.err


async def test_a_dead_letter_whose_original_cannot_be_read_back_is_audited_failed(
    desk: Desk, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    event = delivered()
    offset = await send(
        kafka_bootstrap, desk.equipment, json.dumps(event).encode(), key=b"k", headers=relay_headers(event), partition=0
    )
    dead = await desk.dead_letter(
        desk.equipment, b"", reason="handler-failed", offset=offset, **{"x-dlq-value-dropped": "2000000 bytes"}
    )
    read_range = dlq._read_range

    async def original_unreadable(consumer: Any, tp: Any, start: int, stop: int) -> Any:
        if tp.topic == desk.equipment:
            raise KafkaConnectionError("the original topic's leader is down")
        return await read_range(consumer, tp, start, stop)

    monkeypatch.setattr(dlq, "_read_range", original_unreadable)
    with pytest.raises(SystemExit) as exited:
        await desk.run("replay", dead, "--operator", "bob")
    assert isinstance(exited.value.code, str)
    row = await desk.session.pool.fetchrow("SELECT outcome, detail FROM operator_audit")
    assert row is not None and row["outcome"] == "failed"
    assert "leader is down" in row["detail"]["error"]
    assert "1 failed" in capsys.readouterr().err
