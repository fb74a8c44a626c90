"""Calls for projects, against the fake unit of work: deadlines in Brussels time, the envelope,
the agreement's tranches and reports, payments never beyond the grant, reminders announced once
each, and closure only after the final report is approved."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from passerelle_contracts import Actor
from passerelle_contracts.funding_v1 import ApplicationDecided, GrantAwarded, ReportingReminder

from services.funding.domain.calls import Agreement, Call, Duty, Tranche
from services.funding.handlers import calls as use
from services.funding.repository import FundingRepository
from services.runtime.errors import Conflict, Invalid, NotFound
from services.runtime.testing import FakeStore
from services.runtime.uow import Context, UnitOfWork
from tests.fakes.funding import FakeFundingRepository

COORDINATION = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k1")
SENIORS_ASBL = Actor(organisation="asbl-seniors-connectes", role="partner", key_id="k2")
BRUSSELS = ZoneInfo("Europe/Brussels")
DEADLINE = datetime(2026, 3, 31, 23, 59, 59, tzinfo=BRUSSELS)
SENIORS = Call(
    call_code="AAP-SENIORS-2026", management="run", call_kind="regional-call", funder="region",
    programme="Inclusion numérique des seniors", title_fr="Les seniors et le numérique",
    title_nl="Senioren en digitaal", opens_on=date(2026, 2, 1), closes_at=DEADLINE, budget_eur=Decimal(50000),
    action_number=49, public="seniors", eligible_kinds=("epn", "non-profit"),
)  # fmt: skip


@pytest.fixture
def store() -> FakeStore[FakeFundingRepository]:
    return FakeStore(FakeFundingRepository())


def uow(store: FakeStore[FakeFundingRepository], actor: Actor = COORDINATION) -> UnitOfWork[FundingRepository]:
    fake = store.unit_of_work(Context(actor=actor, correlation_id=uuid.uuid4()), source="funding")
    return fake  # type: ignore[return-value]  # the fake repository stands in for FundingRepository


async def applied(
    store: FakeStore[FakeFundingRepository], applicant: str, requested: int, at: datetime | None = None
) -> uuid.UUID:
    command = use.Apply(
        SENIORS.call_code, applicant, "non-profit", Decimal(requested), at or datetime(2026, 3, 1, tzinfo=UTC)
    )
    application, _ = await use.apply(uow(store), command)
    return application.application_id


async def granted(store: FakeStore[FakeFundingRepository], amount: int = 30000) -> uuid.UUID:
    await use.open_call(uow(store), SENIORS)
    application = await applied(store, "asbl-seniors-connectes", amount)
    _, grant = await use.decide(uow(store), use.Decide(application, "granted", Decimal(amount), date(2026, 5, 15)))
    assert grant is not None
    return grant.grant_id


async def agreed(
    store: FakeStore[FakeFundingRepository], final_due: date = date(2027, 6, 30)
) -> tuple[uuid.UUID, uuid.UUID]:
    grant_id = await granted(store)
    final = Duty(uuid.uuid4(), grant_id, "final", final_due)
    agreement = Agreement(
        signed_on=date(2026, 6, 1), ends_on=date(2027, 5, 31),
        tranches=(Tranche(1, Decimal(20000), date(2026, 6, 15)), Tranche(2, Decimal(10000), date(2027, 7, 15))),
        duties=(final,),
    )  # fmt: skip
    await use.sign_agreement(uow(store), grant_id, agreement)
    return grant_id, final.duty_id


async def test_a_run_call_needs_its_envelope() -> None:
    with pytest.raises(Invalid, match="envelope"):
        await use.open_call(uow(FakeStore(FakeFundingRepository())), Call(**(vars(SENIORS) | {"budget_eur": None})))


async def test_an_application_a_second_after_the_brussels_deadline_is_refused_with_the_reason(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await use.open_call(uow(store), SENIORS)
    in_time = await applied(
        store, "asbl-a", 1000, datetime(2026, 3, 31, 21, 59, 59, tzinfo=UTC)
    )  # 23:59:59 in Brussels

    with pytest.raises(Conflict, match=r"closed at 2026-03-31T23:59:59\+02:00 \(Brussels time\).*late and refused"):
        await applied(store, "asbl-b", 1000, datetime(2026, 3, 31, 22, 0, 0, tzinfo=UTC))
    assert [e.event_type for e in store.events()] == ["CallOpened", "ApplicationSubmitted"]
    assert in_time is not None


async def test_an_organisation_of_a_kind_the_call_does_not_admit_is_refused(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await use.open_call(uow(store), SENIORS)
    with pytest.raises(Conflict, match="open to epn, non-profit, not to a public-body"):
        await use.apply(uow(store), use.Apply(SENIORS.call_code, "cpas-forest", "public-body", Decimal(10),
                                              datetime(2026, 3, 1, tzinfo=UTC)))  # fmt: skip


async def test_a_partner_applies_in_its_own_name_once_per_call(store: FakeStore[FakeFundingRepository]) -> None:
    await use.open_call(uow(store), SENIORS)
    command = use.Apply(
        SENIORS.call_code, "asbl-seniors-connectes", "non-profit", Decimal(900), datetime(2026, 3, 1, tzinfo=UTC)
    )
    first, created = await use.apply(uow(store, SENIORS_ASBL), command)
    again, created_again = await use.apply(uow(store, SENIORS_ASBL), command)

    assert (created, created_again, again) == (True, False, first)
    with pytest.raises(Exception, match="applies in its own name"):
        await use.apply(uow(store, SENIORS_ASBL), use.Apply(SENIORS.call_code, "asbl-other", "non-profit", Decimal(5),
                                                            datetime(2026, 3, 1, tzinfo=UTC)))  # fmt: skip


async def test_awards_stay_within_the_envelope_and_a_grant_is_announced_for_the_call_s_public(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await use.open_call(uow(store), SENIORS)
    first, second, third = [await applied(store, f"asbl-{n}", 30000) for n in (1, 2, 3)]
    await use.decide(uow(store), use.Decide(first, "granted", Decimal(30000), date(2026, 5, 15)))

    with pytest.raises(Conflict, match=r"beyond what is left of the call's envelope \(20000.00 of 50000.00\)"):
        await use.decide(uow(store), use.Decide(second, "granted", Decimal(30000), date(2026, 5, 15)))
    await use.decide(uow(store), use.Decide(second, "partially-granted", Decimal(20000), date(2026, 5, 15)))
    await use.decide(uow(store), use.Decide(third, "refused", Decimal(0), date(2026, 5, 15)))

    decided = [ApplicationDecided.model_validate(e.data) for e in store.events("ApplicationDecided")]
    assert [(d.decision, d.amount_eur, d.remaining_eur) for d in decided] == [
        ("granted", Decimal(30000), Decimal(20000)),
        ("partially-granted", Decimal(20000), Decimal(0)),
        ("refused", Decimal(0), Decimal(0)),
    ]
    awards = [GrantAwarded.model_validate(e.data) for e in store.events("GrantAwarded")]
    assert [(a.call_kind, a.public, a.amount_eur) for a in awards] == [
        ("regional-call", "seniors", Decimal(30000)),
        ("regional-call", "seniors", Decimal(20000)),
    ]


async def test_an_agreement_s_tranches_add_up_to_the_grant_and_it_asks_one_final_report(
    store: FakeStore[FakeFundingRepository],
) -> None:
    grant_id = await granted(store)
    short = Agreement(date(2026, 6, 1), date(2027, 5, 31), (Tranche(1, Decimal(1000), date(2026, 7, 1)),),
                      (Duty(uuid.uuid4(), grant_id, "final", date(2027, 6, 30)),))  # fmt: skip
    no_final = Agreement(date(2026, 6, 1), date(2027, 5, 31), (Tranche(1, Decimal(30000), date(2026, 7, 1)),),
                         (Duty(uuid.uuid4(), grant_id, "interim", date(2026, 12, 31)),))  # fmt: skip

    with pytest.raises(Invalid, match="add up to 1000, not to the grant's 30000"):
        await use.sign_agreement(uow(store), grant_id, short)
    with pytest.raises(Invalid, match="exactly one final report, not 0"):
        await use.sign_agreement(uow(store), grant_id, no_final)


async def test_payments_never_go_beyond_the_grant_and_a_reclaim_takes_back_what_was_paid(
    store: FakeStore[FakeFundingRepository],
) -> None:
    grant_id, _ = await agreed(store)
    await use.pay(uow(store), use.Pay(grant_id, Decimal(20000), date(2026, 6, 15), tranche=1))
    claim = await use.submit_claim(uow(store, SENIORS_ASBL), grant_id, Decimal(10000), date(2027, 7, 1))
    await use.check_claim(uow(store), claim, Decimal(9200), date(2027, 7, 10))

    with pytest.raises(Invalid, match="accepted amount"):
        await use.pay(uow(store), use.Pay(grant_id, Decimal(10000), date(2027, 7, 15), claim_id=claim))
    total = await use.pay(uow(store), use.Pay(grant_id, Decimal(9200), date(2027, 7, 15), claim_id=claim))
    with pytest.raises(Conflict, match="beyond the grant's 30000"):
        await use.pay(uow(store), use.Pay(grant_id, Decimal(900), date(2027, 7, 16)))
    net = await use.reclaim(uow(store), grant_id, Decimal(1200), "unspent", date(2027, 9, 1))

    assert (total, net) == (Decimal(29200), Decimal(28000))
    with pytest.raises(Conflict, match="more than was paid"):
        await use.reclaim(uow(store), grant_id, Decimal(30000), "overpayment", date(2027, 9, 2))


async def test_another_organisation_cannot_claim_on_a_grant_it_does_not_hold(
    store: FakeStore[FakeFundingRepository],
) -> None:
    grant_id, _ = await agreed(store)
    stranger = Actor(organisation="asbl-other", role="partner", key_id="k3")
    with pytest.raises(NotFound):
        await use.submit_claim(uow(store, stranger), grant_id, Decimal(10), date(2027, 7, 1))


def stages(store: FakeStore[FakeFundingRepository]) -> list[str]:
    return [ReportingReminder.model_validate(e.data).stage for e in store.events("ReportingReminder")]


async def test_a_report_is_reminded_at_t_14_t_7_on_the_day_and_escalated_once_overdue_each_once(
    store: FakeStore[FakeFundingRepository],
) -> None:
    due = date(2027, 6, 30)
    await agreed(store, due)
    for days_before in (20, 14, 13, 7, 7, 1, 0, 0, -1, -5):
        await use.check_deadlines(uow(store), due - timedelta(days=days_before))

    assert stages(store) == ["t-14", "t-7", "due", "overdue"]
    [first] = store.events("ReportingReminder")[:1]
    assert ReportingReminder.model_validate(first.data).beneficiary == "asbl-seniors-connectes"


async def test_a_submitted_report_is_no_longer_reminded_and_an_extension_moves_its_reminders(
    store: FakeStore[FakeFundingRepository],
) -> None:
    due = date(2027, 6, 30)
    grant_id, duty = await agreed(store, due)
    await use.check_deadlines(uow(store), due - timedelta(days=7))
    await use.amend(uow(store), use.Amend(grant_id, "extension", date(2027, 6, 25), ends_on=date(2027, 8, 31)))
    await use.check_deadlines(uow(store), due)  # the old due day: nothing is due any more
    await use.check_deadlines(uow(store), date(2027, 9, 23))  # t-7 of the new due day (2027-09-30)
    await use.submit_report(uow(store, SENIORS_ASBL), duty, date(2027, 9, 24), {"total": 12})
    await use.check_deadlines(uow(store), date(2027, 10, 5))

    reminders = [ReportingReminder.model_validate(e.data) for e in store.events("ReportingReminder")]
    assert [(r.stage, r.due_on) for r in reminders] == [("t-7", due), ("t-7", date(2027, 9, 30))]


async def test_a_grant_closes_only_after_its_final_report_is_approved(store: FakeStore[FakeFundingRepository]) -> None:
    grant_id, duty = await agreed(store)
    with pytest.raises(Conflict, match="final report is approved"):
        await use.close_grant(uow(store), grant_id, date(2027, 7, 1))
    await use.submit_report(uow(store, SENIORS_ASBL), duty, date(2027, 6, 28), None)
    await use.review_report(uow(store), duty, "returned", date(2027, 6, 29), "Il manque les comptes")
    await use.submit_report(uow(store, SENIORS_ASBL), duty, date(2027, 7, 2), None)
    await use.review_report(uow(store), duty, "approved", date(2027, 7, 5), None)
    closed = await use.close_grant(uow(store), grant_id, date(2027, 9, 30))

    assert closed.status == "closed"
    assert [e.event_type for e in store.events()][-1] == "GrantClosed"


async def test_a_call_s_closing_is_announced_to_partners_at_t_14_t_7_and_on_the_day(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await use.open_call(uow(store), SENIORS)
    for day in (date(2026, 3, 10), date(2026, 3, 17), date(2026, 3, 24), date(2026, 3, 31), date(2026, 4, 1)):
        await use.check_deadlines(uow(store), day)
        await use.check_deadlines(uow(store), day)

    assert [e.data["stage"] for e in store.events("CallClosingSoon")] == ["t-14", "t-7", "due"]


ESF = Call(**(vars(SENIORS) | {"call_code": "FSE-2026-INCLUSION", "management": "tracked", "call_kind": "esf",
                                "funder": "esf", "budget_eur": None, "action_number": 35}))  # fmt: skip


async def test_the_coordination_records_when_a_partner_applied_to_a_tracked_call_and_the_deadline_still_holds(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await use.open_call(uow(store), ESF)
    now = datetime(2026, 6, 1, tzinfo=UTC)

    def command(applicant: str, applied: datetime) -> use.Apply:
        return use.Apply(ESF.call_code, applicant, "non-profit", Decimal(80000), now, applied_at=applied)

    recorded, _ = await use.apply(uow(store), command("asbl-a", datetime(2026, 3, 20, tzinfo=UTC)))
    with pytest.raises(Conflict, match="late and refused"):
        await use.apply(uow(store), command("asbl-b", datetime(2026, 4, 2, tzinfo=UTC)))
    with pytest.raises(Exception, match="only the Coordination records when a partner applied"):
        await use.apply(uow(store, SENIORS_ASBL), command("asbl-seniors-connectes", datetime(2026, 3, 20, tzinfo=UTC)))

    assert recorded.submitted_at == datetime(2026, 3, 20, tzinfo=UTC)
    with pytest.raises(Invalid, match="before the application was submitted"):
        await use.decide(uow(store), use.Decide(recorded.application_id, "granted", Decimal(80000), date(2026, 3, 19)))
