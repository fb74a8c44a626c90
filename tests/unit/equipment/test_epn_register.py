"""The EPN register's events on the equipment fakes, through the consumer the service registers
(``subscribers``: its name, topic and handlers): what becomes an organisation, what is applied
once, what is left as it is and dead-lettered with its reason, and what HTTP may no longer change."""

from __future__ import annotations

from typing import Any

import pytest
from passerelle_contracts.common import FieldChange
from passerelle_contracts.funding_v1 import TOPIC

from services.equipment import subscribers
from services.equipment.domain import organisations
from services.equipment.handlers import intake, requests
from services.runtime.errors import Invalid
from tests.epn_register import EPN, FundingTopic, details_changed, label_status_changed, registered
from tests.fakes.equipment import unit_of_work
from tests.unit.equipment.conftest import COORDINATION, SCHOOL, World


async def listed(world: World, code: str) -> dict[str, Any] | None:
    """The organisation as ``GET /organisations`` lists it: with where it comes from (``source``)."""
    return next((o for o in await world.reads.organisations() if o["code"] == code), None)


@pytest.fixture
def register(world: World) -> FundingTopic:
    """The funding topic as the equipment service's consumer reads it."""
    return FundingTopic(subscribers.CONSUMER, subscribers.HANDLERS, unit_of_work, world.store)


async def test_the_consumer_reads_the_funding_topic_for_registrations_and_details_only() -> None:
    assert subscribers.TOPICS == (TOPIC,)
    assert set(subscribers.HANDLERS) == {"EpnRegistered", "EpnDetailsChanged"}


async def test_an_epn_the_register_announces_becomes_a_recipient_once_however_often_it_is_delivered(
    world: World, register: FundingTopic
) -> None:
    value = register.envelope(registered())
    assert [await register.deliver(value), await register.deliver(value)] == ["processed", "duplicate"]
    assert await listed(world, EPN) == {
        "code": EPN,
        "name": "EPN d'Ixelles",
        "kind": "epn",
        "commune": "Ixelles",
        "source": "register",
    }
    request = await requests.submit_request(world.acting(), requests.SubmitRequest(EPN, {"laptop": 2}))
    assert (request["recipient_kind"], request["commune"]) == ("epn", "Ixelles"), "a recipient like any other"
    assert [e.event_type for e in world.events()] == ["RequestSubmitted"], "the register's events emit nothing"


async def test_a_registration_again_of_the_same_epn_updates_its_row_and_adds_none(
    world: World, register: FundingTopic
) -> None:
    await register.send(registered())
    assert await register.send(registered(epn_name="EPN Ixelles - Mercelis", commune="")) == "processed"
    assert [o["code"] for o in await world.reads.organisations()].count(EPN) == 1
    row = await listed(world, EPN)
    assert row is not None
    assert (row["name"], row["commune"]) == ("EPN Ixelles - Mercelis", None), "an empty commune is none"


async def test_the_register_adopts_an_epn_an_operator_typed_by_hand_under_the_same_code(
    world: World, register: FundingTopic
) -> None:
    await intake.put_organisation(world.acting(), intake.PutOrganisation(EPN, "EPN Ixelles", "epn", None))
    assert (await listed(world, EPN) or {})["source"] == "http"
    assert await register.send(registered()) == "processed"
    row = await listed(world, EPN)
    assert row is not None
    assert (row["name"], row["commune"], row["source"]) == ("EPN d'Ixelles", "Ixelles", "register")


async def test_a_change_of_details_renames_the_epn_and_moves_its_commune_and_ignores_the_rest(
    world: World, register: FundingTopic
) -> None:
    await register.send(registered())
    change = details_changed(epn_name="Espace numérique d'Ixelles", commune="Etterbeek", hours_per_week="12.0")
    assert await register.send(change) == "processed"
    assert await listed(world, EPN) == {
        "code": EPN,
        "name": "Espace numérique d'Ixelles",
        "kind": "epn",
        "commune": "Etterbeek",
        "source": "register",
    }
    before = await listed(world, EPN)
    assert await register.send(details_changed(tablets=6, operator="cpas-ixelles")) == "processed"
    assert await listed(world, EPN) == before, "the register's other details are not kept here"
    assert await register.send(details_changed(commune=None)) == "processed"
    assert (await listed(world, EPN) or {})["name"] == "Espace numérique d'Ixelles", "the name is kept"


async def test_an_epn_code_that_is_a_school_here_is_dead_lettered_with_its_reason_and_the_school_kept(
    world: World, register: FundingTopic
) -> None:
    school = await listed(world, SCHOOL)
    assert await register.send(registered(SCHOOL)) == "dead-lettered"
    assert await register.send(details_changed(SCHOOL, epn_name="EPN de l'Athénée")) == "dead-lettered"
    assert await listed(world, SCHOOL) == school, "the school is not turned into an EPN"
    assert world.store.inbox == set(), "neither event counts as applied: a replay applies them"
    [(_, first), (_, second)] = register.dlq.sent
    assert (first["x-dlq-reason"], first["x-dlq-consumer"]) == ("handler-failed", "epn-register")
    assert f"the EPN register's code {SCHOOL} is already the organisation" in first["x-dlq-error"]
    assert "of kind secondary-school here, not an EPN" in first["x-dlq-error"]
    assert "EpnCodeTaken" in second["x-dlq-error"]


async def test_a_change_of_an_epn_never_registered_here_is_dead_lettered_then_applied_once_replayed_in_order(
    world: World, register: FundingTopic
) -> None:
    change = register.envelope(details_changed(epn_name="EPN Ixelles bis"))
    assert await register.deliver(change) == "dead-lettered"
    [(dead, headers)] = register.dlq.sent
    assert "EPN epn-ixelles is not known here: its EpnRegistered was not applied" in headers["x-dlq-error"]
    assert await listed(world, EPN) is None, "nothing is created from a change alone"
    assert await register.send(registered()) == "processed"
    assert await register.deliver(dead) == "processed", "replayed: a new position, handled as any record"
    assert (await listed(world, EPN) or {})["name"] == "EPN Ixelles bis"


async def test_a_label_decision_changes_nothing_here_even_a_withdrawal(world: World, register: FundingTopic) -> None:
    await register.send(registered())
    before = await listed(world, EPN)
    assert await register.send(label_status_changed(status="withdrawn")) == "ignored"
    assert await listed(world, EPN) == before, "a withdrawn EPN stays an organisation"
    assert len(world.store.inbox) == 1, "only the registration was applied"


async def test_the_coordination_cannot_change_over_http_an_epn_the_register_keeps_but_may_repeat_it(
    world: World, register: FundingTopic
) -> None:
    await register.send(registered())
    kept = await listed(world, EPN)
    for name, kind, commune in [
        ("EPN Ixelles (typed)", "epn", "Ixelles"),
        ("EPN d'Ixelles", "non-profit", "Ixelles"),
        ("EPN d'Ixelles", "epn", None),
    ]:
        with pytest.raises(organisations.ManagedByRegister, match="managed by the EPN register") as refused:
            await intake.put_organisation(world.acting(COORDINATION), intake.PutOrganisation(EPN, name, kind, commune))
        assert refused.value.status_code == 409
    assert await listed(world, EPN) == kept
    same = intake.PutOrganisation(EPN, "EPN d'Ixelles", "epn", "Ixelles")
    answer = await intake.put_organisation(world.acting(COORDINATION), same)
    assert answer == {"code": EPN, "name": "EPN d'Ixelles", "kind": "epn", "commune": "Ixelles"}, "changes nothing"
    assert await listed(world, EPN) == kept, "and the register keeps it"


async def test_an_organisation_put_over_http_says_so_and_a_new_epn_may_still_be_typed_by_hand(world: World) -> None:
    command = intake.PutOrganisation("epn-forest", "EPN de Forest", "epn", "Forest")
    await intake.put_organisation(world.acting(COORDINATION), command)
    assert (await listed(world, "epn-forest") or {})["source"] == "http"
    changed = intake.PutOrganisation("epn-forest", "EPN Forest", "epn", "Forest")
    assert (await intake.put_organisation(world.acting(COORDINATION), changed))["name"] == "EPN Forest"


@pytest.mark.parametrize("new", [None, "", "   ", 3])
def test_a_name_that_is_not_a_text_is_refused_at_registration_and_in_a_change(new: Any) -> None:
    with pytest.raises(Invalid, match="epn_name must be a non-empty text"):
        organisations.register_changes(EPN, [FieldChange(field="epn_name", old="EPN", new=new)])
    with pytest.raises(Invalid, match="epn_name must be a non-empty text"):
        organisations.register_name(EPN, new)


def test_of_a_change_equipment_keeps_the_name_and_the_commune_only() -> None:
    changes = details_changed(epn_name="EPN", commune="", postcode="1050", accessible=False).changes
    assert organisations.register_changes(EPN, changes) == {"name": "EPN", "commune": None}
    assert organisations.register_changes(EPN, details_changed(tablets=3).changes) == {}
