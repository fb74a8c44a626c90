"""Labelling EPNs, against the fake unit of work: each EPN is labelled and announced once."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from passerelle_contracts import Actor
from passerelle_contracts.funding_v1 import EpnLabelled

from services.funding.handlers import LabelEpn, label_epn
from services.funding.repository import FundingRepository
from services.runtime.testing import FakeStore
from services.runtime.uow import Context, UnitOfWork
from tests.fakes.funding import FakeFundingRepository

COORDINATION = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k1")
IXELLES = LabelEpn(epn="epn-ixelles", commune="Ixelles", labelled_on=date(2026, 2, 1))


@pytest.fixture
def store() -> FakeStore[FakeFundingRepository]:
    return FakeStore(FakeFundingRepository())


def uow(store: FakeStore[FakeFundingRepository], correlation: uuid.UUID | None = None) -> UnitOfWork[FundingRepository]:
    context = Context(actor=COORDINATION, correlation_id=correlation or uuid.uuid4())
    fake = store.unit_of_work(context, source="funding")
    return fake  # type: ignore[return-value]  # the fake repository stands in for FundingRepository


async def test_a_labelled_epn_is_recorded_and_announced_under_its_own_subject(
    store: FakeStore[FakeFundingRepository],
) -> None:
    correlation = uuid.uuid4()
    label, created = await label_epn(uow(store, correlation), IXELLES)

    assert created
    assert (label.epn, label.commune, label.labelled_on, label.recorded_by) == (
        "epn-ixelles",
        "Ixelles",
        date(2026, 2, 1),
        COORDINATION,
    )
    assert store.repo.labels == {"epn-ixelles": label}
    [event] = store.events()
    assert (event.event_type, event.subject, event.actor, event.correlation_id) == (
        "EpnLabelled",
        "epn-epn-ixelles",
        COORDINATION,
        correlation,
    )
    assert EpnLabelled.model_validate(event.data) == EpnLabelled(
        epn="epn-ixelles", commune="Ixelles", labelled_on=date(2026, 2, 1)
    )


async def test_a_second_label_of_the_same_epn_answers_the_first_and_announces_nothing(
    store: FakeStore[FakeFundingRepository],
) -> None:
    first, _ = await label_epn(uow(store), IXELLES)
    again, created = await label_epn(
        uow(store), LabelEpn(epn="epn-ixelles", commune="Elsene", labelled_on=date(2026, 9, 1))
    )

    assert not created
    assert again == first, "the first label stands"
    assert len(store.events("EpnLabelled")) == 1


async def test_each_epn_is_announced_once(store: FakeStore[FakeFundingRepository]) -> None:
    for epn in ("epn-ixelles", "epn-anderlecht", "epn-ixelles"):
        await label_epn(uow(store), LabelEpn(epn=epn, labelled_on=date(2026, 2, 1)))

    assert [e.subject for e in store.events("EpnLabelled")] == ["epn-epn-ixelles", "epn-epn-anderlecht"]
