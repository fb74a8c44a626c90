"""Dead letters, for operators: ``python -m services.<name> dlq list|show|replay|discard``, and the
operator audit these commands and ``outbox release|discard`` write (``operator_audit``).

Which dead letters are a service's
----------------------------------
A consumer writes a record it could not process to ``<topic>.dlq`` (``consumer._dead_letter``)
with ``x-dlq-consumer`` naming the consumer. That header holds the consumer's *name*
(``indicators``), not its group (``<prefix><service>.indicators``, ``settings.group``), and a
dead-letter topic is shared by every consumer of its topic, whichever service runs it: the name
alone does not say which service wrote a record. A service's dead letters are therefore the
records of the dead-letter topics of the topics its consumers read whose ``x-dlq-consumer`` is
one of its consumers *and* whose original topic is one that consumer reads. (Two services with a
consumer of the same name on the same topic could not be told apart; none has one.) The
consumers and their topics come from the service's composition root (``create_app`` builds the
runtime and registers its subscribers without starting anything), so they are the ones the
service runs, not a list kept beside them.

Reading, and what ``--limit`` bounds
------------------------------------
Without a consumer group: partitions are read one at a time from their beginning (or from the
offset of ``--since``) up to the end offsets taken when the command started, and nothing is
committed, so an operator's look creates no group and moves nothing. ``--limit`` bounds the dead
letters a command takes (lists, replays, discards), counted after everything else has chosen:
the service's, matching the filters, and, unless ``--all`` or ``--force``, not already dealt
with. They are taken oldest first: the partitions are read in turns, chunk by chunk, until
``--limit`` of them are found and no partition left could hold an older one; records after
those are not read. The command says how many more match, and how many records it did not read,
so that dead letters of other services, or ones already dealt with, never hide pending ones.

Ids
---
``<dead-letter topic>:<partition>:<offset>`` (``passerelle.equipment.v1.dlq:0:12``), or a shorter
form with any name that picks one of the service's dead-letter topics: the topic with or without
the topic prefix and ``.dlq``, or any part of its name between dots (``equipment:0:12``).
Listings show the shortest form; the audit keeps the full id.

Replay and discard
------------------
A replay writes the original value, key and headers (without the ``x-dlq-*`` ones, plus
``x-replayed-from``) to the original topic with an idempotent producer and ``acks=all``: the
record takes the normal path again at a new offset, and every consumer of the topic reads it.
Those that had applied it find it in their inbox; the one that dead-lettered it applies it now
(or dead-letters it again, at the new position, if the cause is still there). A dead letter
written without its value (too large for the dead-letter topic) is replayed with the value read
back from the original topic, which keeps every record. A discard only records the decision:
Kafka records are never deleted. Each replay or discard is one row of ``operator_audit``, written
under an advisory lock on the dead letter, so that two operators cannot both replay it; a dead
letter already replayed or discarded is replayed again only with ``--force``.

A replay's row is written and committed *before* the record is sent ('started'), then completed
('done', 'failed', or 'unknown' when the broker did not confirm the write in time: it may have
been written). A replay cut short between the two (the process killed, the database gone) leaves
'started': such a dead letter is listed as ``replay-unknown`` and is replayed again only with
``--force``, by id; until then, selecting by filter skips it. A valid envelope replayed twice is
applied once anyway (each consumer's inbox drops an event it has applied), which is what makes
``--force`` safe for it. An ``invalid-envelope`` dead letter is replayed only with ``--force``:
no consumer can read it, and every consumer of the shared topic would dead-letter it again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    KafkaError,
    KafkaTimeoutError,
    NotEnoughReplicasAfterAppendError,
    RequestTimedOutError,
)
from passerelle_contracts.registry import DLQ_SUFFIX
from pydantic_core import to_jsonable_python

from . import dead_letter_headers as h
from .db import Executor
from .kafka_access import KafkaAccess
from .logs import get_logger
from .settings import ServiceSettings
from .uow import Session

log = get_logger(__name__)

DLQ_HEADER_PREFIX = h.PREFIX
REPLAYED_FROM = h.REPLAYED_FROM
REASONS = h.REASONS  # what consumer._dead_letter writes
DEFAULT_LIMIT = 1000
READ_TIMEOUT_S = 30.0
CHUNK = (100, 500)  # records read from a partition at a time: --limit, within these bounds
# A send that ended with one of these may have been written all the same.
UNCONFIRMED = (KafkaTimeoutError, RequestTimedOutError, NotEnoughReplicasAfterAppendError)
ERROR_SHOWN = 80  # characters of the error on a listing's line
# pg_advisory_xact_lock(namespace, hashtext(target)): one decision at a time per dead letter.
AUDIT_LOCK_NAMESPACE = 7_231_118
REPLAY = "dlq-replay"
DISCARD = "dlq-discard"

# A service's consumers: name -> the topics it reads (with the topic prefix).
Consumers = Mapping[str, Sequence[str]]


class OperatorError(Exception):
    """A mistake a person can make (an unknown id, a bad date, a second replay): the CLI prints
    the message and exits with status 2, without a traceback."""


def consumers_of(broker: Any, settings: ServiceSettings) -> dict[str, tuple[str, ...]]:
    """The consumers a service's runtime registered on its (not started) broker: name -> topics.

    ``Runtime.consume`` subscribes each consumer with the group ``settings.group(name)``."""
    group_prefix = settings.group("")
    found: dict[str, tuple[str, ...]] = {}
    for subscriber in broker.subscribers:
        group = getattr(subscriber, "group_id", None)
        topics = getattr(subscriber, "topic_names_for_subscribe", None)
        if isinstance(group, str) and group.startswith(group_prefix) and topics:
            found[group.removeprefix(group_prefix)] = tuple(str(t) for t in topics)
    return found


def operator_name(given: str | None) -> str:
    """Who acts: ``--operator``, else the login name ($USER)."""
    name = (given or os.environ.get("USER") or _login()).strip()
    if not name:
        raise OperatorError("who is acting? name yourself with --operator")
    return name


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return ""


# -- the records --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic (or, read back for a replay, of an original topic)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def of(cls, record: Any) -> DeadLetter:
        headers = tuple((str(k), bytes(v or b"")) for k, v in record.headers or ())
        return cls(record.topic, record.partition, record.offset, record.timestamp, record.key, record.value, headers)

    @property
    def id(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k == name]
        return found[-1].decode("utf-8", "replace") if found else None

    @property
    def reason(self) -> str:
        return self.header(h.REASON) or "?"

    @property
    def error(self) -> str:
        return self.header(h.ERROR) or ""

    @property
    def consumer(self) -> str:
        return self.header(h.CONSUMER) or "?"

    @property
    def original_topic(self) -> str:
        return self.header(h.ORIGINAL_TOPIC) or self.topic.removesuffix(DLQ_SUFFIX)

    @property
    def original_partition(self) -> int | None:
        return _int(self.header(h.ORIGINAL_PARTITION))

    @property
    def original_offset(self) -> int | None:
        return _int(self.header(h.ORIGINAL_OFFSET))

    @property
    def original_position(self) -> str:
        return f"{self.original_topic}:{_or_q(self.original_partition)}:{_or_q(self.original_offset)}"

    @property
    def value_dropped(self) -> str | None:
        return self.header(h.VALUE_DROPPED)

    @property
    def failed_at(self) -> datetime:
        """``x-dlq-failed-at``, else the record's timestamp."""
        written = self.header(h.FAILED_AT)
        if written:
            try:
                return _utc(datetime.fromisoformat(written))
            except ValueError:
                pass
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    @cached_property
    def envelope(self) -> dict[str, Any]:
        """The value as JSON, if it is a JSON object (an invalid envelope may be anything)."""
        try:
            parsed = json.loads(self.value or b"")
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}

    @property
    def event_type(self) -> str | None:
        found = self.envelope.get("event_type") or self.header("event_type")
        return str(found) if found else None

    @property
    def event_id(self) -> str | None:
        found = self.envelope.get("event_id") or self.header("event_id")
        return str(found) if found else None

    def replay_headers(self) -> list[tuple[str, bytes]]:
        """The original headers (tracing, event ids), without the dead letter's, and where the
        replay comes from."""
        kept = [(k, v) for k, v in self.headers if not k.startswith(h.PREFIX) and k != h.REPLAYED_FROM]
        return [*kept, (h.REPLAYED_FROM, self.id.encode())]


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _or_q(value: int | None) -> str:
    return "?" if value is None else str(value)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- which are the service's, and their ids -----------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """A service's consumers, their dead-letter topics, and the ids of their dead letters."""

    prefix: str
    consumers: Consumers

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics the service's consumers read."""
        return tuple(sorted({t for topics in self.consumers.values() for t in topics}))

    @property
    def dlq_topics(self) -> tuple[str, ...]:
        return tuple(t + DLQ_SUFFIX for t in self.topics)

    def owns(self, dead: DeadLetter) -> bool:
        """Written by one of the service's consumers, about a topic that consumer reads."""
        return dead.original_topic in self.consumers.get(dead.consumer, ())

    def _names(self, dlq_topic: str) -> tuple[set[str], list[str]]:
        original = dlq_topic.removesuffix(DLQ_SUFFIX)
        bare = original.removeprefix(self.prefix)
        exact = {dlq_topic, dlq_topic.removeprefix(self.prefix), original, bare}
        return exact, bare.split(".")

    def _matching(self, name: str) -> list[str]:
        found = []
        for topic in self.dlq_topics:
            exact, parts = self._names(topic)
            runs = {".".join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)}
            if name in exact or name in runs:
                found.append(topic)
        return found

    def topic(self, name: str) -> str:
        """The dead-letter topic ``name`` stands for (see the module docstring)."""
        found = self._matching(name)
        if len(found) == 1:
            return found[0]
        if not found:
            known = ", ".join(self.short_topic(t) for t in self.dlq_topics) or "none: it consumes no topic"
            raise OperatorError(f"{name!r} is none of this service's dead-letter topics ({known})")
        raise OperatorError(f"{name!r} could be any of {', '.join(found)}: say which")

    def short_topic(self, dlq_topic: str) -> str:
        """The shortest name that picks ``dlq_topic`` alone (``equipment``)."""
        _, parts = self._names(dlq_topic)
        for length in range(1, len(parts) + 1):
            for start in range(len(parts) - length + 1):
                name = ".".join(parts[start : start + length])
                if self._matching(name) == [dlq_topic]:
                    return name
        return dlq_topic

    def short_id(self, dead: DeadLetter) -> str:
        return f"{self.short_topic(dead.topic)}:{dead.partition}:{dead.offset}"

    def parse_id(self, text: str) -> tuple[str, int, int]:
        """(dead-letter topic, partition, offset) of an id an operator typed."""
        parts = text.rsplit(":", 2)
        try:
            if len(parts) != 3:
                raise ValueError(text)
            name, partition, offset = parts[0], int(parts[1]), int(parts[2])
        except ValueError:
            raise OperatorError(
                f"{text!r} is not a dead-letter id: <topic>:<partition>:<offset>, e.g. equipment:0:12"
            ) from None
        if partition < 0 or offset < 0:
            raise OperatorError(f"{text!r}: partition and offset are never negative")
        return self.topic(name), partition, offset


# -- reading Kafka without a group --------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    dead_letters: list[DeadLetter]  # those taken: at most the limit, oldest first
    more: int = 0  # taken beyond the limit: read, matching, not returned
    unread: int = 0  # records after those, not read (they may hold more)


# Which of a chunk of records to take (it may ask the database, hence async).
Take = Callable[[list[DeadLetter]], Awaitable[list[DeadLetter]]]


def _order(dead: DeadLetter) -> tuple[datetime, str, int, int]:
    return dead.failed_at, dead.topic, dead.partition, dead.offset


class Reader:
    """Kafka read without a group, for one command: one admin client (which topics exist) and one
    consumer, started when first needed (a mistake found before costs no connection), the
    consumer assigned one partition at a time (assigning them all would prefetch them all)."""

    def __init__(self, kafka: KafkaAccess, stack: AsyncExitStack) -> None:
        self._kafka = kafka
        self._stack = stack  # closes whatever was started, even if the rest failed to start
        self._admin: Any = None
        self._consumer: Any = None
        self._partitions: dict[str, list[int]] = {}

    async def _start(self) -> None:
        if self._consumer is not None:
            return
        admin = AIOKafkaAdminClient(**self._kafka.aiokafka(), request_timeout_ms=15_000)
        self._stack.push_async_callback(admin.close)
        await admin.start()
        consumer = AIOKafkaConsumer(
            **self._kafka.aiokafka(),
            group_id=None,  # no group: nothing committed, nothing left behind
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            request_timeout_ms=15_000,
            client_id="passerelle-operator",
        )
        self._stack.push_async_callback(_stop, consumer)
        await consumer.start()
        self._admin, self._consumer = admin, consumer

    async def partitions(self, topics: Sequence[str]) -> dict[str, list[int]]:
        """The partitions of those of ``topics`` that exist (only those are described: a metadata
        request may create a topic it names, on a broker that creates topics on demand)."""
        await self._start()
        missing = sorted(set(topics) - self._partitions.keys())
        if missing:
            existing = set(await self._admin.list_topics()) & set(missing)
            described = await self._admin.describe_topics(sorted(existing)) if existing else []
            for d in described:
                if d.get("error_code") == 0 and d.get("partitions"):
                    self._partitions[d["topic"]] = sorted(p["partition"] for p in d["partitions"])
        return {t: self._partitions[t] for t in topics if t in self._partitions}

    async def _read(self, tp: TopicPartition, start: int, stop: int) -> list[DeadLetter]:
        self._consumer.assign([tp])
        return await _read_range(self._consumer, tp, start, stop)

    async def record(self, topic: str, partition: int, offset: int) -> DeadLetter | None:
        """The record at one position, or None if there is none (never written, or expired)."""
        if partition not in (await self.partitions([topic])).get(topic, ()):
            return None
        tp = TopicPartition(topic, partition)
        first = (await self._consumer.beginning_offsets([tp]))[tp]
        end = (await self._consumer.end_offsets([tp]))[tp]
        if not first <= offset < end:
            return None
        found = await self._read(tp, offset, offset + 1)
        return found[0] if found else None

    async def scan(self, topics: Iterable[str], *, since: datetime | None, limit: int, take: Take) -> Reading:
        """The oldest ``limit`` records of ``topics`` (from ``since`` if given) that ``take`` keeps.

        The partitions are read in turns, a chunk each, while fewer than ``limit`` are taken or a
        partition not read to its end could still hold an older one than the ``limit``-th."""
        partitions = await self.partitions(list(topics))
        tps = [TopicPartition(t, p) for t, ps in sorted(partitions.items()) for p in ps]
        if not tps:
            return Reading([])
        starts = dict(await self._consumer.beginning_offsets(tps))
        ends = dict(await self._consumer.end_offsets(tps))
        if since is not None:
            found = await self._consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in tps})
            starts = {tp: min(ends[tp], found[tp].offset) if found.get(tp) else ends[tp] for tp in tps}
        chunk = min(max(limit, CHUNK[0]), CHUNK[1])
        at = dict(starts)
        newest_read: dict[TopicPartition, datetime] = {}
        taken: list[DeadLetter] = []
        while turn := [tp for tp in tps if at[tp] < ends[tp]]:
            if len(taken) >= limit:
                taken.sort(key=_order)
                last = taken[limit - 1].failed_at
                turn = [tp for tp in turn if newest_read.get(tp, datetime.min.replace(tzinfo=UTC)) < last]
                if not turn:
                    break
            for tp in turn:
                stop = min(ends[tp], at[tp] + chunk)
                records = await self._read(tp, at[tp], stop)
                at[tp] = stop
                if records:
                    newest = max(r.failed_at for r in records)
                    newest_read[tp] = max(newest, newest_read.get(tp, newest))
                taken.extend(await take(records))
        taken.sort(key=_order)
        return Reading(taken[:limit], max(0, len(taken) - limit), sum(ends[tp] - at[tp] for tp in tps))


@asynccontextmanager
async def reader(kafka: KafkaAccess) -> AsyncIterator[Reader]:
    """A ``Reader``, closed at the end (what it started of it)."""
    async with AsyncExitStack() as stack:
        yield Reader(kafka, stack)


async def _stop(consumer: Any) -> None:
    # A consumer without a group stopped before its first await would re-raise the cancellation of
    # a task it started and never ran (aiokafka 0.14, NoGroupCoordinator.close): let it run first.
    await asyncio.sleep(0)
    await consumer.stop()


async def _read_range(consumer: Any, tp: TopicPartition, start: int, stop: int) -> list[DeadLetter]:
    consumer.seek(tp, start)
    records: list[DeadLetter] = []
    deadline = time.monotonic() + READ_TIMEOUT_S
    while await consumer.position(tp) < stop:
        if time.monotonic() > deadline:
            raise KafkaTimeoutError(
                f"reading {tp.topic}:{tp.partition} up to offset {stop} took over {READ_TIMEOUT_S} s"
            )
        batch = await consumer.getmany(tp, timeout_ms=500, max_records=min(500, stop - start))
        records.extend(DeadLetter.of(r) for r in batch.get(tp, ()) if start <= r.offset < stop)
    return records


# -- the audit ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    """One operator decision: a row of ``operator_audit``."""

    operator: str
    action: str  # dlq-replay, dlq-discard, outbox-release, outbox-discard
    target: str  # the dead letter's id, or outbox:<id>
    topic: str | None
    partition: int | None
    offset: int | None
    event_id: str | None
    outcome: str  # done, failed; a replay is first 'started', then done, failed or unknown
    reason: str | None = None
    detail: Mapping[str, Any] | None = None

    def line(self, at: datetime, shown_as: str | None = None) -> str:
        where = (
            f"{self.topic}:{_or_q(self.partition)}:{_or_q(self.offset)}" if self.partition is not None else self.topic
        )
        parts = [
            at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            self.operator,
            self.action,
            shown_as or self.target,
            f"original={where}",
            f"event={self.event_id or '?'}",
            self.outcome,
        ]
        if self.reason:
            parts.append(f"reason={self.reason!r}")
        parts.extend(f"{k}={v}" for k, v in (self.detail or {}).items() if k in ("replayed_to", "error"))
        return "  ".join(parts)


async def audit(db: Executor, entry: AuditEntry) -> datetime:
    """Write the decision (in the caller's transaction) and log it; returns when it was taken."""
    return (await _audit_row(db, entry))[1]


async def _audit_row(db: Executor, entry: AuditEntry) -> tuple[int, datetime]:
    row = await db.fetchrow(
        """INSERT INTO operator_audit (operator, action, target, topic, "partition", "offset", event_id, outcome,
                                       reason, detail)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id, at""",
        entry.operator,
        entry.action,
        entry.target,
        entry.topic,
        entry.partition,
        entry.offset,
        entry.event_id,
        entry.outcome,
        entry.reason,
        to_jsonable_python(dict(entry.detail or {})),
    )
    assert row is not None  # INSERT … RETURNING returns its row
    _log_entry(entry)
    return row["id"], row["at"]


async def _complete(db: Executor, audit_id: int, entry: AuditEntry) -> datetime:
    """The outcome of a decision whose row was written when it started."""
    at: datetime = await db.fetchval(
        "UPDATE operator_audit SET outcome = $2, detail = $3 WHERE id = $1 RETURNING at",
        audit_id,
        entry.outcome,
        to_jsonable_python(dict(entry.detail or {})),
    )
    _log_entry(entry)
    return at


def _log_entry(entry: AuditEntry) -> None:
    log.info(
        "operator action",
        operator=entry.operator,
        action=entry.action,
        target=entry.target,
        topic=entry.topic,
        partition=entry.partition,
        offset=entry.offset,
        event_id=entry.event_id,
        outcome=entry.outcome,
        reason=entry.reason,
        **{k: v for k, v in (entry.detail or {}).items() if k in ("replayed_to", "error")},
    )


REPLAY_UNKNOWN = "replay-unknown"


@dataclass(frozen=True)
class Decision:
    """The latest replay or discard on a dead letter that did not fail: done, or a replay not
    known to have been written or not ('started' and never completed, or 'unknown')."""

    action: str
    at: datetime
    operator: str
    reason: str | None
    outcome: str = "done"

    @property
    def state(self) -> str:
        """replayed, discarded, or replay-unknown."""
        if self.outcome != "done":
            return REPLAY_UNKNOWN
        return "replayed" if self.action == REPLAY else "discarded"

    @property
    def settled(self) -> bool:
        """Done: nothing more is needed (replay-unknown still needs someone to decide)."""
        return self.outcome == "done"

    def describe(self) -> str:
        # replay-unknown: when the replay started, and by whom
        return f"{self.state} {self.at.astimezone(UTC):%Y-%m-%d %H:%M}Z by {self.operator}"


async def decisions(db: Executor, targets: Sequence[str]) -> dict[str, Decision]:
    rows = await db.fetch(
        """SELECT DISTINCT ON (target) target, action, at, operator, reason, outcome FROM operator_audit
           WHERE target = ANY($1::text[]) AND action IN ($2, $3) AND outcome <> 'failed'
           ORDER BY target, at DESC, id DESC""",
        list(targets),
        REPLAY,
        DISCARD,
    )
    return {r["target"]: Decision(r["action"], r["at"], r["operator"], r["reason"], r["outcome"]) for r in rows}


# -- the command --------------------------------------------------------------------------------


def parse_time(text: str, *, end_of_day: bool = False) -> datetime:
    """An ISO date or time; without a zone, UTC. A date alone is its day's start (or, for
    ``--until``, its end)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        raise OperatorError(
            f"{text!r} is not an ISO date or time (e.g. 2025-03-01, 2025-03-01T14:30, 2025-03-01T14:30+01:00)"
        ) from None


@dataclass(frozen=True)
class Filters:
    topic: str | None = None  # a dead-letter topic
    reason: str | None = None
    consumer: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def of(cls, args: argparse.Namespace, scope: Scope) -> Filters:
        if args.consumer is not None and args.consumer not in scope.consumers:
            known = ", ".join(sorted(scope.consumers)) or "none"
            raise OperatorError(f"{args.consumer!r} is not a consumer of this service (its consumers: {known})")
        return cls(
            topic=scope.topic(args.topic) if args.topic is not None else None,
            reason=args.reason,
            consumer=args.consumer,
            since=parse_time(args.since) if args.since is not None else None,
            until=parse_time(args.until, end_of_day=True) if args.until is not None else None,
        )

    def any(self) -> bool:
        return any(v is not None for v in (self.topic, self.reason, self.consumer, self.since, self.until))

    def keep(self, dead: DeadLetter) -> bool:
        failed_at = dead.failed_at
        return (
            (self.topic is None or dead.topic == self.topic)
            and (self.reason is None or dead.reason == self.reason)
            and (self.consumer is None or dead.consumer == self.consumer)
            and (self.since is None or failed_at >= self.since)
            and (self.until is None or failed_at < self.until)
        )


def configure(parser: argparse.ArgumentParser) -> None:
    """``dlq list|show|replay|discard`` and their options."""
    actions = parser.add_subparsers(dest="dlq_action", required=True, metavar="{list,show,replay,discard}")

    def filters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--topic", help="a topic the service reads, e.g. equipment (or its full name)")
        p.add_argument("--reason", choices=REASONS, help="why it was dead-lettered")
        p.add_argument("--consumer", help="one of the service's consumers")
        p.add_argument("--since", help="failed at or after: ISO date or time, UTC unless a zone is given")
        p.add_argument("--until", help="failed before (a date alone: up to the end of that day)")
        p.add_argument(
            "--limit",
            type=positive,
            default=DEFAULT_LIMIT,
            help="dead letters taken at most, oldest first, after every other choice (default %(default)s)",
        )

    listing = actions.add_parser(
        "list", help="one line per dead letter not yet replayed or discarded (or whose replay is unknown)"
    )
    filters(listing)
    listing.add_argument("--all", action="store_true", help="also those already replayed or discarded")
    listing.add_argument("--json", action="store_true", help="one JSON object, for machines")

    show = actions.add_parser("show", help="a dead letter's headers and value")
    show.add_argument("id", metavar="ID", help="<topic>:<partition>:<offset>, as list shows it")

    replay = actions.add_parser("replay", help="write dead letters again to their original topic")
    replay.add_argument("ids", nargs="*", metavar="ID", help="dead letters to replay (or select them with filters)")
    filters(replay)
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed; change nothing")
    replay.add_argument(
        "--force",
        action="store_true",
        help="also those already replayed or discarded, whose replay is unknown, or whose envelope is invalid",
    )
    replay.add_argument("--operator", help="who acts (default: $USER)")

    discard = actions.add_parser("discard", help="record that dead letters need nothing more (Kafka keeps them)")
    discard.add_argument("ids", nargs="*", metavar="ID", help="dead letters to discard (or select them with filters)")
    filters(discard)
    discard.add_argument("--reason-text", required=True, help="why nothing more is needed (kept in the audit)")
    discard.add_argument("--dry-run", action="store_true", help="say what would be discarded; change nothing")
    discard.add_argument("--operator", help="who acts (default: $USER)")


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


async def run(args: argparse.Namespace, session: Session[Any], consumers: Consumers) -> None:
    """Run one ``dlq`` command for a service whose consumers are ``consumers``."""
    scope = Scope(session.settings.topic_prefix, consumers)
    if args.dlq_action == "show":
        await _show(args, session, scope)
        return
    # Who acts, and why, are checked before anything is read: a mistake there costs nothing.
    operator = operator_name(args.operator) if args.dlq_action in ("replay", "discard") else ""
    if args.dlq_action == "discard" and not args.reason_text.strip():
        raise OperatorError("--reason-text says why nothing more is needed: it cannot be empty")
    filters = Filters.of(args, scope)
    if args.dlq_action == "list":
        await _list(args, session, scope, filters)
    elif args.dlq_action == "replay":
        await _replay(args, session, scope, filters, operator)
    else:
        await _discard(args, session, scope, filters, operator)


@dataclass(frozen=True)
class Selection:
    dead_letters: list[DeadLetter]  # the service's, matching, taken, in order of failure
    decided: dict[str, Decision]  # the latest decision on each of them, if any
    more: int = 0  # matching, beyond --limit
    unread: int = 0  # records not read (--limit reached)
    passed: Counter[str] = field(default_factory=Counter)  # matching, not taken (by filter): why


def _refusals(action: str, dead: DeadLetter, decided: Decision | None, args: argparse.Namespace) -> list[str]:
    """Why ``action`` would not take ``dead``: short names (``_WHY``); none if it would."""
    if action == "list":
        return ["decided"] if decided and decided.settled and not args.all else []
    if action == "discard":
        if decided and decided.settled:
            return ["decided"]
        # A replay that may have been written is settled by someone who looked: by id, not by filter.
        return [REPLAY_UNKNOWN] if decided and not args.ids else []
    if args.force:
        return []
    found = []
    if decided:
        found.append("decided" if decided.settled else REPLAY_UNKNOWN)
    if dead.reason in (h.INVALID_ENVELOPE, h.WRONG_PRODUCER):  # replayed, either is dead-lettered again
        found.append(dead.reason)
    return found


_WHY = {  # a refusal, as a selection by filter reports it
    ("list", "decided"): "replayed or discarded not shown: --all",
    ("replay", "decided"): "already replayed or discarded (--force)",
    ("replay", REPLAY_UNKNOWN): f"{REPLAY_UNKNOWN} (by id: replay --force, or discard)",
    ("replay", h.INVALID_ENVELOPE): f"{h.INVALID_ENVELOPE} (--force)",
    ("replay", h.WRONG_PRODUCER): f"{h.WRONG_PRODUCER}: forged, a security matter (--force)",
    ("discard", "decided"): "already replayed or discarded",
    ("discard", REPLAY_UNKNOWN): f"{REPLAY_UNKNOWN} (by id, once you know whether it was written)",
}


def _refused(action: str, why: str, dead: DeadLetter, decided: Decision | None, scope: Scope) -> str:
    """A refusal, as an error for a dead letter named by id."""
    shown = scope.short_id(dead)
    if why == "decided" and decided is not None:
        hint = "; --force to replay anyway" if action == "replay" else ""
        return f"{shown} was already {decided.describe()}{hint}"
    if why == REPLAY_UNKNOWN and decided is not None:
        return (
            f"{shown} is {REPLAY_UNKNOWN}: the replay {decided.operator} started"
            f" {decided.at.astimezone(UTC):%Y-%m-%d %H:%M}Z was never confirmed, and may have been written to"
            f" {dead.original_topic} (look there for a record with {h.REPLAYED_FROM}: {dead.id}); --force to"
            " replay it anyway (a valid envelope is applied once: the consumers' inboxes drop a copy they have"
            " applied), or discard it"
        )
    if why == h.WRONG_PRODUCER:
        return (
            f"{shown} was not written by the producer of {dead.original_topic} (forged, or a principal misused:"
            " see the runbook); replayed, every consumer would dead-letter it again; --force to replay it anyway"
        )
    return (
        f"{shown} is an invalid envelope: no consumer can read it, and replayed, every consumer of"
        f" {dead.original_topic} would dead-letter it again; --force to replay it anyway"
    )


async def _select(
    args: argparse.Namespace, session: Session[Any], scope: Scope, filters: Filters, kafka: Reader
) -> Selection:
    """The dead letters the command takes: named by id (a refusal is an error), or by filters
    (a refusal is counted in ``passed``, and ``--limit`` counts only those taken)."""
    action: str = args.dlq_action
    pool = session.pool
    ids: list[str] = getattr(args, "ids", [])
    if ids:
        if filters.any():
            raise OperatorError("name dead letters by id or select them with filters, not both")
        positions = list(dict.fromkeys(scope.parse_id(i) for i in ids))  # all checked before Kafka is asked
        found = []
        for topic, partition, offset in positions:
            dead = await kafka.record(topic, partition, offset)
            if dead is None:
                raise OperatorError(f"no dead letter {topic}:{partition}:{offset} (never written, or expired)")
            if not scope.owns(dead):
                raise OperatorError(
                    f"{scope.short_id(dead)} was dead-lettered by consumer {dead.consumer!r} about"
                    f" {dead.original_topic}, which is not one of this service's consumers"
                    f" ({', '.join(sorted(scope.consumers))}): it is another service's to deal with"
                )
            found.append(dead)
        decided = await decisions(pool, [d.id for d in found])
        problems = [
            _refused(action, why, d, decided.get(d.id), scope)
            for d in found
            for why in _refusals(action, d, decided.get(d.id), args)
        ]
        if problems:
            raise OperatorError("\n".join(problems))
        return Selection(sorted(found, key=_order), decided)

    if action != "list" and not filters.any():
        raise OperatorError(
            "name dead letters by id, or select them with --topic, --reason, --consumer, --since or --until"
        )
    decided = {}  # of every matching dead letter read
    passed: Counter[str] = Counter()

    async def take(records: list[DeadLetter]) -> list[DeadLetter]:
        mine = [d for d in records if scope.owns(d) and filters.keep(d)]
        decided.update(await decisions(pool, [d.id for d in mine]))
        kept = []
        for dead in mine:
            refusals = _refusals(action, dead, decided.get(dead.id), args)
            if refusals:
                passed[refusals[0]] += 1
            else:
                kept.append(dead)
        return kept

    topics = [filters.topic] if filters.topic else list(scope.dlq_topics)
    reading = await kafka.scan(topics, since=filters.since, limit=args.limit, take=take)
    taken = {d.id for d in reading.dead_letters}
    return Selection(
        reading.dead_letters,
        {k: v for k, v in decided.items() if k in taken},
        reading.more,
        reading.unread,
        passed,
    )


def _say_more(selection: Selection, limit: int, verb: str) -> None:
    """What ``--limit`` left: matching dead letters not taken, records not read."""
    said = []
    if selection.more:
        said.append(f"{selection.more} more dead letters match, not {verb} (--limit {limit})")
    if selection.unread:
        maybe = "" if selection.more else f", and may hold more dead letters to be {verb} (--limit {limit})"
        said.append(f"{selection.unread} later records were not read{maybe}")
    if said:
        print(f"{'; '.join(said)}: raise --limit, or narrow with --topic, --since or --until", file=sys.stderr)


def _say_passed(selection: Selection, action: str, verb: str) -> None:
    """What a selection by filter matched but did not take, and why."""
    for why, count in sorted(selection.passed.items()):
        print(f"{count} not {verb}: {_WHY[action, why]}", file=sys.stderr)


async def _list(args: argparse.Namespace, session: Session[Any], scope: Scope, filters: Filters) -> None:
    if not scope.consumers:
        print("this service consumes no topic: it has no dead letters", file=sys.stderr)
        if args.json:
            print(json.dumps({"dead_letters": [], "more": 0, "unread": 0}))
        return
    async with reader(session.settings.kafka) as kafka:
        selection = await _select(args, session, scope, filters, kafka)
    shown = selection.dead_letters
    if args.json:
        print(
            json.dumps(
                {
                    "dead_letters": [_as_json(d, scope, selection.decided.get(d.id)) for d in shown],
                    "more": selection.more,
                    "unread": selection.unread,
                },
                ensure_ascii=False,
            )
        )
        return
    for dead in shown:
        error = " ".join(dead.error.split())
        error = error if len(error) <= ERROR_SHOWN else error[: ERROR_SHOWN - 1] + "…"
        decided = selection.decided.get(dead.id)
        print(
            "  ".join(
                [
                    scope.short_id(dead),
                    decided.describe() if decided else "pending",
                    f"{dead.failed_at:%Y-%m-%dT%H:%M:%SZ}",
                    dead.reason,
                    dead.consumer,
                    _event(dead),
                    error,
                ]
            )
        )
    summary = f"{len(shown)} dead letters"
    if hidden := selection.passed["decided"]:
        summary += f" ({hidden} {_WHY['list', 'decided']})"
    print(summary, file=sys.stderr)
    _say_more(selection, args.limit, "shown")


def _event(dead: DeadLetter) -> str:
    return " ".join(filter(None, (dead.event_type, dead.event_id))) or "(no event)"


def _as_json(dead: DeadLetter, scope: Scope, decided: Decision | None) -> dict[str, Any]:
    return {
        "id": dead.id,
        "short_id": scope.short_id(dead),
        "failed_at": dead.failed_at.isoformat(),
        "reason": dead.reason,
        "consumer": dead.consumer,
        "attempts": _int(dead.header(h.ATTEMPTS)),
        "error": dead.error,
        "event_type": dead.event_type,
        "event_id": dead.event_id,
        "key": dead.key.decode("utf-8", "replace") if dead.key is not None else None,
        "original": {
            "topic": dead.original_topic,
            "partition": dead.original_partition,
            "offset": dead.original_offset,
        },
        "value_dropped": dead.value_dropped,
        "state": (
            {
                "name": decided.state,  # replayed, discarded, replay-unknown; pending: no state
                "action": decided.action,
                "outcome": decided.outcome,
                "at": decided.at.isoformat(),
                "operator": decided.operator,
            }
            if decided
            else None
        ),
    }


async def _show(args: argparse.Namespace, session: Session[Any], scope: Scope) -> None:
    topic, partition, offset = scope.parse_id(args.id)
    async with reader(session.settings.kafka) as kafka:
        dead = await kafka.record(topic, partition, offset)
    if dead is None:
        raise OperatorError(f"no dead letter {topic}:{partition}:{offset} (never written, or expired)")
    decided = (await decisions(session.pool, [dead.id])).get(dead.id)
    print(f"id: {dead.id}  ({scope.short_id(dead)})")
    print(f"state: {decided.describe() if decided else 'pending'}")
    if decided and not decided.settled:
        print(f"  it may have been written to {dead.original_topic}: look for {h.REPLAYED_FROM}: {dead.id}")
    if decided and decided.reason:
        print(f"  reason: {decided.reason}")
    if not scope.owns(dead):
        print(f"note: written by consumer {dead.consumer!r}, not one of this service's ({', '.join(scope.consumers)})")
    print(f"failed at: {dead.failed_at.isoformat()}")
    print(f"original: {dead.original_position}")
    print(f"key: {dead.key.decode('utf-8', 'replace') if dead.key is not None else '(none)'}")
    print("headers:")
    for name, value in dead.headers:
        print(f"  {name}: {value.decode('utf-8', 'replace')}")
    print("value:")
    if dead.value_dropped:
        print(f"  (not in the dead letter: {dead.value_dropped}; the record is at {dead.original_position})")
    elif dead.envelope or (dead.value or b"").strip().startswith((b"{", b"[")):
        try:
            print(json.dumps(json.loads(dead.value or b""), indent=2, ensure_ascii=False))
        except ValueError:
            print((dead.value or b"").decode("utf-8", "replace"))
    else:
        print((dead.value or b"").decode("utf-8", "replace") or "(empty)")


@asynccontextmanager
async def _producer(kafka: KafkaAccess) -> AsyncIterator[Any]:
    producer = AIOKafkaProducer(
        **kafka.aiokafka(),
        enable_idempotence=True,
        acks="all",
        request_timeout_ms=15_000,
        client_id="passerelle-operator",
    )
    try:
        await producer.start()
        yield producer
    finally:
        await producer.stop()


@asynccontextmanager
async def _locked(conn: Any, dead: DeadLetter) -> AsyncIterator[None]:
    """The dead letter's advisory lock, for the session: held across the transactions of a replay
    (its 'started' row, the send, its outcome); released with the connection if the process dies."""
    await conn.execute("SELECT pg_advisory_lock($1, hashtext($2))", AUDIT_LOCK_NAMESPACE, dead.id)
    try:
        yield
    finally:
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):  # gone with it
            await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", AUDIT_LOCK_NAMESPACE, dead.id)


async def _replay(
    args: argparse.Namespace, session: Session[Any], scope: Scope, filters: Filters, operator: str
) -> None:
    access = session.settings.kafka
    counts: Counter[str] = Counter()
    async with reader(access) as kafka:
        selection = await _select(args, session, scope, filters, kafka)
        chosen = selection.dead_letters
        if args.dry_run:
            for dead in chosen:
                print(f"would replay {scope.short_id(dead)} to {dead.original_topic}  {_event(dead)}")
            print(f"dry run: {len(chosen)} dead letters would be replayed, nothing was", file=sys.stderr)
            _say_passed(selection, "replay", "replayed")
            _say_more(selection, args.limit, "replayed")
            return
        if chosen:
            async with _producer(access) as producer:
                for dead in chosen:
                    counts[await _replay_one(session, scope, dead, producer, kafka, operator, force=args.force)] += 1
    summary = [f"{counts['done']} dead letters replayed"]
    if counts["skipped"]:
        summary.append(f"{counts['skipped']} skipped (dealt with meanwhile)")
    if counts["failed"]:
        summary.append(f"{counts['failed']} failed")
    if counts["unknown"]:
        summary.append(f"{counts['unknown']} unknown (may have been written: see above)")
    print(", ".join(summary), file=sys.stderr)
    _say_passed(selection, "replay", "replayed")
    _say_more(selection, args.limit, "replayed")
    if counts["failed"] or counts["unknown"]:
        raise SystemExit(
            f"replay: {counts['failed']} dead letters could not be replayed, {counts['unknown']} may or may not"
            " have been (see above)"
        )


def _audit_entry(dead: DeadLetter, operator: str, action: str, outcome: str, **more: Any) -> AuditEntry:
    """What the audit says of an operator's act on a dead letter: it and where its record was."""
    return AuditEntry(
        operator=operator,
        action=action,
        target=dead.id,
        topic=dead.original_topic,
        partition=dead.original_partition,
        offset=dead.original_offset,
        event_id=dead.event_id,
        outcome=outcome,
        **more,
    )


async def _replay_one(
    session: Session[Any], scope: Scope, dead: DeadLetter, producer: Any, kafka: Reader, operator: str, *, force: bool
) -> str:
    """Replay one dead letter under its lock: its audit row committed first ('started'), then
    completed. Returns the outcome (done, failed, unknown), or 'skipped'."""
    entry = _audit_entry(dead, operator, REPLAY, "started")
    async with session.pool.acquire() as conn, _locked(conn, dead):
        async with conn.transaction():
            decided = (await decisions(conn, [dead.id])).get(dead.id)
            if decided and not force:  # another operator was quicker
                print(f"skipped {scope.short_id(dead)}: {decided.describe()} meanwhile")
                return "skipped"
            audit_id, _ = await _audit_row(conn, entry)
        outcome, detail = await _send(dead, producer, kafka)
        entry = replace(entry, outcome=outcome, detail=detail)
        try:
            at = await _complete(conn, audit_id, entry)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
            print(
                f"{scope.short_id(dead)}: {outcome} {detail}, but its outcome could not be recorded ({error!r}):"
                f" it is listed as {REPLAY_UNKNOWN}",
                file=sys.stderr,
            )
            return "unknown"
    print(entry.line(at, scope.short_id(dead)))
    return outcome


async def _send(dead: DeadLetter, producer: Any, kafka: Reader) -> tuple[str, dict[str, Any]]:
    """Write the dead letter again to its original topic: (outcome, detail)."""
    detail: dict[str, Any] = {}
    value = dead.value
    if dead.value_dropped:
        detail["value_from"] = dead.original_position
        try:
            original = None
            if dead.original_partition is not None and dead.original_offset is not None:
                original = await kafka.record(dead.original_topic, dead.original_partition, dead.original_offset)
        except KafkaError as error:
            return "failed", detail | {"error": f"the original record could not be read back: {error!r}"}
        if original is None:
            return "failed", detail | {"error": f"the original record {dead.original_position} is gone"}
        value = original.value
    try:
        sent = await producer.send_and_wait(dead.original_topic, value, key=dead.key, headers=dead.replay_headers())
    except UNCONFIRMED as error:
        return "unknown", detail | {
            "error": (
                f"the broker did not confirm the write ({error!r}): it may have been written to"
                f" {dead.original_topic} (look for {h.REPLAYED_FROM}: {dead.id}). A valid envelope written"
                " twice is applied once (each consumer's inbox drops a copy it has applied)"
            )
        }
    except KafkaError as error:
        return "failed", detail | {"error": repr(error)}
    return "done", detail | {"replayed_to": f"{sent.topic}:{sent.partition}:{sent.offset}"}


async def _discard(
    args: argparse.Namespace, session: Session[Any], scope: Scope, filters: Filters, operator: str
) -> None:
    async with reader(session.settings.kafka) as kafka:
        selection = await _select(args, session, scope, filters, kafka)
    chosen = selection.dead_letters
    reason = args.reason_text.strip()
    if args.dry_run:
        for dead in chosen:
            print(f"would discard {scope.short_id(dead)}  {dead.reason}  {_event(dead)}")
        print(f"dry run: {len(chosen)} dead letters would be discarded, none was", file=sys.stderr)
        _say_passed(selection, "discard", "discarded")
        _say_more(selection, args.limit, "discarded")
        return
    done = skipped = 0
    for dead in chosen:
        async with session.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", AUDIT_LOCK_NAMESPACE, dead.id)
            decided = (await decisions(conn, [dead.id])).get(dead.id)
            if decided and decided != selection.decided.get(dead.id):  # another operator was quicker
                print(f"skipped {scope.short_id(dead)}: {decided.describe()} meanwhile")
                skipped += 1
                continue
            entry = _audit_entry(
                dead,
                operator,
                DISCARD,
                "done",
                reason=reason,
                detail={"dead_letter_reason": dead.reason, "dead_letter_error": dead.error[:500]},
            )
            at = await audit(conn, entry)
        print(entry.line(at, scope.short_id(dead)))
        done += 1
    print(
        f"{done} dead letters discarded" + (f", {skipped} skipped (dealt with meanwhile)" if skipped else ""),
        file=sys.stderr,
    )
    _say_passed(selection, "discard", "discarded")
    _say_more(selection, args.limit, "discarded")
