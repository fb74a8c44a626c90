"""Indicators: defined and measured by people, or counted from other services' events."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from passerelle_contracts import SYSTEM_ACTOR, Envelope
from passerelle_contracts.equipment_v1 import DevicesDelivered
from passerelle_contracts.funding_v1 import EpnLabelled, GrantAwarded

from services.actions.handlers.indicators import (
    DefineIndicator,
    RecordMeasurement,
    count_devices_delivered,
    count_epn_labelled,
    count_grant_awarded,
    define_indicator,
    record_measurement,
)
from services.runtime.errors import Conflict, Forbidden, NotFound
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


async def test_grants_and_epn_labels_are_counted_one_each(store: Store) -> None:
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
    label = EpnLabelled(epn="epn-ixelles", commune="Ixelles", labelled_on=date(2024, 6, 1))
    awarded = Envelope.wrap(grant, source="funding", subject="grant-x", actor=COORDINATION)
    async with (uow := in_context(store, Context.caused_by(awarded))):
        await count_grant_awarded(uow, awarded, grant)
    labelled = Envelope.wrap(label, source="funding", subject="epn-ixelles", actor=COORDINATION)
    async with (uow := in_context(store, Context.caused_by(labelled))):
        await count_epn_labelled(uow, labelled, label)
    assert [(e.data["indicator_code"], e.data["value"]) for e in store.events()] == [
        ("a49-grants-seniors", 1.0),
        ("a11-epn-labelled", 1.0),
    ]


async def test_a_person_measures_an_indicator_once_per_external_id(store: Store) -> None:
    command = RecordMeasurement("a11-epn-labelled", Decimal(33), date(2024, 6, 30), "cadastre CABAN", "epn-2024-06")
    envelope = await record_measurement(acting(store), command)
    assert envelope is not None and envelope.actor == COORDINATION
    assert (envelope.data["origin"], envelope.data["source_event_id"], envelope.data["value"]) == ("manual", None, 33.0)
    assert await record_measurement(acting(store), command) is None
    [row] = await store.repo.measurements("a11-epn-labelled")
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
