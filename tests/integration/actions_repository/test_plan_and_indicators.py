"""The repository's contract, part 1: the plan, actions, history, indicators and measurements."""

from __future__ import annotations

import inspect
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from passerelle_contracts import SYSTEM_ACTOR

from services.actions import events
from services.actions.domain import ActionState, IndicatorMapping
from services.actions.sql import ActionsRepository
from tests.fakes.actions import FakeActionsRepository
from tests.integration.actions_repository.given import ACTIONS, COORDINATION, PLAN, add_indicator, wrap

pytestmark = pytest.mark.infra


def test_the_fake_has_every_query_of_the_repository_with_the_same_parameters() -> None:
    def queries(cls: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(member)
            for name, member in inspect.getmembers(cls, inspect.iscoroutinefunction)
            if not name.startswith("_")
        }

    assert queries(FakeActionsRepository) == queries(ActionsRepository)


# --- the plan ---------------------------------------------------------------------------------


async def test_the_reference_keeps_organisations_up_to_date_and_axes_as_first_loaded(repo: Any) -> None:
    renamed = {
        **PLAN,
        "organisations": [{**PLAN["organisations"][1], "name": "CABAN asbl"}],
        "axes": [{"number": 1, "title_fr": "Autre titre", "title_nl": ""}],
    }
    await repo.load_reference(renamed)
    organisations = await repo.organisations()
    assert [o["code"] for o in organisations] == ["actiris", "caban", "coordination"]
    assert organisations[1] == {
        "code": "caban",
        "name": "CABAN asbl",
        "kind": "non-profit",
        "working_group": True,
        "copil": True,
    }
    assert await repo.axis_of_chantier(3) == 2
    assert await repo.axis_of_chantier(99) is None
    await repo.lock_seed()


async def test_the_reference_fills_in_the_empty_dutch_titles_of_axes_and_chantiers_and_keeps_the_others(
    planned: Any,
) -> None:
    translated = {
        **PLAN,
        "axes": [{**a, "title_nl": f"As {a['number']}"} for a in PLAN["axes"]],
        "chantiers": [{**c, "title_nl": f"Werf {c['number']}"} for c in PLAN["chantiers"]],
    }
    await planned.load_reference(translated)
    titles = {r["number"]: (r["axis_nl"], r["chantier_nl"]) for r in await planned.report_plan()}
    assert titles == {
        1: ("As een", "Werf 1"),
        2: ("As een", "Werf 1"),
        3: ("As een", "Werf 2"),
        4: ("As 2", "Werf drie"),
    }
    await planned.load_reference(PLAN)
    assert {r["number"]: (r["axis_nl"], r["chantier_nl"]) for r in await planned.report_plan()} == titles


async def test_unknown_organisations_are_named_in_the_order_given(repo: Any) -> None:
    assert await repo.unknown_organisations(["nobody", "caban", "epn"]) == ["nobody", "epn"]
    assert await repo.unknown_organisations([]) == []


async def test_actions_are_inserted_once_and_read_with_their_axis_and_defaults(planned: Any) -> None:
    assert await planned.insert_new_actions(ACTIONS) == [], "present already"
    got = await planned.get_action(3)
    assert got is not None
    assert {k: v for k, v in got.items() if k != "updated_at"} == {
        "number": 3,
        "chantier": 2,
        "axis": 1,
        "title_fr": "Action 3",
        "title_nl": "",
        "text_fr": "…",
        "lead": "actiris",
        "partners": ["caban", "epn"],
        "publics": [],
        "status": "not_started",
        "traffic_light": None,
        "status_note": "",
        "progress": Decimal(0),
        "progress_mode": "manual",
        "weight": Decimal(1),
        "version": 0,
    }
    assert isinstance(got["updated_at"], datetime)
    assert await planned.get_action(99) is None
    assert await planned.lock_action(2) == ActionState(2, "caban", "not_started", None, "")
    assert await planned.lock_action(99) is None


async def test_actions_are_listed_by_number_and_filtered(planned: Any) -> None:
    async def numbers(**filters: Any) -> list[int]:
        return [a["number"] for a in await planned.list_actions(**filters)]

    assert await numbers() == [1, 2, 3, 4]
    assert await numbers(axis=1) == [1, 2, 3]
    assert await numbers(chantier=1) == [1, 2]
    assert await numbers(organisation="caban") == [1, 2, 3], "lead or partner"
    assert await numbers(public="seniors") == [1, 2]
    await planned.update_status(4, "planned", None, "")
    assert await numbers(status="planned", axis=2) == [4]


async def test_each_change_of_an_action_makes_a_new_version(planned: Any) -> None:
    await planned.update_status(1, "in_progress", "at_risk", "lent")
    await planned.set_details(1, {"title_nl": "Actie 1", "partners": ["actiris"], "weight": Decimal(3)})
    await planned.set_progress(1, Decimal("33.335"), "milestones")
    got = await planned.get_action(1)
    assert (got["status"], got["traffic_light"], got["status_note"]) == ("in_progress", "at_risk", "lent")
    assert (got["title_fr"], got["title_nl"], got["partners"], got["weight"]) == ("Action 1", "Actie 1", ["actiris"], 3)
    assert (got["progress"], got["progress_mode"]) == (Decimal("33.34"), "milestones"), "two decimals, half up"
    assert got["version"] == 3
    await planned.set_weight(2, Decimal("2.5"))
    assert ((await planned.get_action(2))["weight"], (await planned.get_action(2))["version"]) == (Decimal("2.5"), 0)


# --- history ----------------------------------------------------------------------------------


async def test_history_is_read_per_action_in_time_order_and_as_changes_between_two_moments(planned: Any) -> None:
    t0 = datetime(2024, 3, 1, 10, tzinfo=UTC)
    diff = [{"field": "status", "old": "not_started", "new": "planned"}]
    late = wrap(
        events.details_changed(1, "Action 1", events.changes({}, {"title_nl": "Actie"})), at=t0 + timedelta(days=2)
    )
    early = wrap(events.details_changed(1, "Action 1", []), at=t0)
    other = wrap(events.details_changed(3, "Action 3", []), at=t0 + timedelta(days=1), actor=SYSTEM_ACTOR)
    await planned.add_history(1, late, late.data["changes"])
    await planned.add_history(1, early, diff)
    await planned.add_history(3, other, [])

    history = await planned.history(1)
    assert [h["event_id"] for h in history] == [early.event_id, late.event_id], "by the time it occurred"
    assert history[0] == {
        "event_id": early.event_id,
        "event_type": "ActionDetailsChanged",
        "changes": diff,
        "actor": COORDINATION.model_dump(mode="json"),
        "occurred_at": t0,
    }

    between = await planned.changes_between(t0 + timedelta(hours=1), t0 + timedelta(days=3))
    assert [(c["action_number"], c["event_id"]) for c in between] == [(1, late.event_id), (3, other.event_id)]
    assert between[1] == {
        "action_number": 3,
        "title_fr": "Action 3",
        "title_nl": "",
        "event_id": other.event_id,
        "event_type": "ActionDetailsChanged",
        "changes": [],
        "actor": SYSTEM_ACTOR.model_dump(mode="json"),
        "occurred_at": t0 + timedelta(days=1),
    }
    assert await planned.changes_between(t0 + timedelta(days=3)) == []

    until = await planned.history_until(t0 + timedelta(days=1, hours=1))
    assert [(h["action_number"], h["occurred_at"]) for h in until] == [(1, t0), (3, t0 + timedelta(days=1))]
    assert until[0]["data"] == early.data, "the event's data, for the annual report to fold"


# --- indicators and measurements --------------------------------------------------------------


async def test_an_indicator_starts_at_its_baseline_and_a_redefinition_keeps_its_action_and_value(planned: Any) -> None:
    await add_indicator(planned, "b", 2, baseline="5")
    await add_indicator(planned, "a", 2)
    await add_indicator(planned, "c", 1)
    got = await planned.get_indicator("b")
    assert got == {
        "code": "b",
        "action_number": 2,
        "name_fr": "Indicateur b",
        "name_nl": "",
        "unit": "devices",
        "baseline": Decimal(5),
        "target": Decimal(100),
        "period": "",
        "current_value": Decimal(5),
    }
    await planned.upsert_indicator(
        {**got, "action_number": 1, "baseline": Decimal(7), "target": None, "period": "2024"}
    )
    changed = await planned.lock_indicator("b")
    assert (changed["action_number"], changed["baseline"], changed["target"], changed["period"]) == (2, 7, None, "2024")
    assert changed["current_value"] == Decimal(5)
    assert [i["code"] for i in await planned.indicators()] == ["c", "a", "b"], "by action, then code"
    assert [i["code"] for i in await planned.indicators(2)] == ["a", "b"]
    assert await planned.indicator_codes() == {"a", "b", "c"}
    assert await planned.get_indicator("nope") is None


async def test_mappings_are_replaced_as_a_whole_and_read_per_event_type(planned: Any) -> None:
    await add_indicator(planned, "a", 1)
    await add_indicator(planned, "b", 2)
    first = {
        "event_type": "DevicesDelivered",
        "conditions": {"recipient_kind": ["epn"]},
        "indicator": "a",
        "amount": "total_devices",
    }
    second = {"event_type": "DevicesDelivered", "conditions": {}, "indicator": "b", "amount": "count"}
    labels = {
        "event_type": "EpnLabelStatusChanged",
        "conditions": {},
        "indicator": "c",
        "mode": "set",
        "amount": "labelled_epns",
        "order": "register_version",
    }
    await add_indicator(planned, "c", 3)
    await planned.replace_mappings([first, {**second, "event_type": "GrantAwarded"}])
    await planned.replace_mappings([first, second, labels])
    assert await planned.mappings_for("DevicesDelivered") == [
        IndicatorMapping("DevicesDelivered", {"recipient_kind": ["epn"]}, "a", "total_devices"),
        IndicatorMapping("DevicesDelivered", {}, "b", "count"),
    ], "a mapping that says no mode adds"
    assert await planned.mappings_for("GrantAwarded") == []
    assert await planned.mappings_for("EpnLabelStatusChanged") == [
        IndicatorMapping("EpnLabelStatusChanged", {}, "c", "labelled_epns", mode="set", order="register_version")
    ]


@pytest.mark.parametrize(
    "wrong", [{"mode": "replace"}, {"mode": "add", "order": "register_version"}, {"order": "register_version"}]
)
async def test_a_mapping_with_an_unknown_mode_or_an_order_it_cannot_use_is_refused(
    planned: Any, wrong: dict[str, str]
) -> None:
    await add_indicator(planned, "a", 1)
    mapping = {"event_type": "EpnLabelStatusChanged", "conditions": {}, "indicator": "a", "amount": "labelled_epns"}
    with pytest.raises((ValueError, asyncpg.CheckViolationError)):  # the fake's check, PostgreSQL's
        await planned.replace_mappings([{**mapping, **wrong}])


async def test_an_indicator_keeps_the_order_of_the_last_set_value_recorded_once_per_source_event(
    planned: Any,
) -> None:
    await add_indicator(planned, "a", 1)
    assert (await planned.lock_indicator("a"))["set_order"] is None, "no value set yet"
    system = SYSTEM_ACTOR.model_dump(mode="json")
    first, second = uuid.uuid4(), uuid.uuid4()

    async def set_to(value: int, order: int | None, cause: uuid.UUID) -> bool:
        return bool(
            await planned.record_measurement(
                code="a",
                value=Decimal(value),
                delta=Decimal(value) - (await planned.lock_indicator("a"))["current_value"],
                measured_on=date(2024, 6, 1),
                origin="derived",
                source="funding:EpnLabelStatusChanged",
                source_event_id=cause,
                actor=system,
                order=order,
            )
        )

    assert await set_to(4, 41, first)
    assert not await set_to(9, 99, first), "the same event once: neither its value nor its order"
    assert (await planned.lock_indicator("a"))["set_order"] == 41
    assert await set_to(3, 2**40, second), "an order is a bigint"
    after = await planned.lock_indicator("a")
    assert (after["current_value"], after["set_order"]) == (Decimal(3), 2**40)
    assert await set_to(5, None, uuid.uuid4())
    assert (await planned.lock_indicator("a"))["set_order"] == 2**40, "a value without an order leaves it"
    assert [(m["value"], m["delta"]) for m in await planned.measurements("a")] == [
        (Decimal(4), Decimal(4)),
        (Decimal(3), Decimal(-1)),
        (Decimal(5), Decimal(2)),
    ]
    assert "set_order" not in (await planned.get_indicator("a")), "bookkeeping, not part of what is shown"


async def test_each_measurement_keeps_the_order_of_its_set_value_read_per_indicator_and_year(planned: Any) -> None:
    """A yearly indicator's figures go stale per year: the orders applied to a year are those of
    its measurements dated in that year; the indicator's own set_order is the highest of all."""
    await add_indicator(planned, "y", 1, period="yearly")
    await add_indicator(planned, "z", 1, period="yearly")
    system = SYSTEM_ACTOR.model_dump(mode="json")

    async def set_to(code: str, value: int, on: date, order: int | None) -> bool:
        return bool(
            await planned.record_measurement(
                code=code,
                value=Decimal(value),
                delta=Decimal(value) - await planned.sum_in_year(code, on.year),
                measured_on=on,
                origin="derived",
                source="funding:CadastreCoverageChanged",
                source_event_id=uuid.uuid4(),
                actor=system,
                moves_current=on.year >= 2026,
                order=order,
            )
        )

    assert await planned.set_order_in_year("y", 2026) is None, "no value set yet"
    assert await set_to("y", 17, date(2026, 3, 2), 10)
    assert await set_to("y", 12, date(2025, 12, 31), 9)  # an earlier year's figure, read late
    assert await set_to("y", 14, date(2025, 12, 31), 11)
    assert await set_to("y", 15, date(2025, 6, 1), None), "a value without an order"
    assert await set_to("z", 3, date(2024, 12, 31), 40)
    assert [await planned.set_order_in_year("y", year) for year in (2024, 2025, 2026, 2027)] == [None, 11, 10, None]
    assert await planned.set_order_in_year("z", 2024) == 40, "per indicator"
    locked = await planned.lock_indicator("y")
    assert (locked["set_order"], locked["current_value"]) == (11, Decimal(17)), "the highest order; 2026's value"
    assert await planned.sum_in_year("y", 2025) == Decimal(15)


async def test_a_measurement_moves_its_indicator_once_per_source_event_and_per_external_id(planned: Any) -> None:
    await add_indicator(planned, "a", 1)
    await add_indicator(planned, "b", 1)
    cause = uuid.uuid4()
    system = SYSTEM_ACTOR.model_dump(mode="json")

    async def measure(
        code: str, value: int, on: date, *, source_event_id: uuid.UUID | None = None, external_id: str | None = None
    ) -> bool:
        return bool(
            await planned.record_measurement(
                code=code,
                value=Decimal(value),
                delta=Decimal(value) - (await planned.get_indicator(code))["current_value"],
                measured_on=on,
                origin="derived" if source_event_id else "manual",
                source="test",
                source_event_id=source_event_id,
                actor=system,
                external_id=external_id,
            )
        )

    assert await measure("a", 10, date(2024, 5, 1), source_event_id=cause)
    assert not await measure("a", 20, date(2024, 5, 2), source_event_id=cause), "the same event, counted once"
    assert await measure("b", 3, date(2024, 5, 2), source_event_id=cause), "... per indicator"
    assert await measure("a", 25, date(2025, 1, 3), external_id="m-1")
    assert not await measure("a", 30, date(2025, 1, 3), external_id="m-1"), "an external id is taken once"
    assert await measure("b", 30, date(2025, 1, 3), external_id="m-1"), "... per indicator"
    assert await measure("a", 26, date(2025, 1, 4))
    assert (await planned.get_indicator("a"))["current_value"] == Decimal(26)
    assert await planned.sum_in_year("a", 2024) == Decimal(10)
    assert await planned.sum_in_year("a", 2025) == Decimal(16)
    assert await planned.sum_in_year("a", 2023) == Decimal(0)
    rows = await planned.measurements("a")
    assert [(r["value"], r["delta"], r["external_id"]) for r in rows] == [
        (10, 10, None),
        (25, 15, "m-1"),
        (26, 1, None),
    ]
    assert {k: v for k, v in rows[0].items() if k != "recorded_at"} == {
        "external_id": None,
        "indicator_code": "a",
        "value": Decimal(10),
        "delta": Decimal(10),
        "measured_on": date(2024, 5, 1),
        "origin": "derived",
        "source": "test",
        "source_event_id": cause,
    }
    assert [r["indicator_code"] for r in await planned.measurements()] == ["a", "b", "a", "b", "a"], (
        "in recording order"
    )


async def test_an_indicator_knows_the_events_that_feed_it_and_its_latest_day_measured(planned: Any) -> None:
    await add_indicator(planned, "a", 1)
    await add_indicator(planned, "b", 1)
    await planned.replace_mappings(
        [
            {"event_type": "GrantAwarded", "conditions": {}, "indicator": "a", "amount": "count"},
            {"event_type": "DevicesDelivered", "conditions": {"x": [1]}, "indicator": "a", "amount": "count"},
            {"event_type": "DevicesDelivered", "conditions": {"x": [2]}, "indicator": "a", "amount": "count"},
        ]
    )
    assert await planned.feeding_events("a") == ["DevicesDelivered", "GrantAwarded"]
    assert await planned.feeding_events("b") == []
    assert await planned.latest_measured_on("b") is None
    system = SYSTEM_ACTOR.model_dump(mode="json")
    for value, on, moves in ((4, date(2024, 6, 1), True), (1, date(2023, 5, 2), False)):
        await planned.record_measurement(
            code="b",
            value=Decimal(value),
            delta=Decimal(1),
            measured_on=on,
            origin="manual",
            source="",
            source_event_id=None,
            actor=system,
            moves_current=moves,
        )
    assert await planned.latest_measured_on("b") == date(2024, 6, 1)
    assert (await planned.get_indicator("b"))["current_value"] == Decimal(4), "the earlier year's left it alone"
    assert [m["value"] for m in await planned.measurements("b")] == [Decimal(4), Decimal(1)]


async def test_measurements_written_at_once_are_read_as_those_recorded_one_by_one(planned: Any) -> None:
    """What the consumer counting a batch writes: the measurements in one statement, then each
    indicator's value and order once, then the history of its events in one statement."""
    await add_indicator(planned, "a", 1)
    await add_indicator(planned, "b", 2)
    system = SYSTEM_ACTOR.model_dump(mode="json")
    before, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await planned.add_measurements(
        [{"code": "a", "value": Decimal(4), "delta": Decimal(4), "measured_on": date(2024, 6, 1), "origin": "derived",
          "source": "equipment:DevicesDelivered", "source_event_id": before, "actor": system}]
    )  # fmt: skip
    assert await planned.counted_sources("a", [before, first]) == {before}
    assert await planned.counted_sources("b", [before]) == set(), "per indicator"
    rows = [
        {"code": "a", "value": Decimal(7), "delta": Decimal(3), "measured_on": date(2024, 6, 2), "origin": "derived",
         "source": "equipment:DevicesDelivered", "source_event_id": first, "actor": system},
        {"code": "b", "value": Decimal(2), "delta": Decimal(2), "measured_on": date(2024, 6, 2), "origin": "derived",
         "source": "funding:EpnLabelStatusChanged", "source_event_id": second, "actor": system, "order": 5},
    ]  # fmt: skip
    await planned.add_measurements(rows)
    await planned.set_indicator("a", current_value=Decimal(7), set_order=None)
    await planned.set_indicator("b", current_value=None, set_order=5)
    assert [
        (r["indicator_code"], r["value"], r["delta"], r["source_event_id"]) for r in await planned.measurements()
    ] == [
        ("a", Decimal(4), Decimal(4), before),
        ("a", Decimal(7), Decimal(3), first),
        ("b", Decimal(2), Decimal(2), second),
    ]
    assert (await planned.lock_indicator("a"))["current_value"] == Decimal(7)
    b = await planned.lock_indicator("b")
    assert (b["current_value"], b["set_order"]) == (Decimal(0), 5), "the value left alone, the order kept"
    assert await planned.set_order_in_year("b", 2024) == 5
    await planned.set_indicator("b", current_value=Decimal(2), set_order=3)
    assert (await planned.lock_indicator("b"))["set_order"] == 5, "the highest order applied stays"
    with pytest.raises(Exception, match=r"measurements|already counted"):
        await planned.add_measurements(rows[:1])  # the same source event again: the unique constraint
    changed = [wrap(events.details_changed(n, f"Action {n}", [])) for n in (1, 2)]
    await planned.add_history_many([(1, changed[0], [{"field": "title_fr"}]), (2, changed[1], [])])
    assert [h["event_id"] for h in await planned.history(1)][-1] == changed[0].event_id
    assert [h["event_id"] for h in await planned.history(2)][-1] == changed[1].event_id
