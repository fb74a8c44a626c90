"""Calls as a spreadsheet, against the fake unit of work: the same format both ways, a row
checked as the API checks a body, and an import that never changes a call's terms."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from passerelle_contracts import Actor

from services.funding import calls_files, spreadsheets
from services.funding.handlers import calls as use
from services.funding.repository import FundingRepository
from services.runtime.testing import FakeStore
from services.runtime.uow import Context, UnitOfWork
from tests.fakes.funding import FakeFundingRepository

COORDINATION = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k1")
HEADER = ",".join(calls_files.CALL_COLUMNS)
SENIORS = (
    "AAP-SENIORS-2026,run,regional-call,region,Inclusion des seniors,Les seniors et le numérique,Senioren en digitaal,"
    '2026-02-01,2026-03-31T23:59:59+02:00,"50 000",20 %,lump-sum,49,seniors,epn;non-profit'
)
ESF = (
    "FSE-2026,tracked,esf,esf,FSE+ Bruxelles,FSE+ inclusion,ESF+ inclusie,2026-01-10,2026-04-30T12:00:00+02:00,,,,35,,"
)


@pytest.fixture
def store() -> FakeStore[FakeFundingRepository]:
    return FakeStore(FakeFundingRepository())


def uow(store: FakeStore[FakeFundingRepository]) -> UnitOfWork[FundingRepository]:
    fake = store.unit_of_work(Context(actor=COORDINATION, correlation_id=uuid.uuid4()), source="funding")
    return fake  # type: ignore[return-value]  # the fake repository stands in for FundingRepository


def csv_file(*rows: str) -> bytes:
    return (HEADER + "\n" + "\n".join(rows) + "\n").encode("utf-8")


async def imported(store: FakeStore[FakeFundingRepository], body: bytes, fmt: spreadsheets.Format = "csv") -> dict:
    calls, errors = calls_files.parse(body, fmt)
    return await use.import_calls(uow(store), calls, errors)


async def test_calls_are_imported_once_and_a_row_is_checked_as_a_request_body_is(
    store: FakeStore[FakeFundingRepository],
) -> None:
    body = csv_file(
        SENIORS,
        ESF,
        "AAP-NO-BUDGET,run,regional-call,region,Programme,Titre,Titel,2026-02-01,2026-03-31T23:59:59+02:00,,,,,,",
        "AAP-NAIVE,run,regional-call,region,Programme,Titre,Titel,2026-02-01,2026-03-31T23:59:59,1000,,,,,",
        "AAP-BAD-KIND,run,regional-call,region,Programme,Titre,Titel,2026-02-01,2026-03-31T23:59:59+02:00,1000,,,,,schools",
    )

    report = await imported(store, body)
    again = await imported(store, body)

    assert (report["created"], [(e["line"], e["column"]) for e in report["errors"]]) == (
        2,
        [(4, None), (5, "closes_at"), (6, "eligible_kinds")],
    )
    assert "envelope" in report["errors"][0]["reason"]
    assert (again["created"], again["unchanged"]) == (0, 2)
    assert [e.event_type for e in store.events()] == ["CallOpened", "CallOpened"]
    seniors = await store.repo.call("AAP-SENIORS-2026")
    assert seniors is not None and (seniors.budget_eur, seniors.cofinancing_pct, seniors.eligible_kinds) == (
        Decimal(50000),
        Decimal(20),
        ("epn", "non-profit"),
    )


async def test_an_import_never_changes_the_terms_of_a_call_already_there(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await imported(store, csv_file(SENIORS))

    report = await imported(store, csv_file(SENIORS.replace('"50 000"', "90000")))

    assert report["errors"] == [
        {"line": 2, "column": "call_code", "reason": "the call AAP-SENIORS-2026 exists already with other terms"}
    ]
    seniors = await store.repo.call("AAP-SENIORS-2026")
    assert seniors is not None and seniors.budget_eur == 50000


async def test_calls_exported_as_csv_or_xlsx_import_back_unchanged(store: FakeStore[FakeFundingRepository]) -> None:
    await imported(store, csv_file(SENIORS, ESF))
    calls = await store.repo.calls()

    formats: tuple[spreadsheets.Format, ...] = ("csv", "xlsx")
    reports = [await imported(store, calls_files.write(calls, fmt), fmt) for fmt in formats]

    assert [(r["created"], r["unchanged"], r["errors"]) for r in reports] == [(0, 2, [])] * 2
