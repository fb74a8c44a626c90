"""Partners and their subscriptions, on PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest

from services.notifications.handlers import (
    ReplaceSubscriptions,
    load_partners,
    read_seed,
    replace_subscriptions,
    save_partner,
)
from services.notifications.repository import NotificationsRepository
from services.runtime.errors import NotFound
from services.runtime.testing import COORDINATION
from services.runtime.uow import Context, UnitOfWork

from .given import ACTIRIS, EASY, Store, system

pytestmark = pytest.mark.infra


def coordination(store: Store) -> UnitOfWork[NotificationsRepository]:
    return system(store, Context(actor=COORDINATION))


async def test_a_saved_partner_is_kept_with_its_subscriptions_untouched(store: Store) -> None:
    await save_partner(coordination(store), EASY)
    await replace_subscriptions(coordination(store), ReplaceSubscriptions("easy-brussels", ["IndicatorMeasured"]))

    renamed = dataclasses.replace(EASY, name="easy.brussels asbl", language="nl")
    partner = await save_partner(coordination(store), renamed)

    assert partner.details == renamed
    assert partner.subscriptions == ["IndicatorMeasured"]


async def test_subscriptions_are_replaced_not_added_to(store: Store) -> None:
    await save_partner(coordination(store), ACTIRIS)
    await replace_subscriptions(
        coordination(store), ReplaceSubscriptions("actiris", ["IndicatorMeasured", "GrantAwarded"])
    )
    partner = await replace_subscriptions(
        coordination(store), ReplaceSubscriptions("actiris", ["MeetingHeld", "ActionStatusChanged", "MeetingHeld"])
    )

    assert partner.subscriptions == ["ActionStatusChanged", "MeetingHeld"]


async def test_an_unknown_partner_cannot_subscribe(store: Store) -> None:
    with pytest.raises(NotFound, match="no partner nobody"):
        await replace_subscriptions(coordination(store), ReplaceSubscriptions("nobody", ["IndicatorMeasured"]))
    assert await store.repo.partners() == []


async def test_the_seed_loads_the_partners_on_first_start_only(store: Store) -> None:
    seed = read_seed()
    assert await load_partners(system(store), seed) == len(seed["partners"])
    await save_partner(coordination(store), dataclasses.replace(EASY, code="actiris", name="Actiris (changed)"))

    assert await load_partners(system(store), seed) == 0, "later starts leave partners to the Coordination"
    partners = {p.details.code: p for p in await store.repo.partners()}
    assert len(partners) == len(seed["partners"])
    assert partners["actiris"].details.name == "Actiris (changed)"
    assert "IndicatorMeasured" in partners["easy-brussels"].subscriptions
