"""The SQL of calls and what follows a decision, run against the fake and against PostgreSQL,
so the fake the use-case tests rely on cannot drift from the SQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from passerelle_contracts import Actor

from services.funding.app import MIGRATIONS
from services.funding.domain import Grant, GrantTerms
from services.funding.domain.calls import Application, Call, Duty, Tranche
from services.funding.repository import FundingRepository
from services.runtime import db
from tests.conftest import CreateDatabase
from tests.fakes.funding import FakeFundingRepository

pytestmark = pytest.mark.infra

COORDINATION = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k1")
BRUSSELS = ZoneInfo("Europe/Brussels")


def a_call(
    code: str = "AAP-1", closes_at: datetime = datetime(2026, 3, 31, 23, 59, tzinfo=BRUSSELS), **more: object
) -> Call:
    values: dict[str, Any] = {
        "call_code": code, "management": "run", "call_kind": "regional-call", "funder": "region", "programme": "P",
        "title_fr": "Appel", "title_nl": "Oproep", "opens_on": date(2026, 2, 1), "closes_at": closes_at,
        "budget_eur": Decimal("50000"), "eligible_kinds": ("epn", "non-profit"), "opened_by": COORDINATION,
    }  # fmt: skip
    return Call(**(values | more))


def an_application(applicant: str, call_code: str = "AAP-1") -> Application:
    return Application(uuid.uuid4(), call_code, applicant, "non-profit", Decimal(1000),
                       datetime(2026, 3, 1, tzinfo=UTC), submitted_by=COORDINATION)  # fmt: skip


async def a_grant(repo: FundingRepository, application: Application | None, amount: int = 1000) -> Grant:
    terms = GrantTerms("AAP-1", "regional-call", "asbl-a", "non-profit", Decimal(amount), date(2026, 5, 1))
    grant = Grant(uuid.uuid4(), terms, COORDINATION, application_id=application.application_id if application else None)
    return await repo.add_grant(grant)


@pytest.fixture(params=["fake", "postgres"])
async def repo(request: pytest.FixtureRequest, create_database: CreateDatabase) -> AsyncIterator[FundingRepository]:
    if request.param == "fake":
        yield FakeFundingRepository()  # type: ignore[misc]  # the fake stands in for the repository
        return
    pool = await db.create_pool(await create_database("funding_calls"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "funding": MIGRATIONS})
        yield FundingRepository(pool)
    finally:
        await pool.close()


async def test_a_call_is_kept_with_its_deadline_and_its_code_is_taken_once(repo: FundingRepository) -> None:
    stored = await repo.add_call(a_call())

    assert stored is not None and stored.closes_at == datetime(2026, 3, 31, 21, 59, tzinfo=UTC)
    assert (stored.budget_eur, stored.eligible_kinds) == (Decimal("50000.00"), ("epn", "non-profit"))
    assert await repo.add_call(a_call()) is None
    assert await repo.call("AAP-1") == stored


async def test_calls_open_on_a_day_and_closing_soon_follow_the_brussels_day_of_the_deadline(
    repo: FundingRepository,
) -> None:
    await repo.add_call(a_call("LATE-EVENING", datetime(2026, 3, 31, 23, 30, tzinfo=BRUSSELS)))  # 21:30 UTC
    await repo.add_call(a_call("NEXT-MONTH", datetime(2026, 4, 30, 12, 0, tzinfo=BRUSSELS)))

    assert [c.call_code for c in await repo.calls(open_on=date(2026, 3, 31))] == ["LATE-EVENING", "NEXT-MONTH"]
    assert [c.call_code for c in await repo.calls(open_on=date(2026, 4, 1))] == ["NEXT-MONTH"]
    assert [c.call_code for c in await repo.calls_closing(date(2026, 3, 17), 14)] == ["LATE-EVENING"]
    assert [c.call_code for c in await repo.calls_closing(date(2026, 4, 1), 30)] == ["NEXT-MONTH"]


async def test_an_organisation_applies_once_per_call_and_decided_awards_add_up_on_the_call(
    repo: FundingRepository,
) -> None:
    await repo.add_call(a_call())
    first = await repo.add_application(an_application("asbl-a"))
    assert first is not None
    assert await repo.add_application(an_application("asbl-a")) is None
    grant = await a_grant(repo, first, 1200)
    await a_grant(repo, None, 9999)  # a grant recorded by hand does not draw on the envelope
    decided = await repo.decide_application(first.application_id, "partially-granted", Decimal(1200), date(2026, 5, 1),
                                            grant.grant_id)  # fmt: skip

    assert (decided.status, decided.amount_eur, decided.grant_id) == (
        "partially-granted",
        Decimal(1200),
        grant.grant_id,
    )
    assert await repo.committed_on_call("AAP-1") == Decimal("1200.00")
    assert await repo.application_of("AAP-1", "asbl-a") == decided


async def test_a_second_review_by_the_same_organisation_replaces_the_first_and_the_same_score_is_no_change(
    repo: FundingRepository,
) -> None:
    await repo.add_call(a_call())
    application = await repo.add_application(an_application("asbl-a"))
    assert application is not None

    changes = [
        await repo.put_review(application.application_id, "coordination", 70, None),
        await repo.put_review(application.application_id, "coordination", 70, None),
        await repo.put_review(application.application_id, "coordination", 82, "Bon ancrage local"),
    ]

    assert changes == [True, False, True]
    assert [(r["reviewer"], r["score"], r["comment"]) for r in await repo.reviews(application.application_id)] == [
        ("coordination", 82, "Bon ancrage local")
    ]


async def test_an_agreement_keeps_its_tranches_and_reports_and_open_reports_are_those_not_submitted(
    repo: FundingRepository,
) -> None:
    grant = await a_grant(repo, None)
    interim, final = uuid.uuid4(), uuid.uuid4()
    await repo.sign_agreement(
        grant.grant_id, date(2026, 6, 1), date(2027, 5, 31),
        [Tranche(1, Decimal(600), date(2026, 6, 15)), Tranche(2, Decimal(400), date(2027, 7, 1))],
        [Duty(interim, grant.grant_id, "interim", date(2026, 12, 31)), Duty(final, grant.grant_id, "final", date(2027, 6, 30))],
    )  # fmt: skip
    await repo.update_duty(
        interim, {"status": "submitted", "submitted_on": date(2026, 12, 20), "participants": {"total": 3}}
    )

    stored = await repo.grant(grant.grant_id)
    assert stored is not None and (stored.status, stored.ends_on) == ("agreed", date(2027, 5, 31))
    assert [t.amount_eur for t in await repo.tranches(grant.grant_id)] == [Decimal(600), Decimal(400)]
    assert [(d.kind, d.status, d.participants) for d in await repo.duties(grant.grant_id)] == [
        ("interim", "submitted", {"total": 3}),
        ("final", "pending", None),
    ]
    assert [(d.duty_id, who) for d, who in await repo.open_duties(date(2027, 7, 14))] == [(final, "asbl-a")]
    await repo.update_grant(grant.grant_id, {"status": "closed", "closed_on": date(2027, 7, 1)})
    assert await repo.open_duties(date(2027, 7, 14)) == [], "a closed grant is reminded of nothing"


async def test_paid_is_payments_net_of_reclaims_and_a_claim_moves_from_submitted_to_paid(
    repo: FundingRepository,
) -> None:
    grant = await a_grant(repo, None)
    claim = uuid.uuid4()
    await repo.add_claim(claim, grant.grant_id, Decimal(500), date(2026, 7, 1))
    await repo.update_claim(claim, "checked", Decimal(450), date(2026, 7, 5))
    await repo.add_payment(uuid.uuid4(), grant.grant_id, Decimal(450), date(2026, 7, 10), claim, None, COORDINATION)
    await repo.update_claim(claim, "paid", None, None)
    await repo.add_reclaim(uuid.uuid4(), grant.grant_id, Decimal("50.5"), "unspent", date(2026, 9, 1), COORDINATION)

    found = await repo.claim(claim)
    assert found is not None and (found["status"], found["accepted_eur"], found["checked_on"]) == (
        "paid",
        Decimal(450),
        date(2026, 7, 5),
    )
    assert await repo.paid_total(grant.grant_id) == Decimal("399.50")


async def test_a_reminder_is_recorded_once_per_subject_stage_and_due_day(repo: FundingRepository) -> None:
    recorded = [
        await repo.record_reminder("duty", "d1", "t-7", date(2027, 6, 30)),
        await repo.record_reminder("duty", "d1", "t-7", date(2027, 6, 30)),
        await repo.record_reminder("duty", "d1", "t-7", date(2027, 9, 30)),
        await repo.record_reminder("call", "d1", "t-7", date(2027, 6, 30)),
    ]
    assert recorded == [True, False, True, True]
