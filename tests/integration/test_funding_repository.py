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
from services.funding.domain import Coverage, Criterion, Epn, EpnDetails, FundingLine, Grant, GrantTerms, HistoryEntry
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


DETAILS = EpnDetails(
    epn_name="EPN d'Ixelles",
    operator="commune-ixelles",
    commune="Ixelles",
    hours_per_week=Decimal("24.5"),
    computers=8,
    tablets=2,
    accessible=True,
    address="Rue Mercelis 19",
    postcode="1050",
    publics=("general-public", "seniors"),
    languages=("fr", "nl"),
)


def epn(code: str = "epn-ixelles", **details: Any) -> Epn:
    return Epn(
        epn=code,
        details=dataclasses.replace(DETAILS, **details),
        label_status="candidate",
        registered_by=COORDINATION,
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


async def test_an_epn_is_registered_once_and_kept_with_its_details(repo: FundingRepository) -> None:
    first = await repo.add_epn(epn())

    assert first is not None and first.registered_at is not None
    assert (first.details, first.label_status, first.labelled_on) == (DETAILS, "candidate", None)
    assert await repo.add_epn(epn(computers=30)) is None
    assert await repo.epn("epn-ixelles") == first
    assert await repo.epn("epn-nowhere") is None


async def test_epns_are_listed_by_code_filtered_by_commune_status_and_operator(repo: FundingRepository) -> None:
    await repo.add_epn(epn("epn-schaerbeek", commune="Schaerbeek", operator="cpas-schaerbeek"))
    await repo.add_epn(epn("epn-anderlecht", commune="Anderlecht"))
    await repo.add_epn(epn("epn-ixelles"))
    await repo.set_label_status("epn-ixelles", "labelled", date(2026, 2, 1))

    assert [e.epn for e in await repo.epns()] == ["epn-anderlecht", "epn-ixelles", "epn-schaerbeek"]
    assert [e.epn for e in await repo.epns(commune="Schaerbeek")] == ["epn-schaerbeek"]
    assert [e.epn for e in await repo.epns(status="labelled")] == ["epn-ixelles"]
    assert [e.epn for e in await repo.epns(operator="commune-ixelles", limit=1, offset=1)] == ["epn-ixelles"]


async def test_details_change_to_the_register_s_precision_and_lists_keep_their_order(repo: FundingRepository) -> None:
    await repo.add_epn(epn())
    updated = await repo.update_epn(
        "epn-ixelles", {"hours_per_week": Decimal("12.25"), "languages": ("nl", "fr", "ar"), "address": None}
    )

    assert (updated.details.hours_per_week, updated.details.languages, updated.details.address) == (
        Decimal("12.3"),  # numeric(4, 1): PostgreSQL rounds half away from zero
        ("nl", "fr", "ar"),
        None,
    )
    assert await repo.epn("epn-ixelles") == updated


async def test_a_label_status_keeps_the_day_of_the_latest_labelling_and_the_count_follows_it(
    repo: FundingRepository,
) -> None:
    for code in ("epn-ixelles", "epn-forest"):
        await repo.add_epn(epn(code))
        await repo.set_label_status(code, "labelled", date(2026, 2, 1))
    withdrawn = await repo.set_label_status("epn-forest", "withdrawn", date(2026, 6, 1))

    assert (withdrawn.label_status, withdrawn.labelled_on) == ("withdrawn", date(2026, 2, 1))
    assert await repo.count_labelled() == 1


async def test_the_register_numbers_its_label_decisions_from_one(repo: FundingRepository) -> None:
    assert [await repo.next_register_version() for _ in range(3)] == [1, 2, 3]


async def test_an_epn_s_history_is_kept_oldest_first(repo: FundingRepository) -> None:
    await repo.add_epn(epn())
    await repo.add_history(HistoryEntry(epn="epn-ixelles", kind="registered", actor=COORDINATION, status="candidate"))
    decision = HistoryEntry(
        epn="epn-ixelles",
        kind="label",
        actor=COORDINATION,
        previous_status="candidate",
        status="labelled",
        decided_on=date(2026, 2, 1),
        criteria=({"code": "devices", "measure": "devices", "minimum": "6", "value": "10", "met": True},),
        note="visite du 28 janvier",
        register_version=1,
    )
    await repo.add_history(decision)

    history = await repo.history("epn-ixelles")
    assert [dataclasses.replace(h, recorded_at=None) for h in history][1] == decision
    assert [h.kind for h in history] == ["registered", "label"]
    assert all(h.recorded_at is not None for h in history)


async def test_the_charter_starts_with_the_seeded_criteria_and_a_threshold_can_change(repo: FundingRepository) -> None:
    seeded = await repo.criteria()
    await repo.put_criterion(Criterion("open-hours", "hours_per_week", Decimal("12.5"), "12,5 h", "12,5 uur"))

    assert [(c.code, c.measure, c.minimum) for c in seeded] == [
        ("devices", "devices", Decimal(6)),
        ("open-hours", "hours_per_week", Decimal(15)),
    ]
    assert [(c.code, c.minimum) for c in await repo.criteria()] == [("devices", 6), ("open-hours", Decimal("12.5"))]


def funding_line(**changed: Any) -> FundingLine:
    values: dict[str, Any] = {
        "line_id": uuid.uuid4(),
        "beneficiary": "epn-ixelles",
        "beneficiary_kind": "epn",
        "funder": "esf",
        "programme": "FSE+ inclusion numérique",
        "year": 2026,
        "committed_eur": Decimal("42000"),
        "paid_eur": Decimal("21000.005"),
        "cofinancing_pct": Decimal("40"),
        "commune": "Ixelles",
        "recorded_by": COORDINATION,
    }
    return FundingLine(**(values | changed))


async def test_a_funding_line_is_kept_to_the_cent_and_found_again_by_its_key(repo: FundingRepository) -> None:
    stored = await repo.add_funding_line(funding_line())

    assert stored is not None and (stored.committed_eur, stored.paid_eur, stored.complete) == (
        Decimal("42000.00"),
        Decimal("21000.01"),  # numeric(12, 2) rounds half away from zero
        True,
    )
    assert await repo.funding_line_by_key(stored.key) == stored
    assert await repo.add_funding_line(funding_line()) is None, "the same key is the same line"
    assert await repo.add_funding_line(funding_line(funder_name="Fonds X")) is not None, "another funder's name"


async def test_a_funding_line_changes_and_is_incomplete_without_its_share(repo: FundingRepository) -> None:
    stored = await repo.add_funding_line(funding_line())
    assert stored is not None and stored.line_id is not None

    changed = await repo.update_funding_line(stored.line_id, {"cofinancing_pct": None, "commune": "Elsene"})

    assert (changed.cofinancing_pct, changed.commune, changed.complete) == (None, "Elsene", False)
    assert await repo.funding_line(stored.line_id) == changed


async def test_cadastre_totals_answer_who_funds_whom_per_funder_and_per_beneficiary(repo: FundingRepository) -> None:
    await repo.add_funding_line(funding_line())
    await repo.add_funding_line(funding_line(funder="region", programme="Appel EPN", committed_eur=Decimal(50000)))
    await repo.add_funding_line(funding_line(beneficiary="epn-forest", commune=None, paid_eur=None))
    await repo.add_funding_line(funding_line(year=2025))

    by_funder = await repo.cadastre_totals("funder", year=2026)
    by_commune = await repo.cadastre_totals("commune", year=2026)

    assert [(g["key"], g["lines"], g["committed_eur"], g["paid_eur"], g["complete_lines"]) for g in by_funder] == [
        ("esf", 2, Decimal("84000.00"), Decimal("21000.01"), 1),
        ("region", 1, Decimal("50000.00"), Decimal("21000.01"), 1),
    ]
    assert [(g["key"], g["lines"]) for g in by_commune] == [("Ixelles", 2), (None, 1)]
    assert [(g["key"], g["lines"]) for g in await repo.cadastre_totals("year")] == [(2026, 3), (2025, 1)]


async def test_completeness_lists_each_labelled_epn_and_coverage_counts_those_with_a_complete_line(
    repo: FundingRepository,
) -> None:
    for code in ("epn-ixelles", "epn-forest", "epn-candidate"):
        await repo.add_epn(epn(code))
    for code in ("epn-ixelles", "epn-forest"):
        await repo.set_label_status(code, "labelled", date(2026, 2, 1))
    await repo.add_funding_line(funding_line())
    await repo.add_funding_line(funding_line(beneficiary="epn-forest", paid_eur=None))
    await repo.add_funding_line(funding_line(beneficiary="epn-candidate"))

    assert [(e["epn"], e["lines"], e["complete_lines"]) for e in await repo.completeness(2026)] == [
        ("epn-forest", 1, 0),
        ("epn-ixelles", 1, 1),
    ]
    assert await repo.measure_coverage(2026) == Coverage(year=2026, labelled_epns=2, complete_epns=1)
    assert await repo.line_years("epn-ixelles") == [2026]


async def test_the_announced_coverage_of_a_year_and_the_register_s_version_are_kept(repo: FundingRepository) -> None:
    assert (await repo.lock_coverage(), await repo.announced_coverage(2026)) == (0, None)

    await repo.save_coverage(Coverage(2026, 3, 2), 1)

    assert (await repo.lock_coverage(), await repo.announced_coverage(2026)) == (1, Coverage(2026, 3, 2))
