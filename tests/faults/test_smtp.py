"""The SMTP server goes away in the middle of the notifications service's e-mails, for
PASSERELLE_FAULT_SMTP_OUTAGE_S, and comes back: every e-mail arrives exactly once per (partner,
event), recognised by its stable Message-ID, and none is given up."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from pathlib import Path

import asyncpg
import pytest
from passerelle_contracts.equipment_v1 import TOPIC as EQUIPMENT_TOPIC

from services.runtime.topics import ensure_topics
from tests.conftest import CreateDatabase
from tests.faults.harness import (
    SMTP_BACKOFF_MAX_S,
    SMTP_OUTAGE_S,
    TIMEOUT_S,
    FaultProcess,
    Figures,
    SmtpSink,
    Stream,
    produce,
    query,
    report,
    wait_for,
)
from tests.support import free_port, kafka

pytestmark = [pytest.mark.infra, pytest.mark.timeout(TIMEOUT_S)]

PARTNERS = {"fault-fr": ("fr@partner.test", "fr"), "fault-nl": ("nl@partner.test", "nl")}


async def test_smtp_down_then_back_every_e_mail_arrives_once_per_partner_and_event(
    create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    started = time.monotonic()
    prefix = f"{topic_prefix}f{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka(kafka_bootstrap), prefix)
    dsn = await create_database("faultmail")
    env = {
        "PASSERELLE_NOTIFICATIONS_DATABASE_URL": dsn,
        "PASSERELLE_NOTIFICATIONS_HTTP_PORT": str(free_port()),
        "PASSERELLE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PASSERELLE_TOPIC_PREFIX": prefix,
        "PASSERELLE_NOTIFICATIONS_SMTP_PORT": str(smtp_sink.port),
        "PASSERELLE_NOTIFICATIONS_LOAD_SEED": "false",
        "PASSERELLE_NOTIFICATIONS_MAIL_BACKOFF_MAX_S": str(SMTP_BACKOFF_MAX_S),
    }
    service = FaultProcess("notifications", env, tmp_path)
    try:
        service.start()
        await service.wait_ready()
        conn = await asyncpg.connect(dsn)
        try:
            for code, (address, language) in PARTNERS.items():
                await conn.execute("INSERT INTO partners (code, name, language) VALUES ($1, $1, $2)", code, language)
                await conn.execute(
                    """WITH mailbox AS (
                           INSERT INTO contacts (partner_code, kind, email, language, channels)
                           VALUES ($1, 'mailbox', $2, $3, '{email}') RETURNING id)
                       INSERT INTO subscriptions (contact_id, event_type) SELECT id, 'DevicesDelivered' FROM mailbox""",
                    code,
                    address,
                    language,
                )
        finally:
            await conn.close()
        stream = Stream()  # after the service started: events older than its first start are not e-mailed
        expected = len(stream) * len(PARTNERS)
        await produce(kafka_bootstrap, prefix + EQUIPMENT_TOPIC, stream.records())

        async def received_some() -> int:
            return smtp_sink.count() if smtp_sink.count() >= expected // 10 else 0

        at_fault = await wait_for(received_some, timeout=TIMEOUT_S / 2, what="a tenth of the e-mails")
        smtp_sink.down()
        down = time.monotonic()
        await asyncio.sleep(SMTP_OUTAGE_S)
        during = smtp_sink.count() - at_fault
        refused = await query(dsn, "SELECT count(*) FROM messages WHERE channel = 'email' AND last_error IS NOT NULL")
        smtp_sink.up()
        fault_end = time.monotonic()

        async def all_sent() -> bool:
            sent = await query(dsn, "SELECT count(*) FROM messages WHERE channel = 'email' AND status = 'sent'")
            return bool(sent >= expected and smtp_sink.count() >= expected)

        await wait_for(all_sent, timeout=TIMEOUT_S, what=f"all {expected} e-mails sent", interval=0.2)
        recover_s = time.monotonic() - fault_end
        await asyncio.sleep(1)  # anything sent twice would arrive now
        conn = await asyncpg.connect(dsn)
        try:
            deliveries = await conn.fetch(
                "SELECT id, partner_code, event_id, address AS email, status FROM messages WHERE channel = 'email' ORDER BY id"
            )
        finally:
            await conn.close()
    finally:
        service.stop()

    assert during <= 1, f"{during} e-mails arrived while the server was down"  # at most the one in flight
    assert refused > 0, "no e-mail was refused: the outage missed the mailer"
    # The Message-ID each (partner, event) must carry: its delivery row's, stable across attempts.
    message_ids = {
        (d["email"], str(d["event_id"])): f"<{d['event_id']}.{d['id']}@passerelle.local>" for d in deliveries
    }
    receipts: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in smtp_sink.received:
        receipts[(r.to, r.event_id)].append(r.message_id)
    pairs = {(address, e.event_id) for e in stream.events for address, _ in PARTNERS.values()}
    once = {p for p in pairs if receipts.get(p) == [message_ids.get(p)]}
    events_all_once = {e.event_id for e in stream.events if all((a, e.event_id) in once for a, _ in PARTNERS.values())}
    order = sum(
        stream.order_violations(str(d["event_id"]) for d in deliveries if d["partner_code"] == code)
        for code in PARTNERS
    )
    statuses = {d["status"] for d in deliveries}
    figures = Figures(
        scenario="smtp down, then back",
        events_in=len(stream),
        applied=len(events_all_once),
        lost=len(pairs - set(receipts)),
        duplicated=sum(len(ids) - 1 for ids in receipts.values()) + len(set(receipts) - pairs),
        order_violations=order,
        recover_s=recover_s,
        total_s=time.monotonic() - started,
        note=(
            f"{expected} e-mails, each once with its Message-ID; down {fault_end - down:.0f} s "
            f"with {at_fault} sent, {refused} refused meanwhile; statuses {sorted(statuses)}"
        ),
    )
    report(figures).check()
    assert statuses == {"sent"}
    assert len(deliveries) == expected
