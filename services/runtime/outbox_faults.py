"""What the outbox relay keeps about rows it could not publish (see ``outbox``'s docstring):
which errors park a row, the keys held back in memory after a broker error, the parked rows an
operator is shown (``backlog``, GET /ops/outbox), and what an operator does with them
(``python -m services.<name> outbox list|release|discard``: ``release`` lets the relay try a
parked row again once its cause is fixed, ``discard`` removes it so its aggregate flows again)."""

from __future__ import annotations

import time
from collections.abc import Sequence
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

from .db import Executor

NOTIFY_CHANNEL = "passerelle_outbox"  # the relay listens; a commit with outbox rows notifies it
# An outbox row ``o`` behind a parked row of its aggregate (topic + key): held back until an
# operator acts, so that the aggregate's events keep their order. One spelling for the relay's
# query, the backlog and the operator's listing, which must agree.
BEHIND_PARKED = """EXISTS (SELECT 1 FROM outbox p
                WHERE p.parked_at IS NOT NULL AND p.published_at IS NULL
                  AND p.topic = o.topic AND p.message_key = o.message_key AND p.id < o.id)"""
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
    """Unpublished rows, the oldest one's age and the parked rows: cheap queries (the metrics ask
    them at every scrape). The oldest age is of the rows the relay tries to publish: a parked row,
    and the rows of its aggregate behind it, wait for an operator, and say so in ``parked``;
    counting them would make the outbox look stuck while every other key flows."""
    row = await pool.fetchrow(
        """SELECT count(*) AS pending,
                  count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked,
                  coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0) AS oldest_age_s
           FROM outbox WHERE published_at IS NULL"""
    )
    assert row is not None  # an aggregate without GROUP BY always returns one row
    oldest_age_s = float(row["oldest_age_s"])
    if row["parked"]:  # rare: only then is each row's aggregate looked at
        oldest_age_s = float(
            await pool.fetchval(
                f"""SELECT coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0) FROM outbox o
                    WHERE published_at IS NULL AND parked_at IS NULL AND NOT {BEHIND_PARKED}"""  # noqa: S608 - constant
            )
        )
    return {"pending": row["pending"], "oldest_age_s": round(oldest_age_s, 3), "parked": row["parked"]}


async def backlog(pool: asyncpg.Pool) -> dict[str, Any]:
    """What an operator needs to see: the counts, the parked rows (with their error) and how many
    rows wait behind them."""
    held_back = await pool.fetchval(
        f"SELECT count(*) FROM outbox o WHERE o.published_at IS NULL AND o.parked_at IS NULL AND {BEHIND_PARKED}"  # noqa: S608 - constant
    )
    return {**await backlog_counts(pool), "held_back": held_back, "parked_rows": await parked_rows(pool)}


# -- what an operator does with them (python -m services.<name> outbox …; the CLI audits it) ------

WAKE_RELAY = f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')"
ROW_COLUMNS = """id, event_id, topic, message_key, event_type, attempts, last_error, created_at, parked_at,
                 published_at"""


async def unpublished_rows(db: Executor, *, parked_only: bool, limit: int) -> tuple[list[asyncpg.Record], int]:
    """The unpublished rows in id order (at most ``limit``), each with ``held_back`` (waiting behind
    a parked row of its aggregate), and how many there are in all."""
    rows = await db.fetch(
        f"""SELECT {ROW_COLUMNS},
                  o.parked_at IS NULL AND {BEHIND_PARKED} AS held_back
           FROM outbox o
           WHERE o.published_at IS NULL AND (NOT $2 OR o.parked_at IS NOT NULL)
           ORDER BY o.id LIMIT $1""",  # noqa: S608 - a constant list of columns
        limit,
        parked_only,
    )
    total = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE published_at IS NULL AND (NOT $1 OR parked_at IS NOT NULL)", parked_only
    )
    return rows, int(total)


async def lock_rows(db: Executor, ids: Sequence[int] | None) -> list[asyncpg.Record]:
    """The rows ``ids`` (all the parked rows if None), with their payload, locked until the
    caller's transaction ends."""
    if ids is None:
        return await db.fetch(
            f"""SELECT {ROW_COLUMNS}, payload FROM outbox
                WHERE parked_at IS NOT NULL AND published_at IS NULL ORDER BY id FOR UPDATE"""  # noqa: S608 - constant
        )
    return await db.fetch(
        f"SELECT {ROW_COLUMNS}, payload FROM outbox WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",  # noqa: S608 - constant
        list(ids),
    )


async def release(db: Executor, ids: Sequence[int]) -> None:
    """Let the relay try parked rows again, from a clean slate (no attempts, no error: the audit
    keeps the old ones), and wake it. A row the broker still refuses is parked again."""
    await db.execute(
        """UPDATE outbox SET parked_at = NULL, attempts = 0, last_error = NULL
           WHERE id = ANY($1::bigint[]) AND parked_at IS NOT NULL AND published_at IS NULL""",
        list(ids),
    )
    await db.execute(WAKE_RELAY)  # delivered at commit


async def discard(db: Executor, ids: Sequence[int]) -> None:
    """Remove parked rows for good (the caller keeps them whole in the audit): the later rows of
    their aggregates flow again. The outbox knows no other end than published, and a row marked
    published that never was would lie to the backlog and be deleted a week later anyway."""
    await db.execute(
        "DELETE FROM outbox WHERE id = ANY($1::bigint[]) AND parked_at IS NOT NULL AND published_at IS NULL", list(ids)
    )
    await db.execute(WAKE_RELAY)
