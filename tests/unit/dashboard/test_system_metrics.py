"""The System page's figures without any service running: ``summarise`` over the exposition the
runtime's own ``Metrics`` writes, the dead letters' services and the newest of them (read from
records held in memory), and the consumers the page knows against the services' composition roots."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition

from services.dashboard.pages import system
from services.runtime import dead_letter_headers as h
from services.runtime import dlq
from services.runtime.kafka_access import KafkaAccess
from services.runtime.metrics import Metrics
from services.runtime.settings import ServiceSettings

PREFIX = "t1."
EQUIPMENT, FUNDING = f"{PREFIX}passerelle.equipment.v1", f"{PREFIX}passerelle.funding.v1"


async def actions_exposition() -> str:
    """What the actions service's ``/metrics`` says: two consumers, a backlog, dead letters."""
    m = Metrics("actions")
    m.consumer_lag.labels("indicators", EQUIPMENT, "0").set(3)
    m.consumer_lag.labels("indicators", EQUIPMENT, "1").set(4)
    m.consumer_lag.labels("indicators", FUNDING, "0").set(5)
    m.consumer_lag.labels("epn-register", FUNDING, "0").set(2)
    m.consumed("indicators", "equipment.DevicesDelivered", "processed").inc(10)
    m.consumed("indicators", "equipment.DevicesDelivered", "dead-lettered").inc(2)
    m.consumed("epn-register", "funding.EpnRegistered", "processed").inc(1)
    for topic in (EQUIPMENT, FUNDING):  # as Runtime.consume does: every series from 0
        for reason in h.REASONS:
            m.dead_letters(topic, reason)
    m.dead_letters(EQUIPMENT, h.HANDLER_FAILED).inc(2)
    m.dead_letters(FUNDING, h.HANDLER_FAILED).inc(1)
    m.dead_letters(FUNDING, h.INVALID_DATA).inc(1)
    m.batches_cut_short("indicators").inc()
    m.outbox_pending.set(7)
    m.outbox_oldest_age_s.set(42.5)
    m.outbox_parked.set(1)
    assert m.relay_leader is not None
    m.relay_leader.set(1)
    m.published.set(30)
    return (await m.render()).decode()


READY = {"status": "ready", "database": "ok", "broker": "ok", "relay": "leader", "degraded": []}


async def test_the_lag_is_summed_per_consumer_group_and_per_topic() -> None:
    summary = system.summarise("actions", await actions_exposition(), READY, topic_prefix=PREFIX)

    groups = {g["group"]: g for g in summary["consumer_groups"]}
    assert list(groups) == ["t1.actions.epn-register", "t1.actions.indicators"]
    indicators = groups["t1.actions.indicators"]
    assert (indicators["lag"], indicators["partitions"]) == (12, 3)
    assert indicators["topics"] == [
        {"topic": "passerelle.equipment.v1", "lag": 7, "partitions": 2},
        {"topic": "passerelle.funding.v1", "lag": 5, "partitions": 1},
    ]
    assert indicators["outcomes"] == {"dead-lettered": 2, "processed": 10}
    assert indicators["batches_cut_short"] == 1
    assert groups["t1.actions.epn-register"]["lag"] == 2
    assert summary["lag_total"] == 14


async def test_the_outbox_backlog_its_oldest_age_and_the_relay_are_read_from_the_gauges() -> None:
    summary = system.summarise("actions", await actions_exposition(), READY, topic_prefix=PREFIX)

    assert summary["outbox"] == {
        "pending": 7,
        "oldest_age_s": 42.5,
        "parked": 1,
        "published_since_start": 30,
        "relay_leader": True,
    }
    assert (summary["reachable"], summary["state"], summary["error"]) == (True, "ready", None)


async def test_dead_letters_are_counted_by_reason_and_by_topic_leaving_out_the_zero_series() -> None:
    summary = system.summarise("actions", await actions_exposition(), READY, topic_prefix=PREFIX)

    assert summary["dead_letters"] == {
        "total": 4,
        "by_reason": {"handler-failed": 3, "invalid-data": 1},
        "by_topic": [
            {"topic": "passerelle.equipment.v1", "reason": "handler-failed", "count": 2},
            {"topic": "passerelle.funding.v1", "reason": "handler-failed", "count": 1},
            {"topic": "passerelle.funding.v1", "reason": "invalid-data", "count": 1},
        ],
    }
    assert summary["mail"] is None, "only the notifications service has a mail queue"


async def test_the_mail_queue_is_read_from_the_notifications_gauges() -> None:
    m = Metrics("notifications")
    emails = m.gauge("passerelle_emails", "Messages by delivery status.", ["status"])
    for status, count in {"pending": 3, "sent": 120, "failed": 1}.items():
        emails.labels(status).set(count)
    m.gauge("passerelle_emails_oldest_pending_age_seconds", "Oldest due.", []).set(95)

    summary = system.summarise("notifications", (await m.render()).decode(), READY)

    assert summary["mail"] == {
        "by_status": {"pending": 3, "sent": 120, "failed": 1, "bounced": 0, "suppressed": 0},
        "oldest_pending_age_s": 95,
    }


async def test_a_service_without_relay_has_no_leader_and_a_degraded_one_says_what_is_degraded() -> None:
    m = Metrics("dashboard")
    m.without_relay()
    ready = {"status": "degraded", "database": "ok", "broker": "unavailable", "degraded": ["broker"]}

    summary = system.summarise("dashboard", (await m.render()).decode(), ready)

    assert summary["outbox"]["relay_leader"] is None
    assert (summary["state"], summary["degraded"]) == ("degraded", ["broker"])
    assert (summary["consumer_groups"], summary["lag_total"]) == ([], 0)


def test_a_service_that_did_not_answer_is_unreachable_with_its_error() -> None:
    summary = system.summarise("funding", None, None, error="ConnectError: connection refused")

    assert summary == {
        "service": "funding",
        "reachable": False,
        "state": "unreachable",
        "error": "ConnectError: connection refused",
    }


def test_an_answer_that_is_not_ready_json_leaves_the_state_unknown() -> None:
    assert system.summarise("funding", "", {"status": "rebooting"})["state"] == "unknown"
    assert system.summarise("funding", "", None)["state"] == "unknown"


# -- the dead letters --------------------------------------------------------------------------------


def dead(
    consumer: str, topic: str, *, minute: int = 0, partition: int = 0, offset: int = 0, reason: str = h.HANDLER_FAILED
) -> dlq.DeadLetter:
    failed_at = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(minutes=minute)
    headers = (
        (h.CONSUMER, consumer.encode()),
        (h.ORIGINAL_TOPIC, (PREFIX + topic).encode()),
        (h.REASON, reason.encode()),
        (h.FAILED_AT, failed_at.isoformat().encode()),
        (h.ERROR, b"ValueError('no such EPN')\n  at line 3"),
    )
    value = b'{"event_type": "funding.EpnRegistered", "event_id": "e-1"}'
    return dlq.DeadLetter(f"{PREFIX}{topic}.dlq", partition, offset, 0, None, value, headers)


def test_a_dead_letter_belongs_to_the_services_running_its_consumer_on_its_topic() -> None:
    now = datetime(2025, 3, 1, 1, tzinfo=UTC)

    mailer = system.describe_dead_letter(dead("mailer", "passerelle.actions.v1", offset=4), PREFIX, now)
    shared = system.describe_dead_letter(dead("epn-register", "passerelle.funding.v1"), PREFIX, now)
    stranger = system.describe_dead_letter(dead("mailer", "passerelle.notifications.v1"), PREFIX, now)

    assert (mailer["services"], mailer["short_id"]) == (["notifications"], "actions:0:4")
    assert mailer["id"] == "t1.passerelle.actions.v1.dlq:0:4"
    assert (mailer["topic"], mailer["event_type"], mailer["age_s"]) == (
        "passerelle.actions.v1",
        "funding.EpnRegistered",
        3600,
    )
    assert mailer["error"] == "ValueError('no such EPN') at line 3", "on one line"
    assert shared["services"] == ["actions", "equipment"], "two services run epn-register on the funding topic"
    assert stranger["services"] == [], "the mailer does not read the notifications topic"


def test_the_page_lists_dead_letters_per_service_and_those_of_no_known_consumer_last() -> None:
    items = [
        {"id": "a", "services": ["actions", "equipment"]},
        {"id": "b", "services": ["notifications"]},
        {"id": "c", "services": []},
    ]

    grouped = dict(system._by_service(items))

    assert [i["id"] for i in grouped["actions"]] == ["a"]
    assert [i["id"] for i in grouped["equipment"]] == ["a"]
    assert [i["id"] for i in grouped["notifications"]] == ["b"]
    assert grouped["dashboard"] == []
    assert list(grouped)[-1] is None
    assert [i["id"] for i in grouped[None]] == ["c"]


class InMemory(system._NewestReader):
    """The page's reader over records held in memory: partition -> failure minutes."""

    def __init__(self, partitions: dict[int, list[int]]) -> None:
        super().__init__(KafkaAccess("127.0.0.1:9", "PLAINTEXT"), AsyncExitStack())  # never connects
        self.held = {
            p: [dead("mailer", "passerelle.actions.v1", minute=m, partition=p, offset=o) for o, m in enumerate(minutes)]
            for p, minutes in partitions.items()
        }
        self.reads: list[tuple[int, int, int]] = []
        self._consumer = SimpleNamespace(
            beginning_offsets=self.offsets(lambda p: 0), end_offsets=self.offsets(lambda p: len(self.held[p]))
        )

    @staticmethod
    def offsets(of: Callable[[int], int]) -> Callable[[list[TopicPartition]], Awaitable[dict[TopicPartition, int]]]:
        async def offsets(tps: list[TopicPartition]) -> dict[TopicPartition, int]:
            return {tp: of(tp.partition) for tp in tps}

        return offsets

    async def partitions(self, topics: Sequence[str]) -> dict[str, list[int]]:
        return {f"{PREFIX}passerelle.actions.v1.dlq": sorted(self.held)}

    async def _read(self, tp: TopicPartition, start: int, stop: int) -> list[dlq.DeadLetter]:
        self.reads.append((tp.partition, start, stop))
        return self.held[tp.partition][start:stop]


async def test_the_newest_dead_letters_come_first_reading_only_the_end_of_each_partition() -> None:
    kafka = InMemory({0: list(range(10)), 1: [3, 20, 21], 2: []})

    found, total = await kafka.newest(["ignored"], 4)

    assert [(d.partition, d.offset) for d in found] == [(1, 2), (1, 1), (0, 9), (0, 8)]
    assert total == 13
    assert kafka.reads == [(0, 6, 10), (1, 0, 3)], "the last four of each partition, none of an empty one"


def test_the_dead_letter_topics_read_are_those_of_every_consumed_internal_topic() -> None:
    assert system.dead_letter_topics(PREFIX) == tuple(
        f"{PREFIX}passerelle.{name}.v1.dlq" for name in ("actions", "equipment", "funding", "notifications")
    )


# -- the consumers the page knows ----------------------------------------------------------------------


def composition_root_consumers(service: str) -> dict[str, tuple[str, ...]]:
    """The consumers a service's app registers, as the dead-letter tool finds them."""
    app_module = importlib.import_module(f"services.{service}.app")
    settings_module = importlib.import_module(f"services.{service}.settings")
    settings_cls: Any = next(
        v
        for k, v in vars(settings_module).items()
        if k.endswith("Settings")
        and isinstance(v, type)
        and issubclass(v, ServiceSettings)
        and v is not ServiceSettings
    )
    settings = settings_cls(topic_prefix="")
    return dlq.consumers_of(app_module.create_app(settings).state.runtime.broker, settings)


@pytest.mark.parametrize("service", ["actions", "equipment", "funding", "notifications", "gateway", "dashboard"])
def test_the_consumers_the_page_knows_are_those_each_service_registers(service: str) -> None:
    assert dict(system.CONSUMERS.get(service, {})) == composition_root_consumers(service)
