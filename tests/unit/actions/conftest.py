"""Use cases of the actions service on a fake unit of work: the plan loaded into the fake
repository, and units of work acting for the Coordination, an owner or the system."""

from __future__ import annotations

import uuid
from typing import cast

import pytest
from passerelle_contracts import Actor

from services.actions.handlers.aggregate import Uow
from services.actions.handlers.plan import LoadPlan, load_plan, read_seed
from services.runtime.testing import FakeStore
from services.runtime.uow import Context
from tests.fakes.actions import FakeActionsRepository

COORDINATION = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k-coord")
BRUXELLES_FORMATION = Actor(organisation="bruxelles-formation", role="owner", key_id="k-bf")  # leads action 38
CABAN = Actor(organisation="caban", role="owner", key_id="k-caban")  # leads no action

Store = FakeStore[FakeActionsRepository]


def acting(store: Store, actor: Actor = COORDINATION, correlation_id: uuid.UUID | None = None) -> Uow:
    """A unit of work for ``actor``, as the HTTP dependency builds one (events come from 'actions')."""
    return in_context(store, Context(actor=actor, correlation_id=correlation_id or uuid.uuid4()))


def in_context(store: Store, context: Context) -> Uow:
    # The fake repository has the SQL one's methods without inheriting it: typed as the use cases take it.
    return cast(Uow, store.unit_of_work(context, source="actions"))


async def seeded_store() -> Store:
    store = FakeStore(FakeActionsRepository())
    plan, indicators = read_seed()
    await load_plan(in_context(store, Context.system()), LoadPlan(plan, indicators))
    return store


@pytest.fixture
async def store() -> Store:
    """The plan loaded, its announcements cleared: each test sees only the events it causes."""
    store = await seeded_store()
    store.outbox.clear()
    return store
