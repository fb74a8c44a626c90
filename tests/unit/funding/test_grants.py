"""Awarding grants, against the fake unit of work: what is recorded, what is announced, and how
an Idempotency-Key makes a retried request harmless."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date
from decimal import Decimal

import pytest
from passerelle_contracts import Actor
from passerelle_contracts.funding_v1 import GrantAwarded

from services.funding.domain import GrantTerms
from services.funding.handlers import AwardGrant, award_grant
from services.funding.repository import FundingRepository
from services.runtime.errors import Invalid
from services.runtime.testing import FakeStore
from services.runtime.uow import Context, UnitOfWork
from tests.fakes.funding import FakeFundingRepository

COORDINATION = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k1")
OTHER = Actor(organisation="easy-brussels", role="coordination", key_id="k2")
TERMS = GrantTerms(
    call_code="AAP-SENIORS-2026",
    call_kind="regional-call",
    beneficiary="epn-ixelles",
    beneficiary_kind="epn",
    public="seniors",
    amount_eur=Decimal("15000"),
    awarded_on=date(2026, 3, 2),
)


@pytest.fixture
def store() -> FakeStore[FakeFundingRepository]:
    return FakeStore(FakeFundingRepository())


def uow(
    store: FakeStore[FakeFundingRepository], actor: Actor = COORDINATION, correlation_id: uuid.UUID | None = None
) -> UnitOfWork[FundingRepository]:
    context = Context(actor=actor, correlation_id=correlation_id or uuid.uuid4())
    fake = store.unit_of_work(context, source="funding")
    return fake  # type: ignore[return-value]  # the fake repository stands in for FundingRepository


async def test_a_grant_is_recorded_and_announced_in_the_flow_of_the_request_that_awarded_it(
    store: FakeStore[FakeFundingRepository],
) -> None:
    correlation = uuid.uuid4()
    grant, created = await award_grant(uow(store, correlation_id=correlation), AwardGrant(TERMS))

    assert created
    assert store.repo.by_id == {grant.grant_id: grant}
    assert (grant.recorded_by, str(grant.terms.amount_eur)) == (COORDINATION, "15000.00")
    [event] = store.events()
    assert (event.event_type, event.subject, event.source) == ("GrantAwarded", f"grant-{grant.grant_id}", "funding")
    assert (event.actor, event.correlation_id, event.causation_id) == (COORDINATION, correlation, None)
    assert GrantAwarded.model_validate(event.data) == GrantAwarded(
        grant_id=str(grant.grant_id), **dataclasses.asdict(TERMS)
    )


async def test_a_request_repeated_with_its_idempotency_key_gets_the_first_grant_and_announces_nothing_more(
    store: FakeStore[FakeFundingRepository],
) -> None:
    first, created = await award_grant(uow(store), AwardGrant(TERMS, idempotency_key="grant-1"))
    again, created_again = await award_grant(uow(store), AwardGrant(TERMS, idempotency_key="grant-1"))

    assert (created, created_again) == (True, False)
    assert again == first, "the same grant, read back from the stored reply"
    assert len(store.repo.by_id) == 1
    assert len(store.events("GrantAwarded")) == 1


async def test_the_same_idempotency_key_with_other_terms_is_refused_with_a_reason(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await award_grant(uow(store), AwardGrant(TERMS, idempotency_key="grant-1"))
    more = dataclasses.replace(TERMS, amount_eur=Decimal("20000"))

    with pytest.raises(Invalid, match="'grant-1' was already used by coordination-inclusion-numerique"):
        await award_grant(uow(store), AwardGrant(more, idempotency_key="grant-1"))
    assert len(store.repo.by_id) == 1
    assert len(store.events()) == 1


async def test_an_idempotency_key_belongs_to_the_organisation_that_used_it(
    store: FakeStore[FakeFundingRepository],
) -> None:
    ours, _ = await award_grant(uow(store), AwardGrant(TERMS, idempotency_key="grant-1"))
    theirs, created = await award_grant(uow(store, OTHER), AwardGrant(TERMS, idempotency_key="grant-1"))

    assert created and theirs.grant_id != ours.grant_id
    assert [e.actor for e in store.events("GrantAwarded")] == [COORDINATION, OTHER]


async def test_without_an_idempotency_key_every_request_is_a_new_grant(store: FakeStore[FakeFundingRepository]) -> None:
    await award_grant(uow(store), AwardGrant(TERMS))
    await award_grant(uow(store), AwardGrant(TERMS))

    assert len(store.repo.by_id) == 2
    assert len({e.subject for e in store.events("GrantAwarded")}) == 2


async def test_a_grant_the_register_refuses_leaves_no_grant_no_event_and_no_key_behind(
    store: FakeStore[FakeFundingRepository],
) -> None:
    nothing = dataclasses.replace(TERMS, amount_eur=Decimal("0"))
    with pytest.raises(ValueError, match="positive"):
        await award_grant(uow(store), AwardGrant(nothing, idempotency_key="grant-1"))

    assert (store.repo.by_id, store.events(), store.keys) == ({}, [], {})
    _, created = await award_grant(uow(store), AwardGrant(TERMS, idempotency_key="grant-1"))
    assert created, "the key was released with the failed request"
