"""EPN activity returns (action 28), against the fake unit of work: a quarter's counts sent by the
Coordination or the EPN's operator, corrections as revisions, CSV imports with a report per refused
row, the chase of missing returns once per stage, and the yearly study."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from passerelle_contracts import Actor
from passerelle_contracts.funding_v1 import ActivityReturnReminder, ActivityReturnSubmitted

from services.funding import returns_files, spreadsheets
from services.funding.domain import EpnDetails
from services.funding.domain.returns import (
    ActivityReturn,
    ReturnRefused,
    check_return,
    due_on,
    quarters_owed,
    study,
)
from services.funding.handlers import DecideLabel, RegisterEpn, decide_label, register_epn
from services.funding.handlers.returns import chase_returns, import_returns, read_study, submit_return
from services.funding.repository import FundingRepository
from services.runtime.errors import Forbidden, Invalid, NotFound
from services.runtime.testing import FakeStore
from services.runtime.uow import Context, UnitOfWork
from tests.fakes.funding import FakeFundingRepository

COORDINATION = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k1")
IXELLES = Actor(organisation="commune-ixelles", role="partner", key_id="k-ixelles")  # runs epn-ixelles
FOREST = Actor(organisation="commune-forest", role="partner", key_id="k-forest")  # runs epn-forest
AFTER_Q1 = date(2026, 4, 10)  # Q1 2026 has ended; its return is due on 30 April

Store = FakeStore[FakeFundingRepository]


@pytest.fixture
def store() -> Store:
    return FakeStore(FakeFundingRepository())


def uow(store: Store, actor: Actor = COORDINATION) -> UnitOfWork[FundingRepository]:
    fake = store.unit_of_work(Context(actor=actor, correlation_id=uuid.uuid4()), source="funding")
    return fake  # type: ignore[return-value]  # the fake repository stands in for FundingRepository


def counts(**changed: Any) -> ActivityReturn:
    values: dict[str, Any] = {
        "epn": "epn-ixelles",
        "year": 2026,
        "quarter": 1,
        "visits": 1250,
        "sessions": 42,
        "participants": 310,
        "by_public": {"seniors": 120, "job-seekers": 80},
        "by_age_band": {"18-29": 60, "30-54": 110, "65-plus": 120},
        "by_gender": {"women": 170, "men": 130},
    }
    return ActivityReturn(**(values | changed))


async def epn(
    store: Store, code: str = "epn-ixelles", operator: str = "commune-ixelles", labelled: date | None = None
) -> None:
    details = EpnDetails(
        epn_name=code, operator=operator, commune="Ixelles", hours_per_week=Decimal(20), computers=6, tablets=0,
        accessible=True,
    )  # fmt: skip
    await register_epn(uow(store), RegisterEpn(epn=code, details=details))
    if labelled is not None:
        await decide_label(uow(store), DecideLabel(epn=code, status="labelled", decided_on=labelled))
    store.outbox.clear()


def submitted(store: Store) -> list[ActivityReturnSubmitted]:
    return [ActivityReturnSubmitted.model_validate(e.data) for e in store.events("ActivityReturnSubmitted")]


def reminders(store: Store) -> list[tuple[str, int, int, str]]:
    found = [ActivityReturnReminder.model_validate(e.data) for e in store.events("ActivityReturnReminder")]
    return [(r.epn, r.year, r.quarter, r.stage) for r in found]


# --- the rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "quarter", "due"),
    [(2026, 1, date(2026, 4, 30)), (2026, 2, date(2026, 7, 31)), (2026, 3, date(2026, 10, 31)), (2025, 4, date(2026, 1, 31))],
)  # fmt: skip
def test_a_quarter_s_return_is_due_on_the_last_day_of_the_month_after_it(year: int, quarter: int, due: date) -> None:
    assert due_on(year, quarter) == due


def test_a_quarter_s_return_is_taken_from_the_day_after_the_quarter_ends() -> None:
    with pytest.raises(ReturnRefused, match=r"2026-Q1 ends on 2026-03-31: its return is taken from the day after"):
        check_return(counts(), date(2026, 3, 31))
    check_return(counts(), date(2026, 4, 1))


def test_age_bands_and_genders_each_add_up_to_the_participants_or_less() -> None:
    check_return(counts(participants=290, by_gender={"women": 170, "men": 120}), AFTER_Q1)  # the rest: not stated

    with pytest.raises(ReturnRefused, match="by_gender: adds up to 300, more than the 290 participants") as refused:
        check_return(counts(participants=290), AFTER_Q1)
    assert refused.value.column == "by_gender"
    with pytest.raises(ReturnRefused, match="by_age_band: adds up to 290, more than the 200 participants"):
        check_return(counts(participants=200, by_gender={}), AFTER_Q1)


def test_publics_overlap_so_each_is_at_most_the_participants_and_their_sum_may_be_more() -> None:
    check_return(counts(by_public={"seniors": 120, "women": 170, "job-seekers": 80}), AFTER_Q1)  # 370 > 310

    with pytest.raises(ReturnRefused, match=r"by_public\.seniors: 311 is more than the 310 participants"):
        check_return(counts(by_public={"seniors": 311}), AFTER_Q1)


@pytest.mark.parametrize(
    ("changed", "reason"),
    [
        ({"visits": -1}, "visits: a count is from 0 to 2,147,483,647, not -1"),
        ({"sessions": 2**31}, "sessions: a count is from 0 to 2,147,483,647"),
        ({"by_gender": {"women": True}}, "by_gender.women: a count is a whole number, not True"),
        ({"by_public": {"pensioners": 3}}, "by_public.pensioners: 'pensioners' is not one of job-seekers"),
        ({"year": 2019}, "year: returns are kept from 2020, not for 2019"),
        ({"quarter": 5}, "quarter: a quarter is 1, 2, 3 or 4, not 5"),
    ],
)
def test_a_count_out_of_bounds_or_a_code_outside_the_vocabulary_is_refused_with_its_field(
    changed: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ReturnRefused) as refused:
        check_return(counts(**changed), AFTER_Q1)
    assert refused.value.reason.startswith(reason), refused.value.reason


# --- sending a return ---------------------------------------------------------------------------


async def test_the_epn_s_operator_sends_its_first_return_kept_and_announced_as_revision_1(store: Store) -> None:
    await epn(store)

    outcome, kept = await submit_return(uow(store, IXELLES), counts(by_public={"seniors": 120, "women": 0}), AFTER_Q1)

    assert (outcome, kept.revision, kept.submitted_on, kept.late) == ("created", 1, AFTER_Q1, False)
    assert kept.submitted_by == IXELLES
    [event] = submitted(store)
    assert (event.epn, event.year, event.quarter, event.revision) == ("epn-ixelles", 2026, 1, 1)
    assert (event.visits, event.sessions, event.participants) == (1250, 42, 310)
    assert event.by_public == {"seniors": 120}, "a zero is no count"
    assert store.events("ActivityReturnSubmitted")[0].subject == "epn-epn-ixelles"


async def test_the_same_counts_again_are_no_news_and_other_counts_are_a_correction_kept_with_the_first(
    store: Store,
) -> None:
    await epn(store)
    await submit_return(uow(store, IXELLES), counts(), AFTER_Q1)

    again, _ = await submit_return(uow(store, IXELLES), counts(by_public={"job-seekers": 80, "seniors": 120}), AFTER_Q1)
    corrected, kept = await submit_return(uow(store), counts(visits=1300), date(2026, 5, 12))

    assert (again, corrected) == ("unchanged", "corrected")
    assert (kept.revision, kept.visits, kept.first_submitted_on, kept.submitted_by) == (2, 1300, AFTER_Q1, COORDINATION)
    assert not kept.late, "sent in time; a correction after the due day does not make it late"
    assert [(e.revision, e.visits, e.participants) for e in submitted(store)] == [(1, 1250, 310), (2, 1300, 310)]
    history = await store.repo.activity_return_revisions("epn-ixelles", 2026, 1)
    assert [(r.revision, r.visits, r.submitted_by) for r in history] == [(1, 1250, IXELLES), (2, 1300, COORDINATION)]


async def test_a_late_return_is_taken_and_marked_late(store: Store) -> None:
    await epn(store)

    _, kept = await submit_return(uow(store, IXELLES), counts(), date(2026, 5, 1))

    assert (kept.due_on, kept.late) == (date(2026, 4, 30), True)


async def test_another_organisation_s_key_may_not_send_an_epn_s_return(store: Store) -> None:
    await epn(store)

    with pytest.raises(Forbidden, match="only the Coordination or commune-ixelles, its operator"):
        await submit_return(uow(store, FOREST), counts(), AFTER_Q1)
    with pytest.raises(NotFound, match="no EPN epn-nowhere"):
        await submit_return(uow(store), counts(epn="epn-nowhere"), AFTER_Q1)
    assert submitted(store) == []


# --- CSV ----------------------------------------------------------------------------------------

HEADER = "epn,year,quarter,visits,sessions,participants,public:seniors,age:65-plus,gender:women,gender:men,note"


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return "\n".join([header, *rows, ""]).encode("utf-8")


async def test_an_import_keeps_its_valid_rows_and_reports_each_refused_one_with_its_line_column_and_reason(
    store: Store,
) -> None:
    await epn(store)
    await epn(store, "epn-forest", "commune-forest")
    body = csv_file(
        "epn-ixelles,2026,1,1 250,42,310,120,120,170,130,a remark",
        "epn-forest,2026,Q1,800,20,200,,,100,",
        "epn-ixelles,2026,2,10,1,5,,,,",  # Q2 has not ended on 10 April
        "epn-ixelles,2026,1,1,1,1,,,,",  # the same quarter again
        "epn-forest,2025,4,abc,1,1,,,,",
        "epn-forest,2025,4,10,1,5,,,3,3",  # 6 of 5 participants
        "epn-nowhere,2025,4,10,1,5,,,,",
    )

    report = (await import_returns(uow(store), body, AFTER_Q1)).as_dict()

    assert (report["created"], report["corrected"], report["unchanged"]) == (2, 0, 0)
    assert [(e["line"], e["column"]) for e in report["errors"]] == [
        (4, "quarter"),
        (5, None),
        (6, "visits"),
        (7, "gender:*"),
        (8, "epn"),
    ]
    assert report["errors"][1]["reason"] == "the same EPN and quarter as line 2"
    assert [(e.epn, e.visits, e.by_gender) for e in submitted(store)] == [
        ("epn-ixelles", 1250, {"women": 170, "men": 130}),
        ("epn-forest", 800, {"women": 100}),
    ]
    again = (await import_returns(uow(store), body, AFTER_Q1)).as_dict()
    assert (again["created"], again["unchanged"]) == (0, 2), "the same file again: nothing new"
    assert len(submitted(store)) == 2


async def test_an_operator_s_import_keeps_its_own_epns_returns_and_refuses_the_others(store: Store) -> None:
    await epn(store)
    await epn(store, "epn-forest", "commune-forest")
    body = csv_file("epn-ixelles,2026,1,1250,42,310,,,,", "epn-forest,2026,1,800,20,200,,,,")

    report = (await import_returns(uow(store, IXELLES), body, AFTER_Q1)).as_dict()

    assert report["created"] == 1
    assert [(e["line"], e["column"], e["reason"]) for e in report["errors"]] == [
        (3, "epn", "only the Coordination or commune-forest, its operator, send epn-forest's returns")
    ]


def test_a_breakdown_column_the_format_does_not_know_or_without_its_kind_refuses_the_whole_file() -> None:
    """Its counts would otherwise be lost without a word ("women" is a public and a gender)."""
    with pytest.raises(Invalid, match=r"line 1: unknown column\(s\) public:senior"):
        returns_files.read(csv_file(header="epn,year,quarter,visits,sessions,participants,public:senior"))
    with pytest.raises(Invalid, match=r"line 1: column\(s\) women, men: name a breakdown column with its kind"):
        returns_files.read(csv_file(header="epn,year,quarter,visits,sessions,participants,women,men"))


# --- the chase ----------------------------------------------------------------------------------


async def test_a_missing_return_is_reminded_once_at_each_stage_and_no_more_once_it_is_in(store: Store) -> None:
    await epn(store, labelled=date(2026, 1, 15))

    days = [date(2026, 4, 15), date(2026, 4, 16), date(2026, 4, 16), date(2026, 4, 23), date(2026, 4, 30)]
    announced = [await chase_returns(uow(store), day) for day in days]
    announced.append(await chase_returns(uow(store), date(2026, 5, 2)))
    await submit_return(uow(store, IXELLES), counts(), date(2026, 5, 3))
    announced.append(await chase_returns(uow(store), date(2026, 5, 4)))

    assert announced == [0, 1, 0, 1, 1, 1, 0]
    assert reminders(store) == [
        ("epn-ixelles", 2026, 1, "t-14"),
        ("epn-ixelles", 2026, 1, "t-7"),
        ("epn-ixelles", 2026, 1, "due"),
        ("epn-ixelles", 2026, 1, "overdue"),
    ]
    assert {e.subject for e in store.events("ActivityReturnReminder")} == {"epn-epn-ixelles"}


async def test_a_checker_that_did_not_run_for_weeks_announces_today_s_stage_only(store: Store) -> None:
    await epn(store, labelled=date(2026, 1, 15))

    assert await chase_returns(uow(store), date(2026, 5, 20)) == 1
    assert reminders(store) == [("epn-ixelles", 2026, 1, "overdue")]


async def test_only_labelled_epns_are_chased_from_the_quarter_they_were_labelled_in(store: Store) -> None:
    await epn(store, labelled=date(2026, 5, 10))
    await epn(store, "epn-forest", "commune-forest")  # a candidate owes nothing

    await chase_returns(uow(store), date(2026, 7, 17))

    assert reminders(store) == [("epn-ixelles", 2026, 2, "t-14")], "Q1 ended before the label"


def test_no_return_is_owed_before_2020_whenever_the_epn_was_labelled() -> None:
    assert quarters_owed(date(2018, 6, 1), date(2020, 4, 20)) == [(2020, 1)]
    assert quarters_owed(date(2026, 2, 1), date(2026, 4, 15)) == [], "Q1's chase starts 14 days before 30 April"
    assert quarters_owed(date(2025, 11, 3), date(2026, 4, 16)) == [(2025, 4), (2026, 1)]


def test_a_return_missing_for_more_than_a_year_is_no_longer_chased_so_an_old_register_is_not_flooded() -> None:
    owed = quarters_owed(date(2020, 1, 15), date(2026, 11, 30))

    assert owed == [(2025, 4), (2026, 1), (2026, 2), (2026, 3)], "due in the last year (from 2026-01-31), not six years"


async def test_a_suspended_epn_is_not_chased(store: Store) -> None:
    await epn(store, labelled=date(2026, 1, 15))
    await decide_label(uow(store), DecideLabel(epn="epn-ixelles", status="suspended", decided_on=date(2026, 4, 1)))

    assert await chase_returns(uow(store), date(2026, 4, 20)) == 0


# --- the yearly study ---------------------------------------------------------------------------


async def test_the_study_adds_up_each_quarter_and_the_year_with_the_share_of_labelled_epns_that_returned(
    store: Store,
) -> None:
    await epn(store, labelled=date(2025, 6, 1))
    await epn(store, "epn-forest", "commune-forest", labelled=date(2026, 2, 1))
    await epn(store, "epn-anderlecht", "commune-anderlecht")  # a candidate's return counts, owes nothing
    await submit_return(uow(store), counts(), AFTER_Q1)
    await submit_return(uow(store), counts(epn="epn-anderlecht", visits=50, sessions=2, participants=20, by_public={},
                                           by_age_band={}, by_gender={"women": 5}), AFTER_Q1)  # fmt: skip
    await submit_return(uow(store), counts(quarter=2, participants=300, by_gender={"women": 150}), date(2026, 7, 3))
    await submit_return(uow(store), counts(epn="epn-forest", quarter=2, visits=100, participants=40, by_public={},
                                           by_age_band={}, by_gender={}), date(2026, 7, 3))  # fmt: skip

    q1, q2, q3, q4, year = await read_study(store.repo, 2026, date(2026, 10, 5))  # type: ignore[arg-type]  # the fake stands in

    assert (q1.returns_due, q1.returns_received, q1.share_received_pct, q1.epns_returned) == (2, 1, Decimal("50.0"), 2)
    assert (q1.visits, q1.sessions, q1.participants) == (1300, 44, 330)
    assert q1.by_gender == {"women": 175, "men": 130, "non-binary": 0, "not-stated": 25}, "the rest is not stated"
    assert q1.by_age_band["not-stated"] == 330 - 290
    assert (q2.returns_due, q2.returns_received, q2.share_received_pct) == (2, 2, Decimal("100.0"))
    assert (q3.returns_due, q3.returns_received, q3.share_received_pct) == (2, 0, Decimal("0.0")), "ended, none in"
    assert (q4.returns_due, q4.share_received_pct, q4.due_on) == (0, None, date(2027, 1, 31)), "not ended yet"
    assert (year.quarter, year.returns_due, year.returns_received) == (None, 6, 3)
    assert year.share_received_pct == Decimal("50.0")
    assert (year.visits, year.participants, year.by_public["seniors"]) == (1300 + 1250 + 100, 330 + 340, 240)


def test_the_study_as_csv_has_a_row_per_quarter_then_the_year_whose_breakdowns_add_up() -> None:
    periods = study(2026, [counts()], [("epn-ixelles", date(2025, 1, 1))], date(2026, 5, 1))

    rows = list(csv.DictReader(io.StringIO(returns_files.write_study(periods))))

    assert [(r["quarter"], r["returns_due"], r["returns_received"], r["share_received_pct"]) for r in rows] == [
        ("1", "1", "1", "100.0"),
        ("2", "0", "0", ""),
        ("3", "0", "0", ""),
        ("4", "0", "0", ""),
        ("all", "1", "1", "100.0"),
    ]
    ages = sum(int(v) for k, v in rows[0].items() if k.startswith("age:"))
    genders = sum(int(v) for k, v in rows[0].items() if k.startswith("gender:"))
    assert (ages, genders, rows[0]["participants"]) == (310, 310, "310")


async def test_a_year_s_returns_exported_as_csv_or_xlsx_import_back_unchanged(store: Store) -> None:
    await epn(store)
    await epn(store, "epn-forest", "commune-forest")
    first = csv_file("epn-ixelles,2026,1,1 250,42,310,120,120,170,130,", "epn-forest,2026,1,800,20,200,,,100,")
    await import_returns(uow(store), first, AFTER_Q1)
    kept = await store.repo.activity_returns_of_year(2026)

    formats: tuple[spreadsheets.Format, ...] = ("csv", "xlsx")
    reports = [
        (await import_returns(uow(store), returns_files.write(kept, fmt), AFTER_Q1, fmt)).as_dict() for fmt in formats
    ]

    assert [(r["created"], r["corrected"], r["unchanged"], r["errors"]) for r in reports] == [(0, 0, 2, [])] * 2
    assert len(submitted(store)) == 2, "nothing announced again"
