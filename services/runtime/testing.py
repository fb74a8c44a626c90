"""Fakes for unit tests: a unit of work whose storage is memory.

Use cases are tested against ``FakeUnitOfWork`` with a service's fake repository; each service's
repository suite runs the same tests against its fake and against PostgreSQL, so a fake cannot
drift from the database (as eventsourcing and cosmicpython do). The fake keeps the real unit of
work's rules: events only inside ``async with``, a rollback undoes the repository's changes, the
outbox rows, the inbox claims and the Idempotency-Keys of the block.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from passerelle_contracts import Actor, Envelope, partners

from .consumer import Position
from .uow import Context, UnitOfWork

R = TypeVar("R")

COORDINATION = Actor(organisation="easy-brussels", role="coordination", key_id="test")


class FakeStore(Generic[R]):
    """What fake units of work share, as several transactions share one database."""

    def __init__(self, repo: R) -> None:
        self.repo = repo
        self.outbox: list[tuple[str, Envelope]] = []
        self.inbox: set[tuple[str, uuid.UUID]] = set()
        self.keys: dict[tuple[str, str, str], tuple[str, Any]] = {}
        # The consumers' dead letters (``consumer.DeadLetterLog``):
        # (consumer, (topic, partition, offset)) -> (value's SHA-256, reason, event id).
        self.dead_letters: dict[tuple[str, tuple[str, int, int]], tuple[bytes, str, uuid.UUID | None]] = {}
        self.commits = 0

    def unit_of_work(
        self, context: Context | None = None, *, source: str = "test", topic: Callable[[str], str] = lambda name: name
    ) -> FakeUnitOfWork[R]:
        return FakeUnitOfWork(store=self, context=context, source=source, topic=topic)

    def events(self, event_type: str | None = None) -> list[Envelope]:
        """Committed events, in outbox order; of one type if given (the services' topics: the
        partner topics' copies are in ``partner_events``)."""
        return [
            e
            for topic, e in self.outbox
            if partners.PARTNER_PREFIX not in topic and (event_type is None or e.event_type == event_type)
        ]

    def partner_events(self) -> list[tuple[str, Envelope]]:
        """The copies written for partners, with their topics."""
        return [(topic, e) for topic, e in self.outbox if partners.PARTNER_PREFIX in topic]

    async def dead_lettered(self, consumer: str, positions: Sequence[Position]) -> set[Position]:
        found = {p: self.dead_letters.get((consumer, p[:3])) for p in positions}
        return {p for p, noted in found.items() if noted is not None and noted[0] == p[3]}

    async def record_dead_letter(
        self, consumer: str, position: Position, reason: str, event_id: uuid.UUID | None
    ) -> None:
        topic, partition, offset, value_sha256 = position
        noted = self.dead_letters.get((consumer, (topic, partition, offset)))
        if noted is None or noted[0] != value_sha256:
            self.dead_letters[(consumer, (topic, partition, offset))] = (value_sha256, reason, event_id)


class FakeUnitOfWork(UnitOfWork[R]):
    def __init__(
        self,
        repo: R | None = None,
        *,
        store: FakeStore[R] | None = None,
        context: Context | None = None,
        actor: Actor = COORDINATION,
        source: str = "test",
        topic: Callable[[str], str] = lambda name: name,
    ) -> None:
        super().__init__(source=source, context=context or Context(actor=actor), topic=topic)
        if store is None:
            if repo is None:
                raise TypeError("FakeUnitOfWork needs a repository or a store")
            store = FakeStore(repo)
        self.store = store
        self._snapshot: tuple[Any, ...] | None = None

    @property
    def repo(self) -> R:
        return self.store.repo

    @property
    def events(self) -> list[Envelope]:
        return self.store.events()

    async def _begin(self) -> None:
        s = self.store
        self._snapshot = (copy.deepcopy(vars(s.repo)), len(s.outbox), set(s.inbox), dict(s.keys))

    async def _commit(self) -> None:
        self._snapshot = None
        self.store.commits += 1

    async def _rollback(self) -> None:
        assert self._snapshot is not None
        repo_state, outbox_len, inbox, keys = self._snapshot
        s = self.store
        vars(s.repo).clear()
        vars(s.repo).update(repo_state)
        del s.outbox[outbox_len:]
        s.inbox, s.keys = inbox, keys
        self._snapshot = None

    async def _write_outbox(self, items: list[tuple[str, Envelope]]) -> None:
        self.store.outbox.extend(items)

    async def claim_inbox(self, consumer: str, envelope: Envelope, topic: str, partition: int, offset: int) -> bool:
        key = (consumer, envelope.event_id)
        if key in self.store.inbox:
            return False
        self.store.inbox.add(key)
        return True

    async def release_inbox_many(self, consumer: str, event_ids: Sequence[uuid.UUID]) -> None:
        for event_id in event_ids:
            self.store.inbox.discard((consumer, event_id))

    async def _claim_key(self, organisation: str, scope: str, key: str, digest: str) -> tuple[str, Any] | None:
        k = (organisation, scope, key)
        if k in self.store.keys:
            return self.store.keys[k]
        self.store.keys[k] = (digest, None)
        return None

    async def _store_reply(self, organisation: str, scope: str, key: str, body: Any) -> None:
        k = (organisation, scope, key)
        self.store.keys[k] = (self.store.keys[k][0], body)
