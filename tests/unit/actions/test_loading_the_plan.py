"""Loading the plan at start-up: once, announced once, and completed on later starts."""

from __future__ import annotations

import pytest
from passerelle_contracts import SYSTEM_ACTOR

from services.actions.handlers.plan import LoadPlan, load_plan, load_structure, read_seed
from services.runtime.testing import FakeStore
from services.runtime.uow import Context
from tests.fakes.actions import FakeActionsRepository

from .conftest import in_context, seeded_store


async def test_the_plan_is_loaded_once_and_each_action_and_indicator_announced_once() -> None:
    store = await seeded_store()
    registered = store.events("ActionRegistered")
    assert [e.data["action_number"] for e in registered] == list(range(1, 67))
    assert {(e.subject, e.actor, e.source) for e in registered[:1]} == {("action-1", SYSTEM_ACTOR, "actions")}
    assert len(store.events("IndicatorDefined")) == 15
    assert len({e.correlation_id for e in store.events()}) == 1, "one flow: the start-up"
    assert store.repo.seed_locks == 1, "replicas starting together load it one at a time"
    registration, definition = await store.repo.history(46)
    assert registration["changes"] == [{"field": "status", "old": None, "new": "not_started"}]
    assert definition["event_type"] == "IndicatorDefined", "every event about an action is in its history"

    plan, indicators = read_seed()
    before = len(store.outbox)
    assert await load_plan(in_context(store, Context.system()), LoadPlan(plan, indicators)) == []
    assert len(store.outbox) == before, "a later start adds nothing and announces nothing"


async def test_a_later_start_adds_the_actions_and_indicators_missing_and_keeps_the_others() -> None:
    store = await seeded_store()
    plan, indicators = read_seed()
    del store.repo.actions[66]
    del store.repo.indicators_["a64-grants-women"]
    store.repo.indicators_["a11-epn-labelled"]["name_fr"] = "Renamed through the API"
    store.outbox.clear()
    assert await load_plan(in_context(store, Context.system()), LoadPlan(plan, indicators)) == [66]
    assert [e.event_type for e in store.events()] == ["ActionRegistered", "IndicatorDefined"]
    assert store.events()[1].data["indicator_code"] == "a64-grants-women"
    kept = await store.repo.get_indicator("a11-epn-labelled")
    assert kept is not None and kept["name_fr"] == "Renamed through the API"


async def test_without_the_seed_s_actions_only_the_structure_is_loaded() -> None:
    store = FakeStore(FakeActionsRepository())
    await load_structure(in_context(store, Context.system()), read_seed()[0])
    assert await store.repo.list_actions() == []
    assert await store.repo.axis_of_chantier(17) == 4
    assert "caban" in {o["code"] for o in await store.repo.organisations()}
    assert store.events() == []


async def test_a_seed_whose_mappings_both_add_to_and_set_an_indicator_stops_the_start_and_loads_nothing() -> None:
    store = FakeStore(FakeActionsRepository())
    plan, indicators = read_seed()
    counted = {"event_type": "EpnLabelled", "conditions": {}, "indicator": "a11-epn-labelled", "amount": "count"}
    mixed = {**indicators, "mappings": [*indicators["mappings"], counted]}
    with pytest.raises(ValueError, match="both added to and set by events: a11-epn-labelled"):
        await load_plan(in_context(store, Context.system()), LoadPlan(plan, mixed))
    assert await store.repo.list_actions() == []
    assert await store.repo.indicator_codes() == set()
    assert store.repo.mappings == []
    assert store.events() == []
