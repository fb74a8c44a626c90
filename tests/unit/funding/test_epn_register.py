"""The EPN register, against the fake unit of work: registration, changes of details, and the
label's decisions with the charter checked and the count of labelled EPNs announced."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from passerelle_contracts import Actor
from passerelle_contracts.common import LabelStatus
from passerelle_contracts.funding_v1 import EpnDetailsChanged, EpnLabelled, EpnLabelStatusChanged, EpnRegistered

from services.funding.domain import Criterion, EpnDetails
from services.funding.handlers import (
    ChangeEpnDetails,
    DecideLabel,
    RegisterEpn,
    change_epn_details,
    decide_label,
    register_epn,
    set_criterion,
)
from services.funding.repository import FundingRepository
from services.runtime.errors import Conflict, Forbidden, NotFound
from services.runtime.testing import FakeStore
from services.runtime.uow import Context, UnitOfWork
from tests.fakes.funding import FakeFundingRepository

COORDINATION = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k1")
IXELLES_COMMUNE = Actor(organisation="commune-ixelles", role="partner", key_id="k2")
FOREST_CPAS = Actor(organisation="cpas-forest", role="partner", key_id="k3")
DAY = date(2026, 2, 1)


def details(**changed: object) -> EpnDetails:
    base = EpnDetails(
        epn_name="EPN d'Ixelles",
        operator="commune-ixelles",
        commune="Ixelles",
        hours_per_week=Decimal(24),
        computers=8,
        tablets=2,
        accessible=True,
        address="Rue Mercelis 19",
        postcode="1050",
        publics=("general-public", "seniors"),
        languages=("fr", "nl"),
    )
    return EpnDetails(**(base.values() | changed))


@pytest.fixture
def store() -> FakeStore[FakeFundingRepository]:
    return FakeStore(FakeFundingRepository())


def uow(store: FakeStore[FakeFundingRepository], actor: Actor = COORDINATION) -> UnitOfWork[FundingRepository]:
    fake = store.unit_of_work(Context(actor=actor, correlation_id=uuid.uuid4()), source="funding")
    return fake  # type: ignore[return-value]  # the fake repository stands in for FundingRepository


async def registered(store: FakeStore[FakeFundingRepository], epn: str = "epn-ixelles", **changed: object) -> None:
    await register_epn(uow(store), RegisterEpn(epn=epn, details=details(**changed)))


async def decide(store: FakeStore[FakeFundingRepository], epn: str, status: LabelStatus, on: date = DAY) -> None:
    await decide_label(uow(store), DecideLabel(epn=epn, status=status, decided_on=on))


def counts(store: FakeStore[FakeFundingRepository]) -> list[tuple[str, str, int, int]]:
    """(EPN, status, labelled EPNs, register version) of each label decision announced."""
    found = [EpnLabelStatusChanged.model_validate(e.data) for e in store.events("EpnLabelStatusChanged")]
    return [(d.epn, d.status, d.labelled_epns, d.register_version) for d in found]


async def test_a_registered_epn_is_a_candidate_announced_with_its_details_under_its_own_subject(
    store: FakeStore[FakeFundingRepository],
) -> None:
    epn, created = await register_epn(uow(store), RegisterEpn(epn="epn-ixelles", details=details()))

    assert created and epn.label_status == "candidate" and epn.registered_by == COORDINATION
    [event] = store.events()
    assert (event.event_type, event.subject) == ("EpnRegistered", "epn-epn-ixelles")
    data = EpnRegistered.model_validate(event.data)
    assert (data.epn_name, data.operator, data.commune, data.hours_per_week, data.computers, data.tablets) == (
        "EPN d'Ixelles",
        "commune-ixelles",
        "Ixelles",
        Decimal(24),
        8,
        2,
    )
    assert (data.publics, data.languages, data.accessible, data.label_status) == (
        ["general-public", "seniors"],
        ["fr", "nl"],
        True,
        "candidate",
    )
    assert [(h.kind, h.status) for h in await store.repo.history("epn-ixelles")] == [("registered", "candidate")]


async def test_registering_again_with_the_same_details_answers_the_epn_and_other_details_are_refused(
    store: FakeStore[FakeFundingRepository],
) -> None:
    first, _ = await register_epn(uow(store), RegisterEpn(epn="epn-ixelles", details=details()))
    again, created = await register_epn(uow(store), RegisterEpn(epn="epn-ixelles", details=details()))
    with pytest.raises(Conflict, match="other details"):
        await register_epn(uow(store), RegisterEpn(epn="epn-ixelles", details=details(computers=20)))

    assert not created and again == first
    assert len(store.events("EpnRegistered")) == 1


async def test_an_epn_meeting_the_charter_is_labelled_and_the_decision_carries_the_count_of_labelled_epns(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await registered(store)
    await decide(store, "epn-ixelles", "labelled")

    assert counts(store) == [("epn-ixelles", "labelled", 1, 1)]
    [labelled] = store.events("EpnLabelled")
    assert EpnLabelled.model_validate(labelled.data) == EpnLabelled(
        epn="epn-ixelles", commune="Ixelles", labelled_on=DAY
    )
    epn = await store.repo.epn("epn-ixelles")
    assert epn is not None and (epn.label_status, epn.labelled_on) == ("labelled", DAY)
    decision = (await store.repo.history("epn-ixelles"))[-1]
    assert [(c["code"], c["value"], c["minimum"], c["met"]) for c in decision.criteria] == [
        ("devices", "10", "6", True),
        ("open-hours", "24", "15", True),
    ]


async def test_an_epn_short_of_a_criterion_is_not_labelled_and_nothing_is_announced(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await registered(store, hours_per_week=Decimal(12), computers=3, tablets=1)
    before = len(store.events())

    with pytest.raises(Conflict, match=r"devices: devices is 4, at least 6 needed; open-hours: hours_per_week is 12"):
        await decide(store, "epn-ixelles", "labelled")

    assert len(store.events()) == before
    epn = await store.repo.epn("epn-ixelles")
    assert epn is not None and epn.label_status == "candidate"


async def test_a_withdrawal_lowers_the_count_and_each_decision_numbers_the_register(
    store: FakeStore[FakeFundingRepository],
) -> None:
    for code in ("epn-ixelles", "epn-forest"):
        await registered(store, code)
        await decide(store, code, "labelled")
    await decide(store, "epn-forest", "suspended")
    await decide(store, "epn-ixelles", "withdrawn")
    await decide(store, "epn-forest", "labelled")

    assert counts(store) == [
        ("epn-ixelles", "labelled", 1, 1),
        ("epn-forest", "labelled", 2, 2),
        ("epn-forest", "suspended", 1, 3),
        ("epn-ixelles", "withdrawn", 0, 4),
        ("epn-forest", "labelled", 1, 5),
    ]


async def test_a_suspension_or_withdrawal_records_the_unmet_criteria_as_its_reason(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await registered(store)
    await decide(store, "epn-ixelles", "labelled")
    await change_epn_details(uow(store), ChangeEpnDetails("epn-ixelles", {"hours_per_week": Decimal(6)}))
    await decide(store, "epn-ixelles", "suspended")

    [_, suspended] = [EpnLabelStatusChanged.model_validate(e.data) for e in store.events("EpnLabelStatusChanged")]
    assert (suspended.previous_status, suspended.status, suspended.criteria_unmet) == (
        "labelled",
        "suspended",
        ["open-hours"],
    )


@pytest.mark.parametrize(
    ("path", "refused", "reason"),
    [
        ((), "suspended", "candidate: its label can become labelled, withdrawn, not suspended"),
        (("labelled",), "labelled", "is already labelled"),
        (("withdrawn",), "labelled", "withdrawn: its label can become candidate, not labelled"),
    ],
)
async def test_a_label_moves_only_along_the_charter_s_transitions(
    store: FakeStore[FakeFundingRepository], path: tuple[LabelStatus, ...], refused: LabelStatus, reason: str
) -> None:
    await registered(store)
    for status in path:
        await decide(store, "epn-ixelles", status)

    with pytest.raises(Conflict, match=reason):
        await decide(store, "epn-ixelles", refused)


async def test_a_withdrawn_epn_may_apply_again_and_be_labelled_again(store: FakeStore[FakeFundingRepository]) -> None:
    await registered(store)
    statuses: tuple[LabelStatus, ...] = ("labelled", "withdrawn", "candidate", "labelled")
    for status in statuses:
        await decide(store, "epn-ixelles", status, date(2026, 3, 1) if status == "labelled" else DAY)

    assert [c[1:3] for c in counts(store)] == [("labelled", 1), ("withdrawn", 0), ("candidate", 0), ("labelled", 1)]


async def test_a_threshold_is_data_and_a_decision_keeps_the_threshold_it_was_checked_against(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await registered(store, hours_per_week=Decimal(10))
    relaxed = Criterion("open-hours", "hours_per_week", Decimal(8), "Ouvert 8 h", "8 uur open")
    await set_criterion(uow(store), relaxed)
    await decide(store, "epn-ixelles", "labelled")
    await set_criterion(uow(store), Criterion("open-hours", "hours_per_week", Decimal(15), "15 h", "15 uur"))

    decision = (await store.repo.history("epn-ixelles"))[-1]
    assert [(c["code"], c["minimum"], c["met"]) for c in decision.criteria if c["code"] == "open-hours"] == [
        ("open-hours", "8", True)
    ]


async def test_a_change_of_details_announces_only_what_changed_with_its_old_and_new_value(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await registered(store)
    change = {"hours_per_week": Decimal("12.5"), "tablets": 2, "languages": ("fr", "nl", "ar")}
    epn, changed = await change_epn_details(uow(store), ChangeEpnDetails("epn-ixelles", change))
    _, again = await change_epn_details(uow(store), ChangeEpnDetails("epn-ixelles", change))

    assert changed and not again, "the same values again are no news"
    assert (epn.details.hours_per_week, epn.details.languages) == (Decimal("12.5"), ("fr", "nl", "ar"))
    [event] = store.events("EpnDetailsChanged")
    assert [c.model_dump() for c in EpnDetailsChanged.model_validate(event.data).changes] == [
        {"field": "hours_per_week", "old": "24", "new": "12.5"},
        {"field": "languages", "old": "fr,nl", "new": "fr,nl,ar"},
    ]
    assert [h.kind for h in await store.repo.history("epn-ixelles")] == ["registered", "details"]


async def test_an_epn_s_operator_changes_its_own_details_and_no_other_organisation_does(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await registered(store)
    await change_epn_details(uow(store, IXELLES_COMMUNE), ChangeEpnDetails("epn-ixelles", {"computers": 12}))

    with pytest.raises(Forbidden, match="commune-ixelles, its operator"):
        await change_epn_details(uow(store, FOREST_CPAS), ChangeEpnDetails("epn-ixelles", {"computers": 1}))
    epn = await store.repo.epn("epn-ixelles")
    assert epn is not None and epn.details.computers == 12


async def test_an_unknown_epn_cannot_be_changed_or_decided_on(store: FakeStore[FakeFundingRepository]) -> None:
    with pytest.raises(NotFound):
        await change_epn_details(uow(store), ChangeEpnDetails("epn-nowhere", {"computers": 1}))
    with pytest.raises(NotFound):
        await decide(store, "epn-nowhere", "labelled")
    assert store.events() == []
