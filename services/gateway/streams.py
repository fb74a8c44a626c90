"""One stream: a Kafka consumer of its own, read only as fast as its client takes the events.

Each stream has an ``AIOKafkaConsumer`` without a group (nothing committed: the position lives
with the client, in the SSE ids), assigned every partition of its topics and sought to where the
client left off (``Last-Event-ID``) or to the beginning or the end. It takes at most
``batch_max_records`` records at a time and hands them to the response one event at a time;
Starlette awaits the transport between two events, so a slow client slows its stream's reads:
what waits in the gateway for a client is at most one batch, plus what aiokafka fetched ahead
(at most ``fetch_max_partition_bytes`` per partition).

Every event's id is the position after it, every partition's next offset included, so a client
that resumes from any id gets everything after it once. Records a type filter leaves out still
move the position: a stream idle for ``heartbeat_s`` sends a comment and, if the position
moved since the last id, a block with only an ``id:`` (a client updates its last event id and
dispatches nothing).

Every ``grants_ttl_s`` (and before every event once that much time has passed) the stream checks
its key and its grants again: a key revoked or expired, or a topic no longer granted, ends it with
an ``event: revoked`` whose data says why.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter
from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from services.runtime.logs import get_logger
from services.runtime.metrics import Metrics

from . import position as positions
from .grants import Grants, GrantsUnavailable
from .selection import PARTNER_TOPICS, InvalidPositionError, Start
from .settings import GatewaySettings

log = get_logger(__name__)

RETRY_AFTER_S = 5
END_REASONS = (
    "client-closed",  # the client went away (the usual end)
    "revoked",  # a topic streamed is no longer granted
    "key-revoked",  # the stream's API key was revoked or expired
    "max-duration",  # max_stream_s: the client reconnects with its last id
    "grants-unavailable",  # the broker did not say what the partner may read for too long
    "broker-error",  # the consumer failed
    "error",  # anything else (logged)
)

KeyAlive = Callable[[], Awaitable[bool]]
KeyCheck = Callable[[str], Awaitable[bool]]
"""Whether an API key (the bearer token) is still live."""


class Refused(Exception):
    """A stream not opened for a reason of the moment: answered with its status and Retry-After."""

    def __init__(self, status_code: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.code = code
        self.reason = reason


class GatewayMetrics:
    def __init__(self, metrics: Metrics) -> None:
        registry = metrics.registry
        self.open = metrics.gauge(
            "passerelle_gateway_streams_open", "Streams open in this process, by partner.", ["partner"]
        )
        self.sent = Counter(
            "passerelle_gateway_events_sent",
            "Events sent to clients (the transport took them), by partner topic.",
            ["topic"],
            registry=registry,
        ).labels
        self.read = Counter(
            "passerelle_gateway_records_read",
            "Records streams took from Kafka, sent or not (left out by a type filter, not JSON), by partner topic.",
            ["topic"],
            registry=registry,
        ).labels
        self.ends = Counter(
            "passerelle_gateway_stream_ends",
            "Streams ended, by reason: " + ", ".join(END_REASONS) + ".",
            ["reason"],
            registry=registry,
        ).labels
        for reason in END_REASONS:  # each series from 0, so that an alert on increase() sees the first one
            self.ends(reason)
        for topic in PARTNER_TOPICS:
            self.sent(topic)
            self.read(topic)


class Limits:
    """Open streams, per organisation and in all (in this process)."""

    def __init__(self, per_partner: int, overall: int) -> None:
        self.per_partner = per_partner
        self.overall = overall
        self._open: dict[str, int] = {}

    def take(self, partner: str) -> None:
        if sum(self._open.values()) >= self.overall:
            raise Refused(503, "unavailable", f"this gateway serves {self.overall} streams already; try again")
        if self._open.get(partner, 0) >= self.per_partner:
            raise Refused(
                429,
                "too-many-streams",
                f"{partner} has {self.per_partner} streams open already: close one (streams resume with Last-Event-ID)",
            )
        self._open[partner] = self._open.get(partner, 0) + 1

    def give_back(self, partner: str) -> None:
        left = self._open.get(partner, 0) - 1
        if left > 0:
            self._open[partner] = left
        else:
            self._open.pop(partner, None)


@dataclass(frozen=True)
class Ending:
    reason: str
    last: bytes  # what the client gets before the end (an event, the position, or nothing)


def _block(token: str, event: str | None = None, data: bytes | None = None) -> bytes:
    lines = [b"id: " + token.encode()]
    if event is not None:
        lines.append(b"event: " + event.encode())
    if data is not None:
        lines.append(b"data: " + data)
    return b"\n".join(lines) + b"\n\n"


class Stream:
    """One client's stream; ``open`` it, iterate ``events()``, ``close`` it (the response does)."""

    def __init__(
        self,
        *,
        partner: str,
        topics: tuple[str, ...],
        types: frozenset[str] | None,
        every_topic: bool,
        settings: GatewaySettings,
        grants: Grants,
        key_alive: KeyAlive,
        metrics: GatewayMetrics,
    ) -> None:
        self.partner = partner
        self.topics = topics
        self.types = types
        self._every_topic = every_topic  # the Coordination, the operators: every partner topic, no grant
        self._settings = settings
        self._grants = grants
        self._key_alive = key_alive
        self._metrics = metrics
        self._names = {settings.topic(name): name for name in topics}  # Kafka's name -> the registry's
        self.consumer: Any = None  # AIOKafkaConsumer (untyped)
        self.position: positions.Position = {}
        self.read = 0  # records taken from Kafka
        self.sent = 0  # events the transport took
        self.end_reason: str | None = None
        self.opened_at = time.monotonic()
        self._closed = False
        self._last_id = ""
        self._last_sent_at = self._next_check = 0.0

    # --- opening ----------------------------------------------------------------------------

    async def open(self, start: Start, resume: positions.Position) -> None:
        """Connect, assign every partition of the topics, seek each to its first record to send.
        ``InvalidPositionError`` for a position beyond what the topics hold; ``Refused`` (503)
        when the broker does not answer."""
        s = self._settings
        self.consumer = AIOKafkaConsumer(
            **s.kafka.aiokafka(),
            group_id=None,
            enable_auto_commit=False,
            client_id=f"passerelle-{s.service_name}",
            auto_offset_reset="earliest",  # an offset gone (retention): the oldest left, never the end
            isolation_level="read_committed",
            max_partition_fetch_bytes=s.fetch_max_partition_bytes,
            fetch_max_bytes=4 * s.fetch_max_partition_bytes,
        )
        try:
            await self.consumer.start()
            partitions = await self._partitions()
            self.consumer.assign(partitions)
            first = await self.consumer.beginning_offsets(partitions)
            end = await self.consumer.end_offsets(partitions)
        except KafkaError as error:
            await self._stop_consumer()
            log.warning("stream not opened: the broker did not answer", partner=self.partner, error=repr(error))
            raise Refused(503, "unavailable", "the broker did not answer; try again") from None
        except BaseException:
            await self._stop_consumer()
            raise
        try:
            self.position = self._starting_points(partitions, first, end, start, resume)
        except InvalidPositionError:
            await self._stop_consumer()
            raise
        for tp in partitions:
            self.consumer.seek(tp, self.position[(self._names[tp.topic], tp.partition)])

    async def _partitions(self) -> list[TopicPartition]:
        # aiokafka tells a topic's partitions once its client holds the topic's metadata, and has
        # no public call to ask for it before assign(), which needs the partitions: ask its client
        # for exactly these topics' metadata, as assign() would itself.
        await self.consumer._client.set_topics(list(self._names))
        partitions: list[TopicPartition] = []
        for name in self._names:
            found = self.consumer.partitions_for_topic(name)
            if not found:
                raise Refused(503, "unavailable", f"the broker does not know the partitions of {self._names[name]} yet")
            partitions += [TopicPartition(name, p) for p in sorted(found)]
        return partitions

    def _starting_points(
        self,
        partitions: list[TopicPartition],
        first: dict[TopicPartition, int],
        end: dict[TopicPartition, int],
        start: Start,
        resume: positions.Position,
    ) -> positions.Position:
        held = {(self._names[tp.topic], tp.partition): tp for tp in partitions}
        for (name, partition), offset in resume.items():
            if name not in self.topics:
                continue  # a position of a wider stream: the partitions of this one are enough
            tp = held.get((name, partition))
            if tp is None:
                raise InvalidPositionError(
                    f"Last-Event-ID names partition {partition} of {name}, which has no such partition"
                )
            if offset > end[tp]:
                raise InvalidPositionError(f"Last-Event-ID is beyond the end of {name} (partition {partition})")
        position: positions.Position = {}
        for key, tp in held.items():
            if key in resume:
                if resume[key] < first[tp]:
                    log.warning(
                        "stream resumes after records the topic no longer holds",
                        partner=self.partner,
                        topic=key[0],
                        partition=key[1],
                        position=resume[key],
                        oldest=first[tp],
                    )
                position[key] = max(resume[key], first[tp])
            else:
                position[key] = first[tp] if start == "beginning" else end[tp]
        return position

    # --- streaming --------------------------------------------------------------------------

    async def events(self) -> AsyncGenerator[bytes, None]:
        """The response's body: the events, one chunk each, until the stream ends itself (the
        client's going away ends it from outside: see ``EventStream``)."""
        s = self._settings
        now = time.monotonic()
        deadline = now + s.max_stream_s
        self._last_sent_at, self._next_check = now, now + s.grants_ttl_s
        self._last_id = positions.encode(self.position)
        yield f"retry: {s.reconnect_ms}\n".encode() + _block(self._last_id)
        while True:
            if (ending := await self._checks()) is not None:
                if ending.last:
                    yield ending.last
                return
            now = time.monotonic()
            if now >= deadline:
                self.end_reason = "max-duration"
                if last := self._moved():
                    yield last
                return
            wait_s = min(self._last_sent_at + s.heartbeat_s, self._next_check, deadline) - now
            try:
                batch = await self.consumer.getmany(
                    timeout_ms=max(0, int(wait_s * 1000)), max_records=s.batch_max_records
                )
            except KafkaError as error:
                log.warning("stream ends: the consumer failed", partner=self.partner, error=repr(error))
                self.end_reason = "broker-error"
                if last := self._moved():
                    yield last
                return
            for tp, records in batch.items():
                name = self._names[tp.topic]
                self.read += len(records)
                self._metrics.read(name).inc(len(records))
                for record in records:
                    if (ending := await self._checks()) is not None:  # a grant withdrawn meanwhile
                        if ending.last:
                            yield ending.last
                        return
                    self.position[(name, tp.partition)] = record.offset + 1
                    event = self._event(record, name)
                    if event is None:
                        continue
                    token = positions.encode(self.position)
                    yield _block(token, *event)
                    self._last_id, self._last_sent_at = token, time.monotonic()
                    self.sent += 1
                    self._metrics.sent(name).inc()
            if time.monotonic() - self._last_sent_at >= s.heartbeat_s:
                yield b": keepalive\n\n" + self._moved()
                self._last_sent_at = time.monotonic()

    def _moved(self) -> bytes:
        """An id-only block if the position moved since the last id sent, else nothing."""
        token = positions.encode(self.position)
        if token == self._last_id:
            return b""
        self._last_id = token
        return _block(token)

    def _event(self, record: Any, topic: str) -> tuple[str, bytes] | None:
        """(event type, the value on one line) of a record to send; None for one left out."""
        value: bytes | None = record.value
        where = {"partner": self.partner, "topic": topic, "partition": record.partition, "offset": record.offset}
        try:
            envelope = json.loads(value.decode("utf-8")) if value is not None else None
        except (ValueError, RecursionError):  # UnicodeDecodeError included; nesting too deep
            log.warning("record skipped: its value is not JSON", **where)
            return None
        event_type = envelope.get("event_type") if isinstance(envelope, dict) else None
        if not isinstance(event_type, str) or not event_type or not event_type.isprintable():
            log.warning("record skipped: not an envelope with an event type", **where)
            return None
        if self.types is not None and event_type not in self.types:
            return None
        assert value is not None  # an envelope was read from it
        if b"\n" in value or b"\r" in value:  # JSON written on several lines: an SSE data line is one
            try:
                value = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
            except (ValueError, RecursionError):  # UnicodeEncodeError (a lone surrogate) included
                log.warning("record skipped: its value cannot be sent on one line", **where)
                return None
        return event_type, value

    async def _checks(self) -> Ending | None:
        """Every ``grants_ttl_s``: is the key still live, is every topic still granted?"""
        now = time.monotonic()
        if now < self._next_check:
            return None
        self._next_check = now + self._settings.grants_ttl_s
        if not await self._key_alive():
            return self._revoked("key-revoked", {"reason": "the API key was revoked or has expired"})
        if self._every_topic:
            return None
        try:
            granted = await self._grants.readable(self.partner)
        except GrantsUnavailable:
            self.end_reason = "grants-unavailable"
            return Ending("grants-unavailable", self._moved())
        withdrawn = [name for name in self.topics if name not in granted]
        if withdrawn:
            reason = f"no longer granted to {self.partner}: {', '.join(withdrawn)}"
            return self._revoked("revoked", {"reason": reason, "topics": withdrawn})
        return None

    def _revoked(self, reason: str, data: dict[str, Any]) -> Ending:
        self.end_reason = reason
        self._last_id = positions.encode(self.position)
        log.info("stream revoked", partner=self.partner, topics=list(self.topics), why=data["reason"])
        return Ending(reason, _block(self._last_id, "revoked", json.dumps(data, ensure_ascii=False).encode()))

    # --- closing ----------------------------------------------------------------------------

    async def _stop_consumer(self) -> None:
        if self.consumer is not None:
            try:
                await self.consumer.stop()
            except Exception as error:  # noqa: BLE001 - closing: nothing left to save, say it and go on
                log.warning("stream's consumer did not stop cleanly", partner=self.partner, error=repr(error))

    async def close(self, reason: str) -> str:
        """Stop the consumer (once); the reason the stream ended (its own, else ``reason``)."""
        if not self._closed:
            self._closed = True
            self.end_reason = self.end_reason or reason
            await self._stop_consumer()
        return self.end_reason or reason

    async def consumer_positions(self) -> positions.Position:
        """Where the consumer is (the next record it would hand over), partition by partition:
        what the stream took from Kafka, for a look at how far ahead of its client it reads."""
        return {
            (self._names[tp.topic], tp.partition): await self.consumer.position(tp) for tp in self.consumer.assignment()
        }


class EventStream(StreamingResponse):
    """``text/event-stream`` of one ``Stream``, closed however the response ends: the stream's
    own end, the client going away (Starlette cancels the body), an error."""

    media_type = "text/event-stream"

    def __init__(self, stream: Stream, closed: Callable[[Stream, str], Awaitable[None]]) -> None:
        self._stream = stream
        self._events = stream.events()
        self._closed = closed
        # no-cache: a stream is never stored; X-Accel-Buffering: a proxy (nginx) must not buffer it
        super().__init__(self._events, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reason = "client-closed"
        try:
            await super().__call__(scope, receive, send)
        except (asyncio.CancelledError, ClientDisconnect, OSError):
            raise
        except BaseException:
            reason = "error"
            log.exception("stream failed", partner=self._stream.partner)
            raise
        finally:
            # The client may be gone and this task cancelled: close all the same.
            with anyio.CancelScope(shield=True):
                await self._events.aclose()
                await self._closed(self._stream, reason)


class Streams:
    """The streams of this process: who may open one, the limits, the metrics, the log lines."""

    def __init__(self, settings: GatewaySettings, grants: Grants, metrics: Metrics, key_is_live: KeyCheck) -> None:
        self.settings = settings
        self.grants = grants
        self._key_is_live = key_is_live
        self.metrics = GatewayMetrics(metrics)
        self.limits = Limits(settings.max_streams_per_partner, settings.max_streams)
        self.open_streams: set[Stream] = set()

    async def granted(self, partner: str, every_topic: bool) -> frozenset[str]:
        """The partner topics the organisation may stream (every one for the Coordination and the operators)."""
        if every_topic:
            return frozenset(PARTNER_TOPICS)
        try:
            return await self.grants.readable(partner)
        except GrantsUnavailable as error:
            raise Refused(503, "unavailable", str(error)) from None

    async def open(
        self,
        *,
        partner: str,
        topics: tuple[str, ...],
        types: frozenset[str] | None,
        every_topic: bool,
        start: Start,
        resume: positions.Position,
        key: str,
    ) -> EventStream:
        """A stream, connected and sought, as the response that sends it (``Refused``: 429, 503)."""
        self.limits.take(partner)

        async def key_alive() -> bool:
            try:
                return await self._key_is_live(key)
            except Exception as error:  # noqa: BLE001 - the database away: the key was live at open, ask again later
                log.warning("stream's key not checked", partner=partner, error=repr(error))
                return True

        stream = Stream(
            partner=partner,
            topics=topics,
            types=types,
            every_topic=every_topic,
            settings=self.settings,
            grants=self.grants,
            key_alive=key_alive,
            metrics=self.metrics,
        )
        try:
            await stream.open(start, resume)
        except BaseException:
            self.limits.give_back(partner)
            raise
        self.open_streams.add(stream)
        self.metrics.open.labels(partner).inc()
        log.info(
            "stream opened",
            partner=partner,
            topics=list(topics),
            types=sorted(types) if types is not None else None,
            start=start,
            resumed=bool(resume),
        )
        return EventStream(stream, self._closed)

    async def _closed(self, stream: Stream, reason: str) -> None:
        reason = await stream.close(reason)
        if stream in self.open_streams:
            self.open_streams.discard(stream)
            self.limits.give_back(stream.partner)
            self.metrics.open.labels(stream.partner).dec()
            self.metrics.ends(reason).inc()
            log.info(
                "stream closed",
                partner=stream.partner,
                topics=list(stream.topics),
                events=stream.sent,
                records_read=stream.read,
                duration_s=round(time.monotonic() - stream.opened_at, 3),
                reason=reason,
            )
