"""The unit of work: one transaction, the service's repository, and the events it emits.

Why one object
--------------
A use case needs four things besides its own input: a transaction, the SQL of its service, who
is acting (for authorisation and for the events' ``actor``) and the correlation of the flow it
belongs to (the HTTP request or the message being handled, for the events' ``correlation_id``
and ``causation_id``). Threading them as arguments cost every use case the same four
parameters and let each one wrap its envelopes its own way; this object carries them once.

* ``async with uow:`` opens the transaction; leaving the block commits, an exception rolls
  back. Entering again inside the block joins the same transaction, so one use case can call
  another, and an event handler (which the consumer calls inside the transaction that holds
  its inbox row) can be the same function as an HTTP command.
* ``uow.repo`` is the service's repository bound to the transaction (outside a block it is
  bound to the pool, for single reads).
* ``uow.emit(event, subject)`` wraps the event in the envelope with the actor, correlation and
  causation of the context, and writes it to the outbox in the same transaction as the state:
  nothing is published unless the state commits, nothing committed goes unpublished.
* ``uow.claim_inbox`` and ``uow.claim_idempotency_key`` are the runtime's own tables (inbox and
  Idempotency-Key), so a fake unit of work can stand in for all of them in unit tests.

Events are buffered and written to the outbox with one ``executemany`` at ``flush()`` (or at
commit, which flushes): the ids are still allocated inside the transaction, while the aggregate
rows it locked are held, which is what keeps per-aggregate order (see ``outbox``).
"""

from __future__ import annotations

import abc
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import asyncpg
from passerelle_contracts import SYSTEM_ACTOR, Actor, Envelope, EventData, partners
from pydantic_core import to_jsonable_python

from . import idempotency, inbox, outbox
from .db import Executor
from .errors import Invalid

if TYPE_CHECKING:
    from .settings import ServiceSettings

R = TypeVar("R")
T = TypeVar("T")
RepositoryFactory = Callable[[Executor], R]


@dataclass(frozen=True)
class Context:
    """Who acts and which flow this is: copied onto every event the unit of work emits."""

    actor: Actor
    correlation_id: uuid.UUID = field(default_factory=uuid.uuid4)
    causation_id: uuid.UUID | None = None

    @classmethod
    def system(cls, correlation_id: uuid.UUID | None = None) -> Context:
        """Scheduled jobs, seeding and start-up: the system acts, in a flow of its own."""
        return cls(actor=SYSTEM_ACTOR, correlation_id=correlation_id or uuid.uuid4())

    @classmethod
    def caused_by(cls, envelope: Envelope, actor: Actor = SYSTEM_ACTOR) -> Context:
        """Handling an event: same flow, and the event is the cause of whatever follows."""
        return cls(actor=actor, correlation_id=envelope.correlation_id, causation_id=envelope.event_id)


@dataclass(frozen=True)
class StoredReply:
    """What an Idempotency-Key's first request answered, returned again to its repetitions."""

    body: Any


def request_digest(body: Any) -> str:
    """A stable digest of a request body (pydantic models, dicts, dates, decimals …)."""
    canonical = json.dumps(to_jsonable_python(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class UnitOfWork(abc.ABC, Generic[R]):
    """One use case's transaction; see the module docstring. Subclasses supply the storage."""

    def __init__(self, *, source: str, context: Context, topic: Callable[[str], str] = lambda name: name) -> None:
        self.source = source
        self.context = context
        self._topic = topic
        self._depth = 0
        self._pending: list[tuple[str, Envelope]] = []
        self._emitted_before = 0
        self.emitted: list[Envelope] = []  # this unit of work's events, committed or about to be

    # -- who and which flow -------------------------------------------------------------------
    @property
    def actor(self) -> Actor:
        return self.context.actor

    @property
    def correlation_id(self) -> uuid.UUID:
        return self.context.correlation_id

    @property
    def active(self) -> bool:
        return self._depth > 0

    # -- the transaction ----------------------------------------------------------------------
    async def __aenter__(self) -> UnitOfWork[R]:
        if self._depth == 0:
            await self._begin()
            self._emitted_before = len(self.emitted)
        self._depth += 1
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._depth -= 1
        if self._depth > 0:
            return  # a nested block: the outermost one decides
        try:
            if kind is None:
                await self.flush()
                await self._commit()
            else:
                await self._rollback()
        finally:
            if kind is not None:
                del self.emitted[self._emitted_before :]  # rolled back: they never happened
            self._pending.clear()

    # -- events -------------------------------------------------------------------------------
    def emit(
        self,
        event: EventData,
        subject: str,
        *,
        occurred_at: datetime | None = None,
        event_id: uuid.UUID | None = None,
        context: Context | None = None,
    ) -> Envelope:
        """Wrap ``event`` for ``subject`` (its aggregate id, the Kafka key) and queue it for the
        outbox of this transaction; returns the envelope.

        ``context`` replaces the unit of work's for this one event: an event caused by another one
        emitted earlier in the same transaction (``Context.caused_by(envelope)``), which must still
        commit with it."""
        if not self.active:
            raise RuntimeError("emit() outside 'async with uow:': the event would not commit with the state")
        context = context or self.context
        envelope = Envelope.wrap(
            event,
            source=self.source,
            subject=subject,
            actor=context.actor,
            correlation_id=context.correlation_id,
            causation_id=context.causation_id,
            occurred_at=occurred_at,
            event_id=event_id,
        )
        self._pending.append((self._topic(event.topic), envelope))
        # Partners read a copy without the free text (passerelle_contracts.partners), written in
        # this same transaction: the partner topic can neither miss an event nor run ahead.
        if (copy := partners.project(event.topic, envelope)) is not None:
            self._pending.append((self._topic(partners.partner_topic(event.topic)), copy))
        self.emitted.append(envelope)
        return envelope

    async def flush(self) -> None:
        """Write the queued events to the outbox now (commit does it anyway)."""
        if self._pending:
            await self._write_outbox(list(self._pending))
            self._pending.clear()

    # -- Idempotency-Key ----------------------------------------------------------------------
    async def claim_idempotency_key(self, scope: str, key: str, digest: str) -> StoredReply | None:
        """None if the caller's organisation never used ``key`` for ``scope`` (it is now taken, in
        this transaction); else the first reply. The same key with another body is refused."""
        stored = await self._claim_key(self.context.actor.organisation, scope, key, digest)
        if stored is None:
            return None
        stored_digest, body = stored
        if stored_digest != digest:
            raise Invalid(
                f"Idempotency-Key {key!r} was already used by {self.context.actor.organisation} for a different "
                f"request to {scope}; use a new key for a new request"
            )
        return StoredReply(body)

    async def store_reply(self, scope: str, key: str, body: Any) -> None:
        await self._store_reply(self.context.actor.organisation, scope, key, to_jsonable_python(body))

    # -- what a storage supplies --------------------------------------------------------------
    @property
    @abc.abstractmethod
    def repo(self) -> R: ...

    @abc.abstractmethod
    async def _begin(self) -> None: ...

    @abc.abstractmethod
    async def _commit(self) -> None: ...

    @abc.abstractmethod
    async def _rollback(self) -> None: ...

    @abc.abstractmethod
    async def _write_outbox(self, items: list[tuple[str, Envelope]]) -> None: ...

    @abc.abstractmethod
    async def claim_inbox(self, consumer: str, envelope: Envelope, topic: str, partition: int, offset: int) -> bool:
        """True if ``consumer`` has not applied ``envelope`` yet (it now owns it in this transaction)."""

    async def claim_inbox_many(
        self, consumer: str, records: Sequence[tuple[Envelope, str, int, int]]
    ) -> set[uuid.UUID]:
        """The event ids of ``records`` (envelope, topic, partition, offset) that ``consumer`` has
        not applied yet, now owned by this transaction: a batch's inbox rows at once. An event
        twice in ``records`` is claimed once. (A storage may do it in one statement.)"""
        claimed: set[uuid.UUID] = set()
        for envelope, topic, partition, offset in records:
            if envelope.event_id not in claimed and await self.claim_inbox(
                consumer, envelope, topic, partition, offset
            ):
                claimed.add(envelope.event_id)
        return claimed

    @abc.abstractmethod
    async def release_inbox_many(self, consumer: str, event_ids: Sequence[uuid.UUID]) -> None:
        """Give back inbox rows this transaction claimed for records it will not apply after all
        (a batch stopped at its deadline, a partition given away meanwhile): they are delivered
        again, here or to the partition's new owner, and must be applied then."""

    @abc.abstractmethod
    async def _claim_key(self, organisation: str, scope: str, key: str, digest: str) -> tuple[str, Any] | None: ...

    @abc.abstractmethod
    async def _store_reply(self, organisation: str, scope: str, key: str, body: Any) -> None: ...


class PostgresUnitOfWork(UnitOfWork[R]):
    """The unit of work on one pooled asyncpg connection."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        repository: RepositoryFactory[R],
        *,
        source: str,
        context: Context,
        topic: Callable[[str], str] = lambda name: name,
    ) -> None:
        super().__init__(source=source, context=context, topic=topic)
        self._pool = pool
        self._factory = repository
        self._conn: asyncpg.pool.PoolConnectionProxy | None = None
        self._tx: asyncpg.transaction.Transaction | None = None
        self._repo: R | None = None

    @property
    def connection(self) -> Executor:
        """The transaction's connection (the pool outside a block): for the runtime's own SQL."""
        return self._conn if self._conn is not None else self._pool

    @property
    def repo(self) -> R:
        if self._repo is None:
            return self._factory(self._pool)
        return self._repo

    async def _begin(self) -> None:
        self._conn = await self._pool.acquire()
        try:
            self._tx = self._conn.transaction()
            await self._tx.start()
        except BaseException:
            await self._release()
            raise
        self._repo = self._factory(self._conn)

    async def _commit(self) -> None:
        try:
            assert self._tx is not None
            await self._tx.commit()
        finally:
            await self._release()

    async def _rollback(self) -> None:
        try:
            if self._tx is not None:
                await self._tx.rollback()
        finally:
            await self._release()

    async def _release(self) -> None:
        conn, self._conn, self._tx, self._repo = self._conn, None, None, None
        if conn is not None:
            await self._pool.release(conn)

    async def _write_outbox(self, items: list[tuple[str, Envelope]]) -> None:
        await outbox.enqueue_many(self.connection, items)

    async def claim_inbox(self, consumer: str, envelope: Envelope, topic: str, partition: int, offset: int) -> bool:
        return await inbox.claim(
            self.connection, consumer, envelope.event_id, envelope.event_type, topic, partition, offset
        )

    async def claim_inbox_many(
        self, consumer: str, records: Sequence[tuple[Envelope, str, int, int]]
    ) -> set[uuid.UUID]:
        claims = [(e.event_id, e.event_type, topic, partition, offset) for e, topic, partition, offset in records]
        return await inbox.claim_many(self.connection, consumer, claims)

    async def release_inbox_many(self, consumer: str, event_ids: Sequence[uuid.UUID]) -> None:
        await inbox.release_many(self.connection, consumer, event_ids)

    async def _claim_key(self, organisation: str, scope: str, key: str, digest: str) -> tuple[str, Any] | None:
        return await idempotency.claim(self.connection, organisation, scope, key, digest)

    async def _store_reply(self, organisation: str, scope: str, key: str, body: Any) -> None:
        await idempotency.store(self.connection, organisation, scope, key, body)


@dataclass(frozen=True)
class Session(Generic[R]):
    """A service's units of work and repository on its pool: what its HTTP API, consumers,
    scheduled jobs (through ``Runtime``) and own commands (``cli``) all work with."""

    settings: ServiceSettings
    pool: asyncpg.Pool
    repository_factory: RepositoryFactory[R]

    def unit_of_work(self, context: Context) -> PostgresUnitOfWork[R]:
        return PostgresUnitOfWork(
            self.pool, self.repository_factory, source=self.settings.service_name, context=context,
            topic=self.settings.topic,
        )  # fmt: skip

    def repository(self) -> R:
        """The repository on the pool, for reads."""
        return self.repository_factory(self.pool)


async def once(
    uow: UnitOfWork[Any], scope: str, key: str | None, request: Any, run: Callable[[], Awaitable[T]]
) -> tuple[T | Any, bool]:
    """Run ``run`` once per Idempotency-Key of the caller's organisation; returns (reply, created).

    Without a key the command simply runs. With one, the key, a digest of ``request`` and the
    reply are kept in the same transaction as the command's effects: a repetition (a client
    retrying after a timeout) gets the first reply back without doing anything, and the same key
    with a different body is refused (422) rather than silently answered with the first result.
    Two concurrent requests with one key serialise on the key's row; the second sees the first's
    reply once it commits.
    """
    if key is None:
        async with uow:
            return await run(), True
    async with uow:
        stored = await uow.claim_idempotency_key(scope, key, request_digest(request))
        if stored is not None:
            return stored.body, False
        reply = await run()
        await uow.store_reply(scope, key, reply)
        return reply, True
