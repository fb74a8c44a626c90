"""What the outbox relay keeps about rows it could not publish (see ``outbox``'s docstring):
which errors park a row, the keys held back in memory after a broker error, the parked rows an
operator is shown (``backlog``, GET /ops/outbox)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka.errors import (
    CorruptRecordException,
    InvalidProducerEpoch,
    InvalidTopicError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnknownProducerId,
)

RETRY_DELAY_MIN_S = 0.5
RETRY_DELAY_MAX_S = 10.0
LAST_ERROR_MAX_CHARS = 2000
PARKED_ROWS_SHOWN = 20
# Errors of the record itself: sending the same row again can never succeed.
RECORD_ERRORS: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    CorruptRecordException,
)
# The producer's idempotence state is broken: a new producer (a new producer id) is needed.
PRODUCER_BROKEN: tuple[type[BaseException], ...] = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    ProducerFenced,
)

Key = tuple[str, str]


class LeadershipLost(RuntimeError):
    """The relay's lock connection died or no longer holds the lock: another relay may lead."""


@dataclass
class BatchResult:
    read: int = 0
    published: int = 0
    failed: int = 0
    parked: int = 0


@dataclass
class HeldKeys:
    """Keys whose last send failed on a broker error, each held back for a backoff of its own
    (in memory: a restarted relay simply tries them again)."""

    failures: dict[Key, int] = field(default_factory=dict)
    until: dict[Key, float] = field(default_factory=dict)

    def fail(self, key: Key) -> None:
        n = self.failures.get(key, 0) + 1
        self.failures[key] = n
        self.until[key] = time.monotonic() + min(RETRY_DELAY_MIN_S * 2 ** (n - 1), RETRY_DELAY_MAX_S)

    def succeed(self, key: Key) -> None:
        self.failures.pop(key, None)
        self.until.pop(key, None)

    def now_held(self) -> list[Key]:
        now = time.monotonic()
        return [key for key, until in self.until.items() if until > now]


class ProducerRestart(RuntimeError):
    """The relay replaces its producer (raised after the pass's outcomes are recorded)."""


class RefusedInBatch(Exception):
    """The broker refused the batch this row was in for a record error, maybe another row's."""


class MalformedRow(Exception):
    """A row the relay cannot turn into a Kafka record (its payload lacks what the headers need)."""


def describe(error: BaseException) -> str:
    return repr(error)[:LAST_ERROR_MAX_CHARS]


async def parked_rows(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """The oldest parked rows, with their error, for ``GET /ops/outbox``."""
    parked = await pool.fetch(
        """SELECT id, event_id, topic, message_key, event_type, attempts, last_error, parked_at
           FROM outbox WHERE parked_at IS NOT NULL AND published_at IS NULL ORDER BY id LIMIT $1""",
        PARKED_ROWS_SHOWN,
    )
    return [
        {
            "id": p["id"],
            "event_id": str(p["event_id"]),
            "topic": p["topic"],
            "message_key": p["message_key"],
            "event_type": p["event_type"],
            "attempts": p["attempts"],
            "last_error": p["last_error"],
            "parked_at": p["parked_at"].isoformat(),
        }
        for p in parked
    ]


async def backlog_counts(pool: asyncpg.Pool) -> dict[str, Any]:
    """Unpublished rows, the oldest one's age and the parked rows: one cheap query (the metrics
    ask it at every scrape)."""
    row = await pool.fetchrow(
        """SELECT count(*) AS pending,
                  count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked,
                  coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0) AS oldest_age_s
           FROM outbox WHERE published_at IS NULL"""
    )
    assert row is not None  # an aggregate without GROUP BY always returns one row
    return {"pending": row["pending"], "oldest_age_s": round(float(row["oldest_age_s"]), 3), "parked": row["parked"]}


async def backlog(pool: asyncpg.Pool) -> dict[str, Any]:
    """What an operator needs to see: the counts, the parked rows (with their error) and how many
    rows wait behind them."""
    held_back = await pool.fetchval(
        """SELECT count(*) FROM outbox o
           WHERE o.published_at IS NULL AND o.parked_at IS NULL AND EXISTS (
               SELECT 1 FROM outbox p
               WHERE p.parked_at IS NOT NULL AND p.published_at IS NULL
                 AND p.topic = o.topic AND p.message_key = o.message_key AND p.id < o.id)"""
    )
    return {**await backlog_counts(pool), "held_back": held_back, "parked_rows": await parked_rows(pool)}
