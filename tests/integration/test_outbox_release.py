"""Parked outbox rows from the console (``python -m services.<name> outbox list|release|discard``):
a row released once its cause is fixed is published, in its aggregate's order; a row discarded
no longer holds its aggregate back; both decisions are in ``operator_audit``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from passerelle_contracts import SYSTEM_ACTOR, Envelope

from tests.integration.test_outbox import envelope, grant, relay_running
from tests.integration.test_relay_faults import all_published, row, write
from tests.integration.test_service_commands import command
from tests.support import eventually, kafka, read_topic

pytestmark = pytest.mark.infra

LIMIT = 4000  # bytes a record of the test topic may have, until the "operator" raises it


async def small_topic(bootstrap: str, prefix: str) -> str:
    """A topic of one partition whose records may not exceed LIMIT bytes."""
    topic = f"{prefix}release-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(**kafka(bootstrap).aiokafka())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": str(LIMIT)})])
    finally:
        await admin.close()
    return topic


async def raise_limit(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(**kafka(bootstrap).aiokafka())
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": "200000"})])
    finally:
        await admin.close()


def too_big(subject: str) -> Envelope:
    data = grant(0).model_copy(update={"beneficiary": "x" * 3 * LIMIT})
    return Envelope.wrap(data, source="funding", subject=subject, actor=SYSTEM_ACTOR)


async def outbox_id(pool: asyncpg.Pool, e: Envelope) -> int:
    return int(await pool.fetchval("SELECT id FROM outbox WHERE event_id = $1", e.event_id))


def parked(pool: asyncpg.Pool, e: Envelope) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await row(pool, e))["parked_at"] is not None

    return check


async def test_a_parked_row_released_once_its_cause_is_fixed_is_published_before_the_rows_behind_it(
    outbox_db: tuple[str, asyncpg.Pool], kafka_bootstrap: str, topic_prefix: str
) -> None:
    dsn, pool = outbox_db
    topic = await small_topic(kafka_bootstrap, topic_prefix)
    key = f"grant-{uuid.uuid4()}"
    first, big, behind = envelope(key, 1), too_big(key), envelope(key, 3)
    await write(pool, topic, first, big, behind)
    big_id, behind_id = await outbox_id(pool, big), await outbox_id(pool, behind)

    async with relay_running(dsn, pool, kafka_bootstrap):
        await eventually(all_published(pool, first), timeout=30, what="the row before the refused one")
        await eventually(parked(pool, big), timeout=30, what="the refused row parked")

        listed = command("funding", dsn, "outbox", "list")
        assert listed.returncode == 0, listed.stderr
        states = {int(line.split()[0]): line.split()[1] for line in listed.stdout.splitlines()}
        assert states == {big_id: "parked", behind_id: "held-back"}
        assert "RecordTooLarge" in listed.stdout or "MessageSizeTooLarge" in listed.stdout
        parked_only = json.loads(command("funding", dsn, "outbox", "list", "--parked", "--json").stdout)
        assert [r["id"] for r in parked_only["rows"]] == [big_id] and parked_only["total"] == 1

        for mistake, message in [
            (("release", "424242"), "outbox: no outbox row 424242"),
            (("release", str(behind_id)), f"outbox: outbox row {behind_id} is not parked"),
            (("release", str(big_id), "--all-parked"), "outbox: name the rows to release by id, or give --all-parked"),
        ]:
            refused = command("funding", dsn, "outbox", *mistake)
            assert refused.returncode == 2 and refused.stderr.startswith(message), refused.stderr
        assert await pool.fetchval("SELECT count(*) FROM operator_audit") == 0, "a refusal changes nothing"

        await raise_limit(kafka_bootstrap, topic)  # the operator fixes the cause ...
        released = command("funding", dsn, "outbox", "release", str(big_id), "--operator", "alice")  # ... and releases
        assert released.returncode == 0, released.stderr
        assert (
            f"alice  outbox-release  outbox:{big_id}  original={topic}  event={big.event_id}  done" in released.stdout
        )
        await eventually(all_published(pool, big, behind), timeout=30, what="the released row and the one behind it")

    sent = [json.loads(r.value)["event_id"] for r in await read_topic(kafka_bootstrap, topic, timeout=10)]
    assert sent == [str(e.event_id) for e in (first, big, behind)], "each once, in the aggregate's order"
    audit = await pool.fetchrow("SELECT * FROM operator_audit")
    assert audit is not None
    assert (audit["operator"], audit["action"], audit["target"], audit["outcome"], audit["event_id"]) == (
        "alice",
        "outbox-release",
        f"outbox:{big_id}",
        "done",
        str(big.event_id),
    )
    assert audit["detail"]["attempts"] >= 1 and "TooLarge" in audit["detail"]["last_error"], "what it was before"
    after = await row(pool, big)
    assert after["attempts"] == 0 and after["last_error"] is None, "released from a clean slate"


async def test_a_parked_row_discarded_no_longer_holds_its_aggregate_back_and_is_kept_in_the_audit(
    outbox_db: tuple[str, asyncpg.Pool], kafka_bootstrap: str, topic_prefix: str
) -> None:
    dsn, pool = outbox_db
    topic = await small_topic(kafka_bootstrap, topic_prefix)
    key = f"grant-{uuid.uuid4()}"
    big, behind = too_big(key), envelope(key, 2)
    await write(pool, topic, big, behind)
    big_id = await outbox_id(pool, big)

    async with relay_running(dsn, pool, kafka_bootstrap):
        await eventually(parked(pool, big), timeout=30, what="the refused row parked")
        unexplained = command("funding", dsn, "outbox", "discard", str(big_id))
        assert unexplained.returncode == 2 and "--reason-text" in unexplained.stderr
        discarded = command(
            "funding",
            dsn,
            "outbox",
            "discard",
            str(big_id),
            "--reason-text",
            "sent by mail instead",
            "--operator",
            "bob",
        )
        assert discarded.returncode == 0, discarded.stderr
        assert "bob  outbox-discard" in discarded.stdout and "reason='sent by mail instead'" in discarded.stdout
        await eventually(all_published(pool, behind), timeout=30, what="the row behind the discarded one")

    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE id = $1", big_id) == 0
    sent = [json.loads(r.value)["event_id"] for r in await read_topic(kafka_bootstrap, topic, timeout=10)]
    assert sent == [str(behind.event_id)]
    audit = await pool.fetchrow("SELECT * FROM operator_audit")
    assert audit is not None
    assert (audit["action"], audit["reason"], audit["event_id"]) == (
        "outbox-discard",
        "sent by mail instead",
        str(big.event_id),
    )
    assert audit["detail"]["payload"]["event_id"] == str(big.event_id), "the whole row, should it be needed again"
