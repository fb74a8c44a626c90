"""The EPN register's events on the actions fakes, through the consumer the service registers
(``subscribers``: its name, topic and handlers): what becomes an organisation of the plan, what is
applied once, what is left as it is and dead-lettered with its reason, and what the seed's reload
at start leaves alone."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from passerelle_contracts.common import FieldChange
from passerelle_contracts.funding_v1 import TOPIC

from services.actions import domain, subscribers
from services.actions.handlers.actions import ChangeDetails, change_details
from services.actions.handlers.epn_register import on_epn_details_changed, on_epn_registered
from services.actions.handlers.governance import RecordMeeting, record_meeting
from services.actions.handlers.plan import LoadPlan, load_plan, read_seed
from services.runtime.errors import Conflict, Invalid
from services.runtime.uow import Context
from tests.epn_register import EPN, FundingTopic, consumers_declared, details_changed, label_status_changed, registered

from .conftest import Store, acting, in_context


async def listed(store: Store, code: str) -> dict[str, Any] | None:
    """The organisation as ``GET /organisations`` lists it."""
    return next((o for o in await store.repo.organisations() if o["code"] == code), None)


@pytest.fixture
def register(store: Store) -> FundingTopic:
    """The funding topic as the actions service's consumer ``epn-register`` reads it."""
    return FundingTopic(subscribers.EPN_REGISTER, subscribers.EPN_REGISTER_HANDLERS, in_context, store)


def test_the_register_has_a_consumer_of_its_own_on_the_funding_topic_beside_the_indicators() -> None:
    """A group of its own reads the topic from its first record (EPNs registered before this
    version included) and never holds back the indicators behind a dead letter (``subscribers``)."""
    consumers = consumers_declared(subscribers.register)
    assert set(consumers) == {"indicators", "epn-register"}
    assert consumers["epn-register"] == (
        [TOPIC],
        {"EpnRegistered": on_epn_registered, "EpnDetailsChanged": on_epn_details_changed},
    )
    assert not {"EpnRegistered", "EpnDetailsChanged"} & set(consumers["indicators"][1])


async def test_an_epn_the_register_announces_becomes_an_organisation_once_however_often_it_is_delivered(
    store: Store, register: FundingTopic
) -> None:
    value = register.envelope(registered())
    assert [await register.deliver(value), await register.deliver(value)] == ["processed", "duplicate"]
    assert await listed(store, EPN) == {
        "code": EPN,
        "name": "EPN d'Ixelles",
        "kind": "epn",
        "working_group": False,
        "copil": False,
    }
    assert (await store.repo.organisation(EPN) or {})["source"] == "register"
    assert store.events() == [], "the register's events emit nothing: an organisation is not an action"


async def test_a_registered_epn_may_partner_an_action_and_attend_a_meeting_like_any_organisation(
    store: Store, register: FundingTopic
) -> None:
    await register.send(registered())
    assert await change_details(acting(store), ChangeDetails(30, {"partners": ["caban", EPN]})) is not None
    assert [a["number"] for a in await store.repo.list_actions(organisation=EPN)] == [30]
    meeting = RecordMeeting("working_group", date(2024, 3, 12), ["coordination-inclusion-numerique", EPN], [], [])
    assert (await record_meeting(acting(store), meeting))["attendees"] == ["coordination-inclusion-numerique", EPN]


async def test_an_epn_unknown_to_the_register_is_still_refused_as_a_partner(store: Store) -> None:
    with pytest.raises(Conflict, match=f"unknown organisations: {EPN}"):
        await change_details(acting(store), ChangeDetails(30, {"partners": [EPN]}))


async def test_a_registration_again_of_the_same_epn_renames_it_adds_none_and_keeps_its_membership(
    store: Store, register: FundingTopic
) -> None:
    await register.send(registered())
    store.repo.organisations_[EPN]["working_group"] = True  # as if the seed had named it a member
    assert await register.send(registered(epn_name="EPN Ixelles - Mercelis")) == "processed"
    assert [o["code"] for o in await store.repo.organisations()].count(EPN) == 1
    row = await listed(store, EPN)
    assert row is not None
    assert (row["name"], row["working_group"]) == ("EPN Ixelles - Mercelis", True)


async def test_a_change_of_details_renames_the_epn_and_ignores_the_rest(store: Store, register: FundingTopic) -> None:
    await register.send(registered())
    change = details_changed(epn_name="Espace numérique d'Ixelles", commune="Etterbeek", hours_per_week="12.0")
    assert await register.send(change) == "processed"
    assert (await listed(store, EPN) or {})["name"] == "Espace numérique d'Ixelles"
    before = await store.repo.organisation(EPN)
    assert await register.send(details_changed(tablets=6, operator="cpas-ixelles")) == "processed"
    assert await store.repo.organisation(EPN) == before, "the register's other details are not kept here"


async def test_an_epn_code_that_is_a_network_of_the_plan_is_dead_lettered_with_its_reason_and_the_network_kept(
    store: Store, register: FundingTopic
) -> None:
    """The plan's seed names ``epn``, the network of all EPNs (kind network), as a partner of actions:
    an EPN registered under that code is another organisation, not a rename of the network."""
    network = await store.repo.organisation("epn")
    assert network is not None and network["kind"] == "network"
    assert await register.send(registered("epn", epn_name="EPN de la gare")) == "dead-lettered"
    assert await register.send(details_changed("epn", epn_name="EPN de la gare")) == "dead-lettered"
    assert await store.repo.organisation("epn") == network, "the network is not turned into an EPN"
    assert store.inbox == set(), "neither event counts as applied: a replay applies them"
    [(_, first), (_, second)] = register.dlq.sent
    assert (first["x-dlq-reason"], first["x-dlq-consumer"]) == ("handler-failed", "epn-register")
    assert (
        "the EPN register's code epn is already the organisation 'Espaces Publics Numériques (EPN)'"
        in (first["x-dlq-error"])
    )
    assert "of kind network here, not an EPN" in first["x-dlq-error"]
    assert "EpnCodeTaken" in second["x-dlq-error"]


async def test_a_change_of_an_epn_never_registered_here_is_dead_lettered_then_applied_once_replayed_in_order(
    store: Store, register: FundingTopic
) -> None:
    change = register.envelope(details_changed(epn_name="EPN Ixelles bis"))
    assert await register.deliver(change) == "dead-lettered"
    [(_, headers)] = register.dlq.sent
    assert "EPN epn-ixelles is not known here: its EpnRegistered was not applied" in headers["x-dlq-error"]
    assert await listed(store, EPN) is None, "nothing is created from a change alone"
    assert await register.send(registered()) == "processed"
    assert await register.deliver(change) == "processed", "replayed: a new position, handled as any record"
    assert (await listed(store, EPN) or {})["name"] == "EPN Ixelles bis"


async def test_a_label_decision_is_not_this_consumers_concern_even_a_withdrawal(
    store: Store, register: FundingTopic
) -> None:
    await register.send(registered())
    before = await listed(store, EPN)
    assert await register.send(label_status_changed(status="withdrawn")) == "ignored"
    assert await listed(store, EPN) == before, "a withdrawn EPN stays an organisation of the plan"


async def test_the_seeds_reload_at_start_neither_overwrites_nor_deletes_the_registers_epns(
    store: Store, register: FundingTopic
) -> None:
    await register.send(registered(epn_name="EPN d'Ixelles (registre)"))
    plan, indicators = read_seed()
    seeded = {o["code"]: o for o in plan["organisations"]}
    naming_it = {**plan, "organisations": [*plan["organisations"], {**seeded["caban"], "code": EPN, "name": "X"}]}
    assert await load_plan(in_context(store, Context.system()), LoadPlan(naming_it, indicators)) == []
    kept = await store.repo.organisation(EPN)
    assert kept is not None
    assert (kept["name"], kept["kind"], kept["source"]) == ("EPN d'Ixelles (registre)", "epn", "register")
    await load_plan(in_context(store, Context.system()), LoadPlan(plan, indicators))
    assert (await listed(store, EPN) or {})["name"] == "EPN d'Ixelles (registre)", "a seed without it deletes nothing"
    assert (await listed(store, "caban") or {})["name"] == seeded["caban"]["name"], "the seed's own rows follow it"


async def test_the_register_adopts_an_epn_the_seed_named_and_the_seed_no_longer_renames_it(
    store: Store, register: FundingTopic
) -> None:
    plan, indicators = read_seed()
    epn = {"code": EPN, "name": "EPN Ixelles (plan)", "kind": "epn", "working_group": True, "copil": False}
    with_epn = {**plan, "organisations": [*plan["organisations"], epn]}
    await load_plan(in_context(store, Context.system()), LoadPlan(with_epn, indicators))
    assert (await store.repo.organisation(EPN) or {})["source"] == "seed"
    assert await register.send(registered()) == "processed"
    await load_plan(in_context(store, Context.system()), LoadPlan(with_epn, indicators))
    assert await listed(store, EPN) == {**epn, "name": "EPN d'Ixelles"}, "renamed by the register, still a member"
    assert (await store.repo.organisation(EPN) or {})["source"] == "register"


@pytest.mark.parametrize("new", [None, "", "   ", 3])
def test_a_name_that_is_not_a_text_is_refused_at_registration_and_in_a_change(new: Any) -> None:
    with pytest.raises(Invalid, match="epn_name must be a non-empty text"):
        domain.register_rename(EPN, [FieldChange(field="epn_name", old="EPN", new=new)])
    with pytest.raises(Invalid, match="epn_name must be a non-empty text"):
        domain.register_name(EPN, new)


def test_of_a_change_actions_keeps_the_name_only() -> None:
    changes = details_changed(epn_name="EPN", commune="Forest", operator="cpas-forest").changes
    assert domain.register_rename(EPN, changes) == "EPN"
    assert domain.register_rename(EPN, details_changed(tablets=3, commune="Forest").changes) is None
