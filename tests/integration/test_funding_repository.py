"""The funding register's contract, run against the fake and against PostgreSQL, so the fake the
use-case tests rely on cannot drift from the SQL."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from passerelle_contracts import Actor

from services.funding.app import MIGRATIONS
from services.funding.domain import EpnLabel, Grant, GrantTerms
from services.funding.repository import FundingRepository
from services.runtime import db
from tests.conftest import CreateDatabase
from tests.fakes.funding import FakeFundingRepository

pytestmark = pytest.mark.infra

COORDINATION = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k1")
TERMS = GrantTerms(
    call_code="AAP-SENIORS-2026",
    call_kind="regional-call",
    beneficiary="asbl-seniors-connectes",
    beneficiary_kind="non-profit",
    amount_eur=Decimal("12500.5"),
    awarded_on=date(2026, 3, 2),
)


def grant(key: str | None = None, **terms: Any) -> Grant:
    return Grant(
        grant_id=uuid.uuid4(), terms=dataclasses.replace(TERMS, **terms), recorded_by=COORDINATION, idempotency_key=key
    )


def label(epn: str = "epn-ixelles", **fields: Any) -> EpnLabel:
    return dataclasses.replace(
        EpnLabel(epn=epn, labelled_on=date(2026, 2, 1), recorded_by=COORDINATION, commune="Ixelles"), **fields
    )


@pytest.fixture(params=["fake", "postgres"])
async def repo(request: pytest.FixtureRequest, create_database: CreateDatabase) -> AsyncIterator[FundingRepository]:
    if request.param == "fake":
        yield FakeFundingRepository()  # type: ignore[misc]  # the fake stands in for the repository
        return
    pool = await db.create_pool(await create_database("funding"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "funding": MIGRATIONS})
        yield FundingRepository(pool)
    finally:
        await pool.close()


async def test_a_grant_is_kept_as_awarded_with_its_amount_in_cents_and_when_it_was_recorded(
    repo: FundingRepository,
) -> None:
    awarded = grant("k-1", public="seniors")
    stored = await repo.add_grant(awarded)

    assert dataclasses.replace(stored, recorded_at=None) == awarded
    assert str(stored.terms.amount_eur) == "12500.50"
    assert stored.recorded_at is not None and stored.recorded_at.tzinfo is not None
    assert await repo.grant(awarded.grant_id) == stored


async def test_an_unknown_grant_is_none(repo: FundingRepository) -> None:
    assert await repo.grant(uuid.uuid4()) is None


async def test_a_grant_id_is_recorded_once(repo: FundingRepository) -> None:
    awarded = await repo.add_grant(grant())
    with pytest.raises(Exception):  # noqa: B017 - the driver's unique violation, or the fake's error
        await repo.add_grant(dataclasses.replace(awarded, recorded_at=None))


async def test_an_amount_that_is_not_positive_is_refused(repo: FundingRepository) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the table's CHECK, or the fake's error
        await repo.add_grant(grant(amount_eur=Decimal("0")))


async def test_two_grants_may_carry_the_same_idempotency_key_because_keys_belong_to_organisations(
    repo: FundingRepository,
) -> None:
    first, second = await repo.add_grant(grant("k-1")), await repo.add_grant(grant("k-1"))
    assert first.grant_id != second.grant_id
    assert (await repo.grant(second.grant_id)) == second


async def test_an_epn_is_labelled_once_and_the_first_label_stays(repo: FundingRepository) -> None:
    first = await repo.add_epn_label(label())
    assert first is not None and first.recorded_at is not None
    assert dataclasses.replace(first, recorded_at=None) == label()

    assert await repo.add_epn_label(label(commune="Elsene", labelled_on=date(2026, 9, 1))) is None
    assert await repo.epn_label("epn-ixelles") == first


async def test_a_label_without_a_commune_is_kept_and_an_unknown_epn_has_none(repo: FundingRepository) -> None:
    stored = await repo.add_epn_label(label("epn-anderlecht", commune=None))
    assert stored is not None and stored.commune is None
    assert await repo.epn_label("epn-nowhere") is None


async def test_grants_are_listed_newest_award_first_filtered_by_beneficiary_call_and_year(
    repo: FundingRepository,
) -> None:
    old = await repo.add_grant(grant(awarded_on=date(2025, 5, 1)))
    new = await repo.add_grant(grant(awarded_on=date(2026, 4, 1)))
    other = await repo.add_grant(grant(beneficiary="epn-forest", beneficiary_kind="epn", call_code="AAP-EPN-2026"))

    everything = await repo.grants()
    assert [g.grant_id for g in everything] == [new.grant_id, other.grant_id, old.grant_id]
    assert [g.grant_id for g in await repo.grants(beneficiary="epn-forest")] == [other.grant_id]
    assert [g.grant_id for g in await repo.grants(call_code="AAP-SENIORS-2026", year=2025)] == [old.grant_id]
    assert [g.grant_id for g in await repo.grants(limit=1, offset=1)] == [other.grant_id]


async def test_epn_labels_are_listed_by_epn(repo: FundingRepository) -> None:
    await repo.add_epn_label(label("epn-schaerbeek", commune="Schaerbeek"))
    await repo.add_epn_label(label("epn-anderlecht", commune="Anderlecht"))

    assert [lab.epn for lab in await repo.epn_labels()] == ["epn-anderlecht", "epn-schaerbeek"]
    assert [lab.epn for lab in await repo.epn_labels(commune="Schaerbeek")] == ["epn-schaerbeek"]
