"""Indicators: defined and measured by people, or counted from other services' events."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest
from passerelle_contracts import SYSTEM_ACTOR, Envelope
from passerelle_contracts.common import LabelStatus
from passerelle_contracts.equipment_v1 import DevicesDelivered
from passerelle_contracts.funding_v1 import CadastreCoverageChanged, EpnLabelled, EpnLabelStatusChanged, GrantAwarded

from services.actions import subscribers
from services.actions.handlers.annual_report import build_annual_report
from services.actions.handlers.governance import RecordMeeting, record_meeting
from services.actions.handlers.indicators import (
    DefineIndicator,
    RecordDerivedMeasurements,
    RecordMeasurement,
    count_activity_returns,
    count_devices_delivered,
    count_grant_awarded,
    count_labelled_epns,
    define_indicator,
    measure_cadastre_coverage,
    record_derived_measurements,
    record_measurement,
)
from services.actions.sql import ActionsRepository
from services.runtime.errors import Conflict, Forbidden, Invalid, NotFound
from services.runtime.inputs import brussels_today
from services.runtime.service import Runtime
from services.runtime.uow import Context

from .conftest import CABAN, COORDINATION, Store, acting, in_context

EXAMPLES = Path(__file__).resolve().parents[3] / "contracts" / "examples"


def delivery(**data: object) -> tuple[Envelope, DevicesDelivered]:
    """The contract's example delivery (25 devices to a pupils' association, given by a regional public body)."""
    raw = json.loads((EXAMPLES / "DevicesDelivered.v1.json").read_text("utf-8"))
    raw["event_id"] = str(uuid.uuid4())
    raw["data"].update(data)
    envelope = Envelope.model_validate(raw)
    return envelope, DevicesDelivered.model_validate(envelope.data)


async def test_a_delivery_is_counted_in_each_indicator_its_mapping_names_by_the_system(store: Store) -> None:
    envelope, data = delivery()
    uow = in_context(store, Context.caused_by(envelope))
    async with uow:  # as the consumer does: its block holds the inbox row
        await count_devices_delivered(uow, envelope, data)
    measured = store.events("IndicatorMeasured")
    assert [(e.data["indicator_code"], e.data["previous_value"], e.data["value"]) for e in measured] == [
        ("a46-devices-pupils", 0.0, 25.0),
        ("a57-devices-public-donations", 0.0, 25.0),
    ]
    for event in measured:
        assert (event.actor, event.correlation_id, event.causation_id) == (
            SYSTEM_ACTOR,
            envelope.correlation_id,
            envelope.event_id,
        )
        assert (event.data["origin"], event.data["source_event_id"]) == ("derived", str(envelope.event_id))
    indicator = await store.repo.get_indicator("a46-devices-pupils")
    assert indicator is not None and indicator["current_value"] == Decimal(25)
    [row] = await store.repo.measurements("a46-devices-pupils")
    assert (row["source"], row["measured_on"]) == ("equipment:DevicesDelivered", date(2024, 3, 13))
    assert (await store.repo.history(46))[-1]["event_type"] == "IndicatorMeasured"


async def test_a_delivery_replayed_past_the_inbox_is_not_counted_twice(store: Store) -> None:
    envelope, data = delivery()
    for _ in range(2):
        uow = in_context(store, Context.caused_by(envelope))
        async with uow:
            await count_devices_delivered(uow, envelope, data)
    assert len(store.events("IndicatorMeasured")) == 2, "one per indicator, once"
    indicator = await store.repo.get_indicator("a46-devices-pupils")
    assert indicator is not None and indicator["current_value"] == Decimal(25)


async def test_a_delivery_counts_only_where_its_recipient_or_donor_matches(store: Store) -> None:
    envelope, data = delivery(recipient_kind="secondary-school", donor_kind="other")
    uow = in_context(store, Context.caused_by(envelope))
    async with uow:
        await count_devices_delivered(uow, envelope, data)
    assert [e.data["indicator_code"] for e in store.events()] == ["a47-devices-schools"]
    envelope, data = delivery(recipient_kind="cpas", donor_kind="other", total_devices=3, devices={"laptop": 3})
    async with (uow := in_context(store, Context.caused_by(envelope))):
        await count_devices_delivered(uow, envelope, data)
    assert store.events()[-1].data["indicator_code"] == "a29-devices-first-line"


async def test_a_grant_is_counted_one_in_its_public_s_indicator(store: Store) -> None:
    grant = GrantAwarded(
        grant_id=str(uuid.uuid4()),
        call_code="AAP-2024",
        call_kind="regional-call",
        public="seniors",
        beneficiary="asbl-x",
        beneficiary_kind="non-profit",
        amount_eur="1000.00",
        awarded_on=date(2024, 5, 2),
    )
    awarded = Envelope.wrap(grant, source="funding", subject="grant-x", actor=COORDINATION)
    async with (uow := in_context(store, Context.caused_by(awarded))):
        await count_grant_awarded(uow, awarded, grant)
    assert [(e.data["indicator_code"], e.data["value"]) for e in store.events()] == [("a49-grants-seniors", 1.0)]


# --- action 11: the number of labelled EPNs, set by each label decision (a set mapping) -----------------


def decision(
    version: int,
    labelled_epns: int,
    status: LabelStatus = "labelled",
    *,
    epn: str = "epn-ixelles",
    decided_on: date = date(2024, 6, 1),
) -> tuple[Envelope, EpnLabelStatusChanged]:
    """The funding register's decision number ``version``, after which ``labelled_epns`` EPNs are labelled."""
    previous: LabelStatus = "labelled" if status != "labelled" else "candidate"
    data = EpnLabelStatusChanged(
        epn=epn,
        commune="Ixelles",
        previous_status=previous,
        status=status,
        decided_on=decided_on,
        labelled_epns=labelled_epns,
        register_version=version,
    )
    return Envelope.wrap(data, source="funding", subject=f"epn-{epn}", actor=COORDINATION), data


async def read(store: Store, decided: tuple[Envelope, EpnLabelStatusChanged]) -> None:
    """The consumer 'indicators' reading one decision, in its own unit of work."""
    envelope, data = decided
    async with (uow := in_context(store, Context.caused_by(envelope))):
        await count_labelled_epns(uow, envelope, data)


async def labelled_epns(store: Store) -> Decimal:
    indicator = await store.repo.get_indicator("a11-epn-labelled")
    assert indicator is not None
    current: Decimal = indicator["current_value"]
    return current


async def test_each_label_decision_sets_action_11_to_the_number_of_labelled_epns_up_and_down(store: Store) -> None:
    first = decision(1, 1, epn="epn-ixelles", decided_on=date(2024, 6, 1))
    await read(store, first)
    await read(store, decision(2, 2, epn="epn-anderlecht", decided_on=date(2024, 6, 3)))
    await read(store, decision(3, 1, "withdrawn", epn="epn-ixelles", decided_on=date(2024, 9, 2)))
    await read(store, decision(4, 0, "suspended", epn="epn-anderlecht", decided_on=date(2024, 10, 1)))

    assert await labelled_epns(store) == Decimal(0), "the last label suspended: none, not 2 labels counted"
    rows = await store.repo.measurements("a11-epn-labelled")
    assert [(r["value"], r["delta"], r["measured_on"]) for r in rows] == [
        (Decimal(1), Decimal(1), date(2024, 6, 1)),
        (Decimal(2), Decimal(1), date(2024, 6, 3)),
        (Decimal(1), Decimal(-1), date(2024, 9, 2)),
        (Decimal(0), Decimal(-1), date(2024, 10, 1)),
    ], "one measurement per decision, on the day decided, its delta the change"
    assert (rows[0]["source"], rows[0]["source_event_id"]) == ("funding:EpnLabelStatusChanged", first[0].event_id)
    measured = store.events("IndicatorMeasured")
    assert [(e.data["previous_value"], e.data["value"]) for e in measured] == [
        (0.0, 1.0),
        (1.0, 2.0),
        (2.0, 1.0),
        (1.0, 0.0),
    ]
    assert {(e.actor, e.data["origin"]) for e in measured} == {(SYSTEM_ACTOR, "derived")}
    assert measured[0].causation_id == first[0].event_id


async def test_a_decision_read_after_a_later_one_is_stale_and_changes_nothing(store: Store) -> None:
    """Decisions are keyed per EPN: another EPN's partition may deliver an older decision late."""
    await read(store, decision(7, 12, epn="epn-anderlecht"))
    await read(store, decision(6, 11, epn="epn-ixelles"))
    await read(store, decision(7, 30, epn="epn-uccle"))  # the same order again: not above the last applied

    assert await labelled_epns(store) == Decimal(12)
    assert [r["value"] for r in await store.repo.measurements("a11-epn-labelled")] == [Decimal(12)]
    assert len(store.events("IndicatorMeasured")) == 1
    await read(store, decision(8, 11, "withdrawn", epn="epn-ixelles"))
    assert await labelled_epns(store) == Decimal(11), "a later decision still applies"


async def test_a_decision_replayed_past_the_inbox_is_measured_once(store: Store) -> None:
    decided = decision(1, 5)
    for _ in range(2):
        await read(store, decided)
    assert len(await store.repo.measurements("a11-epn-labelled")) == 1
    assert len(store.events("IndicatorMeasured")) == 1
    assert await labelled_epns(store) == Decimal(5)


async def test_an_unchanged_count_is_still_measured_so_that_an_older_count_cannot_follow_it(store: Store) -> None:
    await read(store, decision(1, 3))
    await read(store, decision(3, 3, "suspended", epn="epn-candidate-never-labelled"))
    await read(store, decision(2, 4, epn="epn-anderlecht"))  # older than the unchanged count just read
    assert await labelled_epns(store) == Decimal(3)
    assert [(r["value"], r["delta"]) for r in await store.repo.measurements("a11-epn-labelled")] == [
        (Decimal(3), Decimal(3)),
        (Decimal(3), Decimal(0)),
    ]


async def test_an_epn_labelled_event_no_longer_counts_for_action_11(store: Store) -> None:
    """``EpnLabelled`` is still published for every label; counted besides the label decisions, each
    label would count twice (the consumer does not even route it: ``subscribers``)."""
    await read(store, decision(1, 1))
    label = EpnLabelled(epn="epn-ixelles", commune="Ixelles", labelled_on=date(2024, 6, 1))
    labelled = Envelope.wrap(label, source="funding", subject="epn-epn-ixelles", actor=COORDINATION)
    made = await record_derived_measurements(
        in_context(store, Context.caused_by(labelled)),
        RecordDerivedMeasurements(labelled, label.model_dump(mode="json"), label.labelled_on),
    )
    assert made == 0
    assert await labelled_epns(store) == Decimal(1)


def test_the_consumer_routes_labels_coverage_and_returns_and_lets_epn_labelled_pass_unhandled() -> None:
    """An event type without a handler is acknowledged as ignored by the runtime's consumer (so are
    the cadastre's lines: action 36 reads the coverage the funding service derives from them; and
    the returns' reminders: action 28 counts the returns themselves)."""
    routes: dict[str, dict[str, object]] = {}

    class Recording:
        def consume(self, name: str, topics: list[str], handlers: dict[str, object]) -> None:
            routes[name] = dict(handlers)

    subscribers.register(cast(Runtime, Recording()))
    assert routes["indicators"] == {
        "DevicesDelivered": count_devices_delivered,
        "GrantAwarded": count_grant_awarded,
        "EpnLabelStatusChanged": count_labelled_epns,
        "CadastreCoverageChanged": measure_cadastre_coverage,
        "ActivityReturnSubmitted": count_activity_returns,
    }


async def test_a_decision_of_an_earlier_year_is_still_stale_for_action_11_which_keeps_one_order(store: Store) -> None:
    """Action 11's indicator is not yearly: one figure, one order, whatever the day of the decision."""
    await read(store, decision(7, 12, epn="epn-anderlecht", decided_on=date(2025, 6, 1)))
    await read(store, decision(6, 11, epn="epn-ixelles", decided_on=date(2024, 6, 1)))
    assert await labelled_epns(store) == Decimal(12)
    assert [r["value"] for r in await store.repo.measurements("a11-epn-labelled")] == [Decimal(12)]


async def test_the_number_of_labelled_epns_refuses_a_value_typed_by_hand(store: Store) -> None:
    await read(store, decision(1, 4))
    with pytest.raises(Conflict, match="a11-epn-labelled is counted from EpnLabelStatusChanged events"):
        await record_measurement(
            acting(store), RecordMeasurement("a11-epn-labelled", Decimal(40), date(2024, 6, 30), "", "x")
        )
    assert await labelled_epns(store) == Decimal(4)


# --- action 36: labelled EPNs with a complete cadastre line for the year (a yearly set mapping) ------

A36 = "a36-epn-cadastre-complete"
ANNOUNCED = datetime(2026, 3, 2, 9, tzinfo=UTC)


def coverage(
    version: int, year: int, complete_epns: int, *, at: datetime = ANNOUNCED
) -> tuple[Envelope, CadastreCoverageChanged]:
    """The funding service's announcement number ``version``: ``complete_epns`` labelled EPNs have a
    complete line in the cadastre for ``year``."""
    data = CadastreCoverageChanged(year=year, labelled_epns=30, complete_epns=complete_epns, coverage_version=version)
    envelope = Envelope.wrap(data, source="funding", subject=f"cadastre-{year}", actor=COORDINATION, occurred_at=at)
    return envelope, data


async def read_coverage(store: Store, announced: tuple[Envelope, CadastreCoverageChanged]) -> None:
    """The consumer 'indicators' reading one announcement, in its own unit of work."""
    envelope, data = announced
    async with (uow := in_context(store, Context.caused_by(envelope))):
        await measure_cadastre_coverage(uow, envelope, data)


async def a36(store: Store) -> Decimal:
    indicator = await store.repo.get_indicator(A36)
    assert indicator is not None
    current: Decimal = indicator["current_value"]
    return current


async def a36_rows(store: Store) -> list[tuple[Decimal, Decimal, date]]:
    return [(r["value"], r["delta"], r["measured_on"]) for r in await store.repo.measurements(A36)]


async def test_each_coverage_figure_sets_its_year_s_value_of_action_36_up_and_down(store: Store) -> None:
    first = coverage(1, 2026, 17)
    await read_coverage(store, first)
    await read_coverage(store, coverage(2, 2026, 15, at=datetime(2026, 4, 1, 9, tzinfo=UTC)))

    assert await a36(store) == Decimal(15), "a line found incomplete: the figure went down"
    assert await a36_rows(store) == [
        (Decimal(17), Decimal(17), date(2026, 3, 2)),
        (Decimal(15), Decimal(-2), date(2026, 4, 1)),
    ], "one measurement per figure, on the day announced, its delta the change"
    [row, _] = await store.repo.measurements(A36)
    assert (row["source"], row["source_event_id"]) == ("funding:CadastreCoverageChanged", first[0].event_id)
    measured = store.events("IndicatorMeasured")
    assert [(e.subject, e.data["previous_value"], e.data["value"]) for e in measured] == [
        ("action-36", 0.0, 17.0),
        ("action-36", 17.0, 15.0),
    ]
    assert {(e.actor, e.data["origin"], e.causation_id) for e in measured[:1]} == {
        (SYSTEM_ACTOR, "derived", first[0].event_id)
    }


async def test_a_late_figure_for_an_earlier_year_is_applied_to_that_year_and_does_not_become_the_current_value(
    store: Store,
) -> None:
    """Versions number the figures across all years: 2025's at version 9, read after 2026's at
    version 10 (announcements are keyed per year, on different partitions), is 2025's only figure."""
    await read_coverage(store, coverage(10, 2026, 17))
    await read_coverage(store, coverage(9, 2025, 12))
    await read_coverage(store, coverage(11, 2025, 14))  # 2025's figure corrected later still

    assert await a36(store) == Decimal(17), "the current value is the latest year's"
    assert await a36_rows(store) == [
        (Decimal(17), Decimal(17), date(2026, 3, 2)),
        (Decimal(12), Decimal(12), date(2025, 12, 31)),
        (Decimal(14), Decimal(2), date(2025, 12, 31)),
    ], "dated on the last day of 2025, each delta taken from 2025's value"
    assert [(e.data["previous_value"], e.data["value"]) for e in store.events("IndicatorMeasured")] == [
        (0.0, 17.0),
        (0.0, 12.0),
        (12.0, 14.0),
    ]
    assert (await store.repo.sum_in_year(A36, 2025), await store.repo.sum_in_year(A36, 2026)) == (
        Decimal(14),
        Decimal(17),
    )
    repo = cast(ActionsRepository, store.repo)  # the fake has the same methods
    reports = {year: await build_annual_report(repo, year, brussels_today()) for year in (2025, 2026)}
    shown = {
        year: [i.value for a in report.actions() if a.number == 36 for i in a.indicators if i.code == A36]
        for year, report in reports.items()
    }
    assert shown == {2025: [14.0], 2026: [17.0]}, "each annual report shows its year's figure"


async def test_a_stale_figure_for_the_same_year_is_ignored(store: Store) -> None:
    await read_coverage(store, coverage(10, 2026, 17))
    await read_coverage(store, coverage(9, 2026, 12, at=datetime(2026, 5, 4, 9, tzinfo=UTC)))  # read late
    await read_coverage(store, coverage(10, 2026, 3))  # the same version again: not above the last applied
    await read_coverage(store, coverage(8, 2027, 5))  # 2027 has no figure yet: applied, whatever 2026's versions

    assert await a36_rows(store) == [
        (Decimal(17), Decimal(17), date(2026, 3, 2)),
        (Decimal(5), Decimal(5), date(2027, 1, 1)),
    ]
    assert len(store.events("IndicatorMeasured")) == 2
    await read_coverage(store, coverage(11, 2026, 16))
    assert (await a36_rows(store))[-1] == (Decimal(16), Decimal(-1), date(2026, 3, 2)), "a later version still applies"
    assert await store.repo.sum_in_year(A36, 2026) == Decimal(16)


async def test_a_coverage_figure_replayed_past_the_inbox_is_measured_once(store: Store) -> None:
    announced = coverage(1, 2026, 17)
    for _ in range(2):
        await read_coverage(store, announced)
    assert len(await a36_rows(store)) == 1
    assert len(store.events("IndicatorMeasured")) == 1


@pytest.mark.parametrize(
    ("year", "at", "measured_on"),
    [
        (2026, datetime(2026, 3, 2, 9, tzinfo=UTC), date(2026, 3, 2)),
        (2025, datetime(2026, 3, 2, 9, tzinfo=UTC), date(2025, 12, 31)),
        (2027, datetime(2026, 11, 30, 9, tzinfo=UTC), date(2027, 1, 1)),
        # 23:30 UTC on 31 December is already New Year's Day in Brussels.
        (2026, datetime(2025, 12, 31, 23, 30, tzinfo=UTC), date(2026, 1, 1)),
        (2025, datetime(2025, 12, 31, 23, 30, tzinfo=UTC), date(2025, 12, 31)),
    ],
)
async def test_a_coverage_figure_is_dated_in_its_year_on_the_day_announced_in_brussels_or_the_year_s_nearest_day(
    store: Store, year: int, at: datetime, measured_on: date
) -> None:
    await read_coverage(store, coverage(1, year, 7, at=at))
    assert await a36_rows(store) == [(Decimal(7), Decimal(7), measured_on)]
    [event] = store.events("IndicatorMeasured")
    assert event.data["measured_on"] == measured_on.isoformat()


async def test_a_grant_of_the_call_kind_epn_register_no_longer_counts_for_action_36(store: Store) -> None:
    """The first stand-in for action 36 counted these grants; action 36 now follows the cadastre."""
    grant = GrantAwarded(
        grant_id=str(uuid.uuid4()),
        call_code="EPN-2026",
        call_kind="epn-register",
        public=None,
        beneficiary="epn-ixelles",
        beneficiary_kind="epn",
        amount_eur="5000.00",
        awarded_on=date(2026, 3, 2),
    )
    awarded = Envelope.wrap(grant, source="funding", subject="grant-x", actor=COORDINATION)
    async with (uow := in_context(store, Context.caused_by(awarded))):
        await count_grant_awarded(uow, awarded, grant)
    assert store.events() == []
    assert await store.repo.measurements() == []
    assert await store.repo.feeding_events(A36) == ["CadastreCoverageChanged"]


async def test_the_cadastre_coverage_refuses_a_value_typed_by_hand(store: Store) -> None:
    await read_coverage(store, coverage(1, 2026, 17))
    with pytest.raises(Conflict, match=f"{A36} is counted from CadastreCoverageChanged events"):
        await record_measurement(acting(store), RecordMeasurement(A36, Decimal(40), date(2026, 6, 30), "", "x"))
    assert await a36(store) == Decimal(17)


async def test_a_person_measures_an_indicator_once_per_external_id(store: Store) -> None:
    code = await manual_indicator(store, "a11-epn-cadastre", action=11)  # a11-epn-labelled is counted from events
    store.outbox.clear()
    command = RecordMeasurement(code, Decimal(33), date(2024, 6, 30), "cadastre CABAN", "epn-2024-06")
    envelope = await record_measurement(acting(store), command)
    assert envelope is not None and envelope.actor == COORDINATION
    assert (envelope.data["origin"], envelope.data["source_event_id"], envelope.data["value"]) == ("manual", None, 33.0)
    assert await record_measurement(acting(store), command) is None
    [row] = await store.repo.measurements(code)
    assert (row["delta"], row["external_id"]) == (Decimal(33), "epn-2024-06")
    assert len(store.events()) == 1


async def test_a_measurement_of_an_unknown_indicator_or_by_another_organisation_is_refused(store: Store) -> None:
    with pytest.raises(NotFound, match="no indicator nope"):
        await record_measurement(acting(store), RecordMeasurement("nope", Decimal(1), date(2024, 1, 1), "", None))
    with pytest.raises(Forbidden):
        await record_measurement(
            acting(store, CABAN), RecordMeasurement("a11-epn-labelled", Decimal(1), date(2024, 1, 1), "", "x")
        )
    assert await store.repo.measurements() == []


def definition(**changes: object) -> DefineIndicator:
    values: dict[str, object] = {
        "code": "a11-epn-labelled",
        "action_number": 11,
        "name_fr": "EPN labellisés",
        "name_nl": "Gelabelde OCR's",
        "unit": "EPN",
        "baseline": Decimal(29),
        "target": Decimal(40),
        "period": "2021-2024",
    }
    return DefineIndicator(**{**values, **changes})  # type: ignore[arg-type]  # the test's own values


async def test_an_indicator_definition_publishes_what_changed_and_nothing_when_unchanged(store: Store) -> None:
    envelope = await define_indicator(acting(store), definition())
    assert envelope is not None
    assert envelope.data["changes"] == [
        {"field": "baseline", "old": 0.0, "new": 29.0},
        {"field": "target", "old": None, "new": 40.0},
    ]
    assert await define_indicator(acting(store), definition()) is None
    with pytest.raises(Conflict, match="belongs to action 11"):
        await define_indicator(acting(store), definition(action_number=12))
    new = await define_indicator(acting(store), definition(code="a12-new", action_number=12))
    assert new is not None and new.subject == "action-12"
    indicator = await store.repo.get_indicator("a12-new")
    assert indicator is not None and indicator["current_value"] == Decimal(29), "a new indicator starts at its baseline"


# --- hostile input: what a measurement may say ----------------------------------------------------


async def manual_indicator(
    store: Store, code: str = "a12-sessions", action: int = 12, period: str = "2021-2024"
) -> str:
    """An indicator no event feeds: its values are typed by people."""
    await define_indicator(
        acting(store), definition(code=code, action_number=action, baseline=Decimal(0), target=None, period=period)
    )
    return code


async def test_an_indicator_counted_from_events_refuses_a_value_typed_by_hand_and_keeps_its_count(
    store: Store,
) -> None:
    envelope, data = delivery()
    async with (uow := in_context(store, Context.caused_by(envelope))):
        await count_devices_delivered(uow, envelope, data)
    with pytest.raises(Conflict, match="a46-devices-pupils is counted from DevicesDelivered events"):
        await record_measurement(
            acting(store), RecordMeasurement("a46-devices-pupils", Decimal(1000), date(2024, 6, 30), "", "x")
        )
    indicator = await store.repo.get_indicator("a46-devices-pupils")
    assert indicator is not None and indicator["current_value"] == Decimal(25)
    assert [m["origin"] for m in await store.repo.measurements("a46-devices-pupils")] == ["derived"]


@pytest.mark.parametrize(
    ("value", "measured_on", "reason"),
    [
        (Decimal(-1000), date(2024, 6, 30), "cannot be negative"),
        (Decimal("NaN"), date(2024, 6, 30), "must be a number"),
        (Decimal(12), date(9999, 12, 31), "has not happened yet"),
        (Decimal(12), brussels_today() + timedelta(days=1), "has not happened yet"),
        (Decimal(12), date(1999, 12, 31), "not plausible"),
    ],
)
async def test_a_measurement_is_never_negative_nor_dated_after_today_in_brussels(
    store: Store, value: Decimal, measured_on: date, reason: str
) -> None:
    code = await manual_indicator(store)
    store.outbox.clear()
    with pytest.raises(Invalid, match=reason):
        await record_measurement(acting(store), RecordMeasurement(code, value, measured_on, "", "m-1"))
    assert await store.repo.measurements(code) == []
    assert store.events() == []


async def test_an_external_id_is_unique_per_indicator_not_across_indicators(store: Store) -> None:
    first, second = await manual_indicator(store, "a12-sessions"), await manual_indicator(store, "a12-people")
    assert await record_measurement(
        acting(store), RecordMeasurement(first, Decimal(3), date(2024, 6, 30), "", "2024-06")
    )
    assert await record_measurement(
        acting(store), RecordMeasurement(second, Decimal(40), date(2024, 6, 30), "", "2024-06")
    ), "the same external id on another indicator is another measurement"
    assert (
        await record_measurement(acting(store), RecordMeasurement(first, Decimal(4), date(2024, 6, 30), "", "2024-06"))
        is None
    ), "… and on the same indicator, a repeated submission"
    assert [(m["indicator_code"], m["value"]) for m in await store.repo.measurements()] == [
        (first, Decimal(3)),
        (second, Decimal(40)),
    ]


async def test_a_back_dated_meeting_counts_in_its_own_year_and_leaves_the_latest_years_value(store: Store) -> None:
    last_year = brussels_today().year - 1
    for held_on in (date(last_year, 3, 12), date(last_year, 6, 18), date(last_year - 1, 5, 2)):
        await record_meeting(acting(store), RecordMeeting("working_group", held_on, ["caban"], [], []))
    rows = await store.repo.measurements("a21-working-group-meetings")
    assert [(m["measured_on"].year, m["value"]) for m in rows] == [
        (last_year, Decimal(1)),
        (last_year, Decimal(2)),
        (last_year - 1, Decimal(1)),
    ], "each measurement is its own year's count"
    indicator = await store.repo.get_indicator("a21-working-group-meetings")
    assert indicator is not None and indicator["current_value"] == Decimal(2), "the latest year's count, not 1"


async def test_a_yearly_indicator_measured_by_hand_for_an_earlier_year_keeps_the_latest_years_value(
    store: Store,
) -> None:
    code = await manual_indicator(store, "a12-sessions-a-year", period="yearly")
    year = brussels_today().year - 1
    await record_measurement(acting(store), RecordMeasurement(code, Decimal(9), date(year, 6, 30), "", None))
    back = await record_measurement(
        acting(store), RecordMeasurement(code, Decimal(5), date(year - 1, 12, 31), "", None)
    )
    assert back is not None and (back.data["previous_value"], back.data["value"]) == (0.0, 5.0), "that year's count"
    indicator = await store.repo.get_indicator(code)
    assert indicator is not None and indicator["current_value"] == Decimal(9)
