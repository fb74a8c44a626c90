"""The EPN directory on PostgreSQL, through the consumers the service registers
(``subscribers``): the funding register's EPNs are kept once each, in the register's latest word;
an activity-return reminder reaches the partner of the EPN's code or of its operator's; and the
Coordination sees which EPNs no partner reaches yet."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from passerelle_contracts.common import FieldChange
from passerelle_contracts.funding_v1 import TOPIC, ActivityReturnReminder, EpnLabelStatusChanged, GrantAwarded

from services.notifications import audience, domain, subscribers
from services.notifications.domain import DirectoryEpn, PartnerDetails
from services.notifications.handlers.deliveries import Notifier
from services.notifications.handlers.directory import (
    on_epn_details_changed,
    on_epn_label_status_changed,
    on_epn_registered,
    on_grant_holder,
)
from services.runtime.errors import Invalid
from tests.epn_register import EPN, FundingTopic, consumers_declared, details_changed, label_status_changed, registered

from .given import CABAN, LINKS, Store, subscribe, system

pytestmark = pytest.mark.infra

REMINDER = "ActivityReturnReminder"

COMMUNE = PartnerDetails(code="commune-ixelles", name="Commune d'Ixelles", email="epn@ixelles.example", language="fr")
EPN_ITSELF = PartnerDetails(code=EPN, name="EPN d'Ixelles", email="accueil@epn-ixelles.example", language="fr")
CPAS = PartnerDetails(code="cpas-ixelles", name="CPAS d'Ixelles", email="numerique@cpas.example", language="nl")
COORDINATION = PartnerDetails(
    code="coordination-inclusion-numerique", name="Coordination", email="coordination@cirb.example", language="fr"
)


def label_decided(status: str, version: int, epn: str = EPN) -> EpnLabelStatusChanged:
    """The register's decision on a candidate's label, the ``version``-th of the register."""
    return label_status_changed(
        epn, status, previous_status="candidate", decided_on="2026-03-01", labelled_epns=1, register_version=version
    )


def reminder(epn: str = EPN) -> ActivityReturnReminder:
    return ActivityReturnReminder.model_validate(
        {"epn": epn, "year": 2026, "quarter": 1, "due_on": "2026-04-30", "stage": "overdue"}
    )


@pytest.fixture
def directory(store: Store) -> FundingTopic:
    return FundingTopic(subscribers.EPN_DIRECTORY, subscribers.EPN_DIRECTORY_HANDLERS, system, store)


@pytest.fixture
def mailer(store: Store) -> FundingTopic:
    return FundingTopic(subscribers.MAILER, {REMINDER: Notifier(LINKS)}, system, store)


async def told(store: Store) -> list[str]:
    """The partners an e-mail was queued for, by code."""
    return sorted(d.partner_code for d in await store.repo.deliveries(None, None, 100))


# -- the consumers ------------------------------------------------------------------------------
def test_the_directory_has_a_consumer_of_its_own_on_the_funding_topic_beside_the_mailer() -> None:
    """It keeps each grant's holder too: a group of its own reads the topic from its first record,
    so the grants awarded before this version are known (the mailer's group is past them)."""
    consumers = consumers_declared(lambda runtime: subscribers.register(runtime, LINKS))
    assert set(consumers) == {"mailer", "epn-directory", "plan-directory"}
    assert consumers["epn-directory"] == (
        [TOPIC],
        {
            "EpnRegistered": on_epn_registered,
            "EpnDetailsChanged": on_epn_details_changed,
            "EpnLabelStatusChanged": on_epn_label_status_changed,
            "GrantAwarded": on_grant_holder,
            "GrantAgreementSigned": on_grant_holder,
        },
    )
    mailer_handlers = consumers["mailer"][1]
    assert all(isinstance(h, Notifier) for h in mailer_handlers.values()), "the mailer tells; it keeps no directory"


# -- the directory ------------------------------------------------------------------------------
async def test_an_epn_the_register_announces_enters_the_directory_once_however_often_it_is_delivered(
    store: Store, directory: FundingTopic
) -> None:
    value = directory.envelope(registered())
    assert [await directory.deliver(value), await directory.deliver(value)] == ["processed", "duplicate"]
    assert await store.repo.epn(EPN) == DirectoryEpn(EPN, "EPN d'Ixelles", "commune-ixelles", "Ixelles", "candidate")
    assert await store.repo.deliveries(None, None, 10) == [], "the directory e-mails nobody"


async def test_the_directory_learns_epns_registered_before_the_service_first_started(
    store: Store, directory: FundingTopic
) -> None:
    """The mailer e-mails only what happened since the service first started; the directory wants
    the register's whole history."""
    long_ago = await store.repo.started_at() - timedelta(days=400)
    assert await directory.send(registered(), occurred_at=long_ago) == "processed"
    assert await store.repo.epn(EPN) is not None


async def test_a_change_of_details_moves_the_name_operator_and_commune_and_ignores_the_rest(
    store: Store, directory: FundingTopic
) -> None:
    await directory.send(registered())
    change = details_changed(epn_name="Espace numérique d'Ixelles", operator="cpas-ixelles", commune="", tablets=6)
    assert await directory.send(change) == "processed"
    assert await store.repo.epn(EPN) == DirectoryEpn(
        EPN, "Espace numérique d'Ixelles", "cpas-ixelles", None, "candidate"
    ), "an empty commune is none"
    before = await store.repo.epn(EPN)
    assert await directory.send(details_changed(hours_per_week="12.0", accessible=False)) == "processed"
    assert await store.repo.epn(EPN) == before, "the register's other details are not kept here"


async def test_the_label_follows_the_registers_decisions_and_a_stale_one_replayed_late_changes_nothing(
    store: Store, directory: FundingTopic
) -> None:
    await directory.send(registered())
    assert await directory.send(label_decided("labelled", 4)) == "processed"
    assert await directory.send(label_decided("suspended", 3)) == "processed"
    epn = await store.repo.epn(EPN)
    assert epn is not None and (epn.label_status, epn.label_version) == ("labelled", 4)
    assert await directory.send(registered(epn_name="EPN Ixelles")) == "processed"
    epn = await store.repo.epn(EPN)
    assert epn is not None and (epn.name, epn.label_status) == ("EPN Ixelles", "labelled"), (
        "a registration read again renames it but never takes its label back to candidate"
    )


async def test_a_change_or_a_decision_about_an_epn_never_registered_is_dead_lettered_then_applied_in_order(
    store: Store, directory: FundingTopic
) -> None:
    change = directory.envelope(details_changed(operator="cpas-ixelles"))
    decision = directory.envelope(label_decided("labelled", 1))
    assert [await directory.deliver(change), await directory.deliver(decision)] == ["dead-lettered"] * 2
    [(_, first), (_, second)] = directory.dlq.sent
    assert (first["x-dlq-reason"], first["x-dlq-consumer"]) == ("handler-failed", "epn-directory")
    assert "EPN epn-ixelles is not in the directory: its EpnRegistered was not applied" in first["x-dlq-error"]
    assert "EpnRegistered was not applied" in second["x-dlq-error"]
    assert await store.repo.epn(EPN) is None, "nothing is created from a change alone"
    assert await directory.send(registered()) == "processed"
    assert [await directory.deliver(change), await directory.deliver(decision)] == ["processed"] * 2
    assert await store.repo.epn(EPN) == DirectoryEpn(EPN, "EPN d'Ixelles", "cpas-ixelles", "Ixelles", "labelled", 1)


@pytest.mark.parametrize("field", ["epn_name", "operator"])
@pytest.mark.parametrize("new", [None, "", "   ", 3])
def test_a_name_or_an_operator_that_is_not_a_text_is_refused(field: str, new: Any) -> None:
    entry = DirectoryEpn(EPN, "EPN d'Ixelles", "commune-ixelles", "Ixelles", "candidate")
    with pytest.raises(Invalid, match=f"{field} must be a non-empty text"):
        domain.changed_epn(entry, [FieldChange(field=field, old="x", new=new)])
    values: dict[str, Any] = {"name": "EPN", "operator": "commune-ixelles", "commune": "Ixelles"}
    values["name" if field == "epn_name" else "operator"] = new
    with pytest.raises(Invalid, match=f"{field} must be a non-empty text"):
        domain.registered_epn(EPN, label_status="candidate", **values)


def test_of_a_change_the_directory_keeps_the_name_the_operator_and_the_commune_only() -> None:
    entry = DirectoryEpn(EPN, "EPN d'Ixelles", "commune-ixelles", "Ixelles", "labelled", 3)
    change = details_changed(epn_name="EPN", operator="cpas-ixelles", commune="", postcode="1050", tablets=2)
    assert domain.touches_directory(change.changes)
    assert domain.changed_epn(entry, change.changes) == DirectoryEpn(EPN, "EPN", "cpas-ixelles", None, "labelled", 3)
    assert not domain.touches_directory(details_changed(tablets=3, accessible=False).changes)


# -- who a reminder reaches ---------------------------------------------------------------------
async def test_a_return_reminder_reaches_the_epns_partner_its_operators_and_the_coordination_and_no_other(
    store: Store, directory: FundingTopic, mailer: FundingTopic
) -> None:
    for partner in (COMMUNE, EPN_ITSELF, CPAS, COORDINATION):
        await subscribe(store, partner, REMINDER)
    await directory.send(registered())
    assert await mailer.send(reminder()) == "processed"
    assert await told(store) == ["commune-ixelles", "coordination-inclusion-numerique", EPN]


async def test_an_operator_with_a_mailbox_is_reached_when_the_epn_has_none(
    store: Store, directory: FundingTopic, mailer: FundingTopic
) -> None:
    await subscribe(store, COMMUNE, REMINDER)
    await directory.send(registered())
    await mailer.send(reminder())
    [delivery] = await store.repo.deliveries(None, None, 10)
    assert (delivery.partner_code, delivery.address) == ("commune-ixelles", "epn@ixelles.example")
    assert "epn-ixelles" in delivery.subject, "the e-mail names the EPN it is about"


async def test_a_new_operator_is_reached_from_the_next_reminder_on_and_the_former_one_no_more(
    store: Store, directory: FundingTopic, mailer: FundingTopic
) -> None:
    await subscribe(store, COMMUNE, REMINDER)
    await subscribe(store, CPAS, REMINDER)
    await directory.send(registered())
    await directory.send(details_changed(operator="cpas-ixelles"))
    await mailer.send(reminder())
    assert await told(store) == ["cpas-ixelles"]


async def test_a_reminder_about_an_epn_the_directory_does_not_know_reaches_the_epns_own_partner_only(
    store: Store, mailer: FundingTopic
) -> None:
    await subscribe(store, COMMUNE, REMINDER)
    await subscribe(store, EPN_ITSELF, REMINDER)
    await mailer.send(reminder())
    assert await told(store) == [EPN]


async def test_an_operator_hears_of_its_epns_reminders_without_subscribing_and_an_inactive_one_hears_nothing(
    store: Store, directory: FundingTopic, mailer: FundingTopic
) -> None:
    """An EPN's reminders are its operator's own business: an automatic subscription."""
    await subscribe(store, COMMUNE, "GrantAwarded")
    await subscribe(store, dataclasses.replace(CPAS, code="commune-ixelles-bis", active=False), REMINDER)
    await directory.send(registered())
    await directory.send(registered("epn-ixelles-2", operator="commune-ixelles-bis"))
    await mailer.send(reminder())
    await mailer.send(reminder("epn-ixelles-2"))
    assert await told(store) == ["commune-ixelles"]


def test_only_an_event_addressed_to_an_epn_reaches_an_operator() -> None:
    """A batch's milestone goes to its donor: an operator passed along changes nothing."""
    operator = audience.Context(epn_operator="commune-ixelles")
    assert audience.addressees("BatchMilestoneReached", {"donor": "paradigm"}, operator) == {"paradigm"}
    assert audience.addressees(REMINDER, {"epn": EPN}, operator) == {EPN, "commune-ixelles"}


# -- what the Coordination sees -----------------------------------------------------------------
async def test_the_directory_shows_which_partners_reach_each_epn_and_which_epns_none_reaches_yet(
    store: Store, directory: FundingTopic
) -> None:
    await subscribe(store, COMMUNE, REMINDER)
    await subscribe(store, EPN_ITSELF, "GrantAwarded")
    await subscribe(store, dataclasses.replace(CABAN, code="asbl-forest", active=False), REMINDER)
    await directory.send(registered())
    await directory.send(registered("epn-forest", epn_name="EPN de Forest", operator="asbl-forest", commune="Forest"))
    await directory.send(registered("epn-uccle", epn_name="EPN d'Uccle", operator="commune-uccle", commune="Uccle"))

    entries = {e.epn.code: e for e in await store.repo.epn_directory()}
    assert (entries[EPN].contacts, entries[EPN].reminded) == (["commune-ixelles", EPN], ["commune-ixelles", EPN])
    assert (entries["epn-forest"].contacts, entries["epn-uccle"].contacts) == ([], []), "an inactive partner is none"
    missing = await store.repo.epn_directory(without_contact=True)
    assert [e.epn.code for e in missing] == ["epn-forest", "epn-uccle"]

    await subscribe(store, dataclasses.replace(CABAN, code="commune-uccle"), REMINDER)
    assert [e.epn.code for e in await store.repo.epn_directory(without_contact=True)] == ["epn-forest"]


async def test_a_reminder_from_before_the_service_first_started_reaches_no_operator_either(
    store: Store, directory: FundingTopic, mailer: FundingTopic
) -> None:
    """The mailer's rule stands: a reminder from before the service first started is history."""
    await subscribe(store, COMMUNE, REMINDER)
    await directory.send(registered())
    await mailer.send(reminder(), occurred_at=datetime.now(UTC) - timedelta(days=400))
    assert await told(store) == []


async def test_the_holder_of_a_grant_awarded_before_is_learnt_from_the_topics_first_record(
    store: Store, directory: FundingTopic
) -> None:
    awarded = GrantAwarded.model_validate(
        {"grant_id": "g-2024-7", "call_code": "AAP-2024", "call_kind": "regional-call", "beneficiary": "asbl-seniors",
         "beneficiary_kind": "epn", "amount_eur": "12000", "awarded_on": "2024-05-02"}
    )  # fmt: skip
    assert await directory.send(awarded, occurred_at=datetime.now(UTC) - timedelta(days=900)) == "processed"
    assert await store.repo.grant_holder("g-2024-7") == "asbl-seniors"
