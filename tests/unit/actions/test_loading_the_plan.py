"""Loading the plan at start-up: once, announced once, and completed on later starts."""

from __future__ import annotations

import copy
import uuid
from datetime import date, timedelta
from typing import Any, cast

import pytest
from passerelle_contracts import SYSTEM_ACTOR, Envelope
from passerelle_contracts.funding_v1 import GrantAwarded

from services.actions.handlers.actions import ChangeDetails, change_details
from services.actions.handlers.annual_report import build_annual_report
from services.actions.handlers.indicators import count_grant_awarded
from services.actions.handlers.plan import LoadPlan, load_plan, load_structure, read_seed
from services.actions.sql import ActionsRepository
from services.runtime.inputs import brussels_today
from services.runtime.testing import FakeStore
from services.runtime.uow import Context
from tests.fakes.actions import FakeActionsRepository

from .conftest import COORDINATION, Store, acting, in_context, seeded_store


async def test_the_plan_is_loaded_once_and_each_action_and_indicator_announced_once() -> None:
    store = await seeded_store()
    registered = store.events("ActionRegistered")
    assert [e.data["action_number"] for e in registered] == list(range(1, 67))
    assert {(e.subject, e.actor, e.source) for e in registered[:1]} == {("action-1", SYSTEM_ACTOR, "actions")}
    assert len(store.events("IndicatorDefined")) == 16
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


# --- the Dutch titles, added to the seed after databases loaded it without them -------------------


def seed_without_dutch_titles() -> dict[str, Any]:
    """The plan's seed before it had Dutch titles: every axis's, chantier's and action's empty."""
    old = copy.deepcopy(read_seed()[0])
    for titled in (*old["axes"], *old["chantiers"], *old["actions"]):
        titled["title_nl"] = ""
    return old


async def test_a_fresh_database_registers_each_action_with_its_dutch_title() -> None:
    store = await seeded_store()
    by_number = {a["number"]: a for a in read_seed()[0]["actions"]}
    registered = store.events("ActionRegistered")
    assert [e.data["title_nl"] for e in registered] == [by_number[n]["title_nl"] for n in range(1, 67)]
    assert store.events("ActionDetailsChanged") == [], "nothing to fill in"


async def test_a_database_loaded_without_dutch_titles_gets_them_announced_and_keeps_those_written_since() -> None:
    store = FakeStore(FakeActionsRepository())
    plan, indicators = read_seed()
    await load_plan(in_context(store, Context.system()), LoadPlan(seed_without_dutch_titles(), indicators))
    await change_details(acting(store), ChangeDetails(21, {"title_nl": "De Werkgroep bijeenroepen"}))
    store.repo.axes[2]["title_nl"] = "Federeren"  # written in the database by someone
    store.outbox.clear()

    assert await load_plan(in_context(store, Context.system()), LoadPlan(plan, indicators)) == []
    by_number = {a["number"]: a for a in plan["actions"]}
    changed = store.events("ActionDetailsChanged")
    assert [e.data["action_number"] for e in changed] == [n for n in range(1, 67) if n != 21]
    assert len(store.events()) == len(changed), "nothing else announced"
    first = changed[0]
    assert (first.subject, first.actor, first.data["title_fr"]) == ("action-1", SYSTEM_ACTOR, by_number[1]["title_fr"])
    assert first.data["changes"] == [{"field": "title_nl", "old": "", "new": by_number[1]["title_nl"]}]
    filled = await store.repo.get_action(1)
    assert filled is not None and (filled["title_nl"], filled["version"]) == (by_number[1]["title_nl"], 1)
    assert (await store.repo.history(1))[-1]["changes"] == first.data["changes"], "in the action's history"
    kept = await store.repo.get_action(21)
    assert kept is not None and kept["title_nl"] == "De Werkgroep bijeenroepen", "a person's title is never replaced"

    axes = {a["number"]: a["title_nl"] for a in plan["axes"]}
    assert {n: a["title_nl"] for n, a in store.repo.axes.items()} == {**axes, 2: "Federeren"}
    chantiers = {c["number"]: c["title_nl"] for c in plan["chantiers"]}
    assert {n: c["title_nl"] for n, c in store.repo.chantiers.items()} == chantiers

    before = len(store.outbox)
    await load_plan(in_context(store, Context.system()), LoadPlan(plan, indicators))
    assert len(store.outbox) == before, "filled in once: a later start announces nothing"


async def test_a_dutch_title_written_while_the_plan_loads_is_not_replaced() -> None:
    """Between the read of the stored titles and the action's lock, an edit may commit: the title
    is read again once the action is locked."""
    store = FakeStore(FakeActionsRepository())
    plan, indicators = read_seed()
    await load_plan(in_context(store, Context.system()), LoadPlan(seed_without_dutch_titles(), indicators))
    store.outbox.clear()
    lock_action = store.repo.lock_action

    async def edited_first(number: int) -> Any:
        if number == 5:
            store.repo.actions[5]["title_nl"] = "Geschreven terwijl het plan laadt"
        return await lock_action(number)

    store.repo.lock_action = edited_first  # type: ignore[method-assign]  # an edit committing just before the lock
    await load_plan(in_context(store, Context.system()), LoadPlan(plan, indicators))
    assert 5 not in [e.data["action_number"] for e in store.events("ActionDetailsChanged")]
    kept = await store.repo.get_action(5)
    assert kept is not None and kept["title_nl"] == "Geschreven terwijl het plan laadt"


# --- action 36: the grants' stand-in retired, the cadastre's coverage in its place ---------------

RETIRED, CADASTRE = "a36-epn-register", "a36-epn-cadastre-complete"
OLD_NAMES = {
    "name_fr": "EPN inscrits au cadastre du financement",
    "name_nl": "OCR's opgenomen in het financieringskadaster",
}


def previous_seed() -> dict[str, Any]:
    """The indicators' seed before action 36 followed the cadastre: a36-epn-register counted the
    grants of the call kind epn-register."""
    old = copy.deepcopy(read_seed()[1])
    [a36] = [i for i in old["indicators"] if i["code"] == RETIRED]
    del a36["retired"]
    a36.update(OLD_NAMES)
    old["indicators"] = [i for i in old["indicators"] if i["code"] != CADASTRE]
    grants = {"event_type": "GrantAwarded", "conditions": {"call_kind": ["epn-register"]}, "indicator": RETIRED}
    old["mappings"] = [m for m in old["mappings"] if m["indicator"] != CADASTRE] + [{**grants, "amount": "count"}]
    return old


async def award_epn_register_grant(store: Store) -> None:
    grant = GrantAwarded(
        grant_id=str(uuid.uuid4()),
        call_code="EPN-2026",
        call_kind="epn-register",
        beneficiary="epn-ixelles",
        beneficiary_kind="epn",
        amount_eur="5000.00",
        awarded_on=date(2026, 3, 2),
    )
    awarded = Envelope.wrap(grant, source="funding", subject="grant-x", actor=COORDINATION)
    async with (uow := in_context(store, Context.caused_by(awarded))):
        await count_grant_awarded(uow, awarded, grant)


async def action_36_in_report(store: Store, as_of: date) -> list[tuple[str, str, float]]:
    report = await build_annual_report(cast(ActionsRepository, store.repo), as_of.year, as_of)
    [line] = [a for a in report.actions() if a.number == 36]
    return [(i.code, i.name_fr, i.value) for i in line.indicators]


async def test_a_database_that_counted_grants_for_action_36_keeps_that_indicator_retired_and_follows_the_cadastre() -> (
    None
):
    store = FakeStore(FakeActionsRepository())
    plan, seed = read_seed()
    await load_plan(in_context(store, Context.system()), LoadPlan(plan, previous_seed()))
    await award_epn_register_grant(store)
    assert (await store.repo.get_indicator(RETIRED) or {})["current_value"] == 1, "the old version counted it"
    for entry in store.repo.history_:  # all that, a day before this start
        entry["occurred_at"] -= timedelta(days=1)
    store.outbox.clear()

    assert await load_plan(in_context(store, Context.system()), LoadPlan(plan, seed)) == []
    defined = store.events("IndicatorDefined")
    assert [(e.data["indicator_code"], e.data["changes"]) for e in defined[:1]] == [
        (
            RETIRED,
            [
                {"field": "name_fr", "old": OLD_NAMES["name_fr"], "new": f"{OLD_NAMES['name_fr']} (retiré)"},
                {"field": "name_nl", "old": OLD_NAMES["name_nl"], "new": f"{OLD_NAMES['name_nl']} (stopgezet)"},
            ],
        )
    ], "the retirement announced, and kept in action 36's history"
    assert [e.data["indicator_code"] for e in defined[1:]] == [CADASTRE]
    retired = await store.repo.get_indicator(RETIRED)
    assert retired is not None and (retired["current_value"], retired["period"]) == (1, "2021-2024")
    assert len(await store.repo.measurements(RETIRED)) == 1, "its history stays"
    assert await store.repo.feeding_events(RETIRED) == []
    assert await store.repo.feeding_events(CADASTRE) == ["CadastreCoverageChanged"]

    await award_epn_register_grant(store)
    assert len(await store.repo.measurements(RETIRED)) == 1, "a grant counts no more"
    today = brussels_today()
    assert await action_36_in_report(store, today) == [
        (CADASTRE, "EPN labellisés dont le financement de l'année est au cadastre", 0.0),
        (RETIRED, f"{OLD_NAMES['name_fr']} (retiré)", 1.0),
    ]
    if today.year == (today - timedelta(days=1)).year:  # (on New Year's Day, yesterday is another year's report)
        assert await action_36_in_report(store, today - timedelta(days=1)) == [(RETIRED, OLD_NAMES["name_fr"], 1.0)], (
            "a report whose cut-off is before the retirement is unchanged"
        )

    before = len(store.outbox)
    await load_plan(in_context(store, Context.system()), LoadPlan(plan, seed))
    assert len(store.outbox) == before, "retired once: a later start announces nothing"


async def test_a_database_without_the_retired_indicator_never_gets_it() -> None:
    store = await seeded_store()
    codes = await store.repo.indicator_codes()
    assert (RETIRED in codes, CADASTRE in codes) == (False, True), "no history to keep"


async def test_a_seed_whose_mapping_feeds_a_retired_indicator_stops_the_start_and_loads_nothing() -> None:
    store = FakeStore(FakeActionsRepository())
    plan, indicators = read_seed()
    grants = {"event_type": "GrantAwarded", "conditions": {}, "indicator": RETIRED, "amount": "count"}
    fed = {**indicators, "mappings": [*indicators["mappings"], grants]}
    with pytest.raises(ValueError, match=f"retired indicators still fed by a mapping: {RETIRED}"):
        await load_plan(in_context(store, Context.system()), LoadPlan(plan, fed))
    assert await store.repo.list_actions() == []
    assert store.events() == []
