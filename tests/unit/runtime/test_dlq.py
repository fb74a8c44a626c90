"""The dlq command without Kafka or a database: its arguments, and how it reads dead-letter topics
(``Reader.scan``, over records held in memory)."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from aiokafka import TopicPartition

from services.runtime import dead_letter_headers as h
from services.runtime import dlq
from services.runtime.kafka_access import KafkaAccess


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    dlq.configure(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize("action", ["list", "replay", "discard"])
def test_an_unknown_reason_exits_2_naming_the_known_ones(action: str, capsys: pytest.CaptureFixture[str]) -> None:
    extra = ("--reason-text", "why") if action == "discard" else ()
    with pytest.raises(SystemExit) as exited:
        parse(action, "--reason", "handler-fail", *extra)
    assert exited.value.code == 2
    assert "invalid choice: 'handler-fail'" in capsys.readouterr().err
    assert parse(action, "--reason", "handler-failed", *extra).reason == "handler-failed"


def test_the_reasons_are_those_the_consumer_writes() -> None:
    assert dlq.REASONS == ("invalid-envelope", "invalid-data", "handler-failed", "wrong-producer")


class Partitions(dlq.Reader):
    """A Reader over records held in memory: partition -> the failure minute of each record, and
    whether it is one the command takes."""

    def __init__(self, partitions: dict[int, list[tuple[int, bool]]]) -> None:
        super().__init__(KafkaAccess("127.0.0.1:9", "PLAINTEXT"), AsyncExitStack())  # never connects
        self.held = {
            p: [self.dead(p, offset, minute, mine) for offset, (minute, mine) in enumerate(records)]
            for p, records in partitions.items()
        }
        self.reads: list[tuple[int, int, int]] = []
        self._consumer = SimpleNamespace(
            beginning_offsets=self.offsets(lambda p: 0), end_offsets=self.offsets(lambda p: len(self.held[p]))
        )

    @staticmethod
    def dead(partition: int, offset: int, minute: int, mine: bool) -> dlq.DeadLetter:
        failed_at = (datetime(2025, 3, 1, tzinfo=UTC) + timedelta(minutes=minute)).isoformat()
        headers = ((h.FAILED_AT, failed_at.encode()), (h.CONSUMER, b"indicators" if mine else b"mailer"))
        return dlq.DeadLetter(TOPIC, partition, offset, 0, None, b"{}", headers)

    @staticmethod
    def offsets(of: Callable[[int], int]) -> Callable[[list[TopicPartition]], Awaitable[dict[TopicPartition, int]]]:
        async def offsets(tps: list[TopicPartition]) -> dict[TopicPartition, int]:
            return {tp: of(tp.partition) for tp in tps}

        return offsets

    async def partitions(self, topics: Sequence[str]) -> dict[str, list[int]]:
        return {TOPIC: sorted(self.held)}

    async def _read(self, tp: TopicPartition, start: int, stop: int) -> list[dlq.DeadLetter]:
        self.reads.append((tp.partition, start, stop))
        return self.held[tp.partition][start:stop]


TOPIC = "passerelle.equipment.v1.dlq"


async def mine(records: list[dlq.DeadLetter]) -> list[dlq.DeadLetter]:
    return [r for r in records if r.consumer == "indicators"]


def minutes(reading: dlq.Reading) -> list[int]:
    return [int((d.failed_at - datetime(2025, 3, 1, tzinfo=UTC)).total_seconds() // 60) for d in reading.dead_letters]


async def test_the_scan_takes_the_oldest_across_partitions_and_reads_no_further_than_it_must() -> None:
    kafka = Partitions({0: [(m, True) for m in range(250)], 1: [(10, True), (300, True), (400, True)]})
    reading = await kafka.scan([TOPIC], since=None, limit=5, take=mine)
    assert minutes(reading) == [0, 1, 2, 3, 4]
    assert (reading.more, reading.unread) == (98, 150), "the first chunk of each partition, no more"
    assert kafka.reads == [(0, 0, 100), (1, 0, 3)]


async def test_records_not_taken_do_not_hide_older_ones_behind_them() -> None:
    # Partition 0: 200 records of another service's, then one of ours, older than all of partition 1's.
    kafka = Partitions({0: [*((m, False) for m in range(200)), (200, True)], 1: [(m, True) for m in range(500, 505)]})
    reading = await kafka.scan([TOPIC], since=None, limit=5, take=mine)
    assert minutes(reading) == [200, 500, 501, 502, 503]
    assert (reading.more, reading.unread) == (1, 0)
