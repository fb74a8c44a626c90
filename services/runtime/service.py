"""The runtime one service process runs: pool, migrations, Kafka broker, consumers, outbox relay.

A service's composition root builds one ``Runtime`` and hands it to ``http.create_http_app``;
nothing connects before ``start()`` (no I/O at import time).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker

from . import db, dead_letter_headers
from .consumer import Handler, PostgresDeadLetters, ReliableConsumer, RetryPolicy, subscribe
from .logs import get_logger
from .metrics import Metrics
from .outbox import OutboxRelay, backlog
from .outbox_faults import backlog_counts
from .settings import ServiceSettings
from .topics import check_topics, ensure_topics
from .uow import Context, PostgresUnitOfWork, RepositoryFactory, Session

log = get_logger(__name__)

StartHook = Callable[["Runtime"], Awaitable[None]]
# A loop for the life of the process: an ``async def`` (asyncio runs coroutines as tasks).
Loop = Callable[[], Coroutine[Any, Any, None]]
STOP_TIMEOUT_S = 20.0


def create_broker(settings: ServiceSettings, *, publishes: bool = True) -> KafkaBroker:
    """Idempotent producer with acks=all; FastStream's per-message access log is kept at DEBUG
    because the consumer writes its own line per message with the outcome.

    ``publishes=False``: a service that writes to no topic (the gateway) gets a plain producer,
    which FastStream starts anyway: an idempotent one asks the broker for a producer id at start,
    which needs WRITE on some topic, a right such a service's principal must not have."""
    return KafkaBroker(
        # FastStream takes a string as one address: "a:1,b:2" (a cluster) is split into a list.
        settings.kafka.servers,
        security=settings.kafka.faststream_security(),
        client_id=f"passerelle-{settings.service_name}",
        enable_idempotence=publishes,
        acks="all",
        request_timeout_ms=15_000,
        # Topics come from the contracts' registry (partitions, retention), never from a
        # subscriber's first poll, which would create them with the broker's defaults.
        allow_auto_create_topics=False,
        logger=get_logger("faststream"),
        log_level=logging.DEBUG,
    )


class Runtime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        migrations: Path,
        repository: RepositoryFactory[Any] = lambda executor: None,
        on_start: Iterable[StartHook] = (),
        relay: bool = True,
        publishes: bool = True,
    ) -> None:
        """``publishes=False``: the service writes no event at all (no relay, no consumer, so no
        dead letter either): see ``create_broker``."""
        self.settings = settings
        self._repository = repository
        self.metrics = Metrics(settings.service_name)
        self.metrics.on_scrape(self._refresh_outbox_metrics)
        if not relay:
            self.metrics.without_relay()
        self.broker = create_broker(settings, publishes=publishes)
        self._publishes = publishes
        self._migrations = {"runtime": db.RUNTIME_MIGRATIONS, settings.service_name: migrations}
        self._on_start = list(on_start)
        self._pool: asyncpg.Pool | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._with_relay = relay
        self.relay: OutboxRelay | None = None
        self.retry = RetryPolicy(
            settings.consumer_max_attempts,
            settings.consumer_backoff_initial_s,
            settings.consumer_backoff_max_s,
            settings.consumer_conflict_max_attempts,
        )

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the runtime is not started")
        return self._pool

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    def unit_of_work(self, context: Context) -> PostgresUnitOfWork[Any]:
        """A unit of work of this service acting in ``context`` (see ``uow``)."""
        return Session(self.settings, self.pool, self._repository).unit_of_work(context)

    def repository(self) -> Any:
        """The service's repository on the pool, for single reads."""
        return self._repository(self.pool)

    def consume(self, name: str, topics: Iterable[str], handlers: Mapping[str, Handler]) -> ReliableConsumer:
        if not self._publishes:
            raise RuntimeError("a runtime that publishes nothing cannot consume: its dead letters are published")
        topics = list(topics)
        consumer = ReliableConsumer(
            name,
            handlers,
            unit_of_work=self.unit_of_work,
            publish=self.broker.publish,
            retry=self.retry,
            metrics=self.metrics,
            dead_letters=PostgresDeadLetters(lambda: self.pool),
            topic_prefix=self.settings.topic_prefix,  # to check each record's producer (consumer.py)
        )
        subscribe(self.broker, self.settings, consumer, topics)
        for topic in topics:  # each series from 0, so that an alert on increase() sees the first dead letter
            for reason in dead_letter_headers.REASONS:
                self.metrics.dead_letters(self.topic(topic), reason)
        return consumer

    def background(self, factory: Loop, name: str) -> None:
        """Run a loop for the life of the process (started after the broker)."""
        self._on_start.append(lambda runtime: self._spawn(factory, name))

    def every(self, interval_s: float, job: Callable[[], Awaitable[Any]], name: str) -> None:
        """Run a scheduled job now and then every ``interval_s`` seconds; a failure is logged
        and the job runs again at the next tick. Jobs must be idempotent: every replica runs them."""

        async def loop() -> None:
            while True:
                try:
                    await job()
                except Exception as error:  # noqa: BLE001 - try again at the next tick
                    log.warning("scheduled job failed", job=name, error=repr(error))
                await asyncio.sleep(interval_s)

        self.background(loop, name)

    async def _spawn(self, factory: Loop, name: str) -> None:
        self._tasks.append(asyncio.create_task(factory(), name=name))

    async def start(self) -> None:
        s = self.settings
        self._pool = await db.create_pool(s.database_url, min_size=s.db_pool_min, max_size=s.db_pool_max)
        await db.migrate(self._pool, self._migrations)
        for hook in self._on_start:
            await hook(self)
        created = await ensure_topics(  # idempotent: the registry's topics
            s.kafka,
            s.topic_prefix,
            replication_factor=s.topic_replication_factor,
            min_insync_replicas=s.topic_min_insync_replicas,
        )
        for problem in await check_topics(
            s.kafka,
            s.topic_prefix,
            replication_factor=s.topic_replication_factor,
            min_insync_replicas=s.topic_min_insync_replicas,
        ):
            log.warning("topic differs from the registry", problem=problem)
        if created:
            log.info("topics created", topics=created)
        await self.broker.start()
        if self._with_relay:
            self.relay = OutboxRelay(
                dsn=s.database_url,
                pool=self._pool,
                kafka=s.kafka,
                batch_size=s.outbox_batch_size,
                poll_interval_s=s.outbox_poll_interval_s,
                keep_published_s=s.outbox_keep_published_s,
                metrics=self.metrics,
            )
            self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        log.info(
            "service started", kafka=s.kafka_bootstrap, kafka_principal=s.kafka.username, topic_prefix=s.topic_prefix
        )

    async def stop(self) -> None:
        """Stop the background tasks, the broker and the pool; bounded in time, so that nothing
        (a task that does not end when cancelled, a consumer leaving its group mid-rebalance)
        can hang a shutdown: what does not stop in time is named in the log and left behind."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.warning("background task had failed", task=task.get_name(), error=repr(task.exception()))
            for task in pending:
                log.error("background task did not stop when cancelled", task=task.get_name(), timeout_s=STOP_TIMEOUT_S)
        self._tasks.clear()
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await self.broker.stop()
        except TimeoutError:
            log.warning("broker did not stop in time; closing anyway", timeout_s=STOP_TIMEOUT_S)
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        log.info("service stopped")

    async def readiness(self) -> dict[str, Any]:
        """Whether the service can accept work, and which part is degraded.

        Ready means the database answers: every command commits its state with its events in
        the outbox, and every consumer's effects with their inbox row, so the broker being away
        only delays publication and consumption (the relay and the consumers resume on their
        own). A service without its database can do nothing: not ready. Anything else that is
        not as it should be is named in ``degraded``: the broker, a background task (the relay,
        the mailer, a scheduled job) that stopped."""
        checks: dict[str, Any] = {}
        try:
            async with asyncio.timeout(2):  # not wait_for, which may swallow a cancellation (see outbox)
                await self.pool.fetchval("SELECT 1")
            checks["database"] = "ok"
        except Exception as error:  # noqa: BLE001 - reported, not raised
            checks["database"] = f"unavailable: {error!r}"
        checks["broker"] = "ok" if await self.broker.ping(timeout=2) else "unavailable"
        if self._with_relay:
            checks["relay"] = "leader" if self.relay and self.relay.is_leader else "standby"
        stopped = sorted(task.get_name() for task in self._tasks if task.done())
        checks["degraded"] = [part for part in ("database", "broker") if checks[part] != "ok"] + [
            f"task {name} stopped" for name in stopped
        ]
        checks["ready"] = checks["database"] == "ok"
        return checks

    async def _refresh_outbox_metrics(self) -> None:
        if self._pool is None:
            return  # not started: nothing to say yet
        state = await backlog_counts(self.pool)
        m = self.metrics
        m.outbox_pending.set(state["pending"])
        m.outbox_oldest_age_s.set(state["oldest_age_s"])
        m.outbox_parked.set(state["parked"])
        if m.relay_leader is not None:
            m.relay_leader.set(1 if self.relay and self.relay.is_leader else 0)
        m.published.set(self.relay.published if self.relay else 0)

    async def outbox_backlog(self) -> dict[str, Any]:
        state = await backlog(self.pool)
        state["relay_leader"] = bool(self.relay and self.relay.is_leader)
        state["published_since_start"] = self.relay.published if self.relay else 0
        return state
