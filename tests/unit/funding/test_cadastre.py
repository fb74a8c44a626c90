"""The funding cadastre, against the fake unit of work: lines found again by their key, changes
announced field by field, spreadsheets read with a report per refused row, and action 36's figure
(labelled EPNs with a complete line for the year) announced when it changes."""

from __future__ import annotations

import io
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from passerelle_contracts import Actor
from passerelle_contracts.funding_v1 import CadastreCoverageChanged, FundingLineChanged, FundingLineRecorded

from services.funding import cadastre_files
from services.funding.domain import EpnDetails, FundingLine
from services.funding.handlers import (
    DecideLabel,
    RegisterEpn,
    decide_label,
    import_cadastre,
    record_lines,
    register_epn,
)
from services.funding.repository import FundingRepository
from services.runtime.errors import Invalid
from services.runtime.testing import FakeStore
from services.runtime.uow import Context, UnitOfWork
from tests.fakes.funding import FakeFundingRepository

COORDINATION = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k1")
HEADER = (
    "beneficiary,beneficiary_kind,commune,funder,funder_name,programme,year,committed_eur,paid_eur,cofinancing_pct\n"
)


@pytest.fixture
def store() -> FakeStore[FakeFundingRepository]:
    return FakeStore(FakeFundingRepository())


def uow(store: FakeStore[FakeFundingRepository]) -> UnitOfWork[FundingRepository]:
    fake = store.unit_of_work(Context(actor=COORDINATION, correlation_id=uuid.uuid4()), source="funding")
    return fake  # type: ignore[return-value]  # the fake repository stands in for FundingRepository


def line(**changed: Any) -> FundingLine:
    values: dict[str, Any] = {
        "beneficiary": "epn-ixelles",
        "beneficiary_kind": "epn",
        "funder": "esf",
        "programme": "FSE+ inclusion numérique",
        "year": 2026,
        "committed_eur": Decimal("42000"),
        "paid_eur": Decimal("21000"),
        "cofinancing_pct": Decimal(40),
    }
    return FundingLine(**(values | changed))


async def labelled_epn(store: FakeStore[FakeFundingRepository], code: str = "epn-ixelles") -> None:
    details = EpnDetails(
        epn_name=code, operator="commune-ixelles", commune="Ixelles", hours_per_week=Decimal(20), computers=6,
        tablets=0, accessible=True,
    )  # fmt: skip
    await register_epn(uow(store), RegisterEpn(epn=code, details=details))
    await decide_label(uow(store), DecideLabel(epn=code, status="labelled", decided_on=date(2026, 1, 15)))


def coverage(store: FakeStore[FakeFundingRepository]) -> list[tuple[int, int, int, int]]:
    """(year, labelled EPNs, complete EPNs, version) of each coverage announced."""
    found = [CadastreCoverageChanged.model_validate(e.data) for e in store.events("CadastreCoverageChanged")]
    return [(c.year, c.labelled_epns, c.complete_epns, c.coverage_version) for c in found]


async def test_a_new_line_is_recorded_and_announced_with_the_commune_the_register_knows(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await labelled_epn(store)
    report = await record_lines(uow(store), [line()])

    assert (report.created, report.changed, report.unchanged) == (1, 0, 0)
    [event] = store.events("FundingLineRecorded")
    data = FundingLineRecorded.model_validate(event.data)
    assert (data.beneficiary, data.commune, data.funder, data.committed_eur, data.complete) == (
        "epn-ixelles",
        "Ixelles",
        "esf",
        Decimal("42000.00"),
        True,
    )
    assert event.subject == f"funding-line-{data.line_id}"


async def test_the_same_line_again_changes_nothing_and_a_correction_announces_only_what_differs(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await record_lines(uow(store), [line(paid_eur=None)])
    again = await record_lines(uow(store), [line(paid_eur=None)])
    corrected = await record_lines(uow(store), [line(paid_eur=Decimal("30000.5"))])

    assert (again.unchanged, corrected.changed) == (1, 1)
    assert len(store.repo.lines) == 1, "found again by its key, never doubled"
    [change] = store.events("FundingLineChanged")
    data = FundingLineChanged.model_validate(change.data)
    assert ([c.model_dump() for c in data.changes], data.complete) == (
        [{"field": "paid_eur", "old": None, "new": "30000.5"}],
        True,
    )


async def test_a_labelled_epn_with_a_complete_line_counts_for_its_year_and_a_withdrawal_uncounts_it(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await labelled_epn(store)
    await labelled_epn(store, "epn-forest")
    await record_lines(uow(store), [line(cofinancing_pct=None)])  # incomplete: no news for action 36
    await record_lines(uow(store), [line()])  # completed
    await record_lines(uow(store), [line(beneficiary="asbl-lire-ecrire", beneficiary_kind="non-profit")])
    await decide_label(uow(store), DecideLabel(epn="epn-ixelles", status="withdrawn", decided_on=date(2026, 6, 1)))

    assert coverage(store) == [(2026, 2, 1, 1), (2026, 1, 0, 2)]


async def test_each_year_has_its_own_coverage(store: FakeStore[FakeFundingRepository]) -> None:
    await labelled_epn(store)
    await record_lines(uow(store), [line(year=2025), line(year=2026, programme="Appel EPN 2026")])

    assert coverage(store) == [(2025, 1, 1, 1), (2026, 1, 1, 2)]


def csv_file(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode("utf-8")


async def test_an_import_records_its_valid_rows_and_reports_each_refused_one_with_its_line_and_column(
    store: FakeStore[FakeFundingRepository],
) -> None:
    body = csv_file(
        'epn-ixelles,epn,Ixelles,region,,Appel EPN 2026,2026,"12 500,50",12500.5,40 %',
        "epn-forest,epn,Forest,lottery,,Appel EPN 2026,2026,1000,,",
        "epn-forest,epn,Forest,commune,Forest,Subside communal,2026,-5,,",
        "asbl-lire-ecrire,non-profit,,foundation,Fondation Roi Baudouin,Digital for all,2026,8000.001,,",
        "epn-ixelles,epn,Ixelles,region,,Appel EPN 2026,2026,99,,",
        ",,,,,,,,,",
    )
    report = await import_cadastre(uow(store), body, "csv")

    assert (report.created, report.errors) == (
        1,
        [
            {"line": 3, "column": "funder", "reason": "'lottery' is not one of region, esf, federal, cocof, vgc, fwb, commune, foundation, other"},
            {"line": 4, "column": "committed_eur", "reason": "-5 is not an amount from 0 to 10,000,000,000 euros"},
            {"line": 5, "column": "committed_eur", "reason": "8000.001 has more than two decimals (cents)"},
            {"line": 6, "column": None, "reason": "the same funding line as line 2"},
        ],
    )  # fmt: skip
    [stored] = store.repo.lines.values()
    assert (stored.committed_eur, stored.paid_eur, stored.cofinancing_pct) == (
        Decimal("12500.50"),
        Decimal("12500.50"),
        Decimal("40.00"),
    )


async def test_a_file_without_a_required_column_or_not_an_xlsx_is_refused_whole(
    store: FakeStore[FakeFundingRepository],
) -> None:
    with pytest.raises(Invalid, match="committed_eur"):
        await import_cadastre(uow(store), b"beneficiary,beneficiary_kind,funder,programme,year\n", "csv")
    with pytest.raises(Invalid, match="not a readable XLSX"):
        await import_cadastre(uow(store), b"PK\x03\x04 not really a zip", "xlsx")
    assert store.events() == []


async def test_an_export_imported_again_changes_nothing_in_either_format(
    store: FakeStore[FakeFundingRepository],
) -> None:
    await record_lines(
        uow(store),
        [
            line(),
            line(beneficiary="asbl-lire-ecrire", beneficiary_kind="non-profit", funder="foundation",
                 funder_name="=HYPERLINK(\"x\")", paid_eur=None, cofinancing_pct=None),
        ],
    )  # fmt: skip
    exported = await store.repo.funding_lines()
    before = len(store.events())

    formats: tuple[cadastre_files.Format, ...] = ("csv", "xlsx")
    for fmt in formats:
        report = await import_cadastre(uow(store), cadastre_files.write(exported, fmt), fmt)
        assert (report.created, report.changed, report.unchanged, report.errors) == (0, 0, 2, []), fmt

    assert len(store.events()) == before
    book = load_workbook(io.BytesIO(cadastre_files.write(exported, "xlsx")), read_only=True)
    cells = [c.value for row in book.worksheets[0].iter_rows(min_row=2) for c in row]
    assert '\'=HYPERLINK("x")' in cells, "a formula is written as text"


async def test_an_xlsx_share_formatted_as_a_percentage_is_read_as_a_percentage(
    store: FakeStore[FakeFundingRepository],
) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.strip().split(","))
    sheet.append(["epn-ixelles", "epn", "Ixelles", "region", None, "Appel EPN 2026", 2026, 12500.5, 12500.5, 0.4])
    sheet.cell(row=2, column=10).number_format = "0%"
    out = io.BytesIO()
    book.save(out)

    report = await import_cadastre(uow(store), out.getvalue(), "xlsx")

    assert (report.created, report.errors) == (1, [])
    [stored] = store.repo.lines.values()
    assert (stored.committed_eur, stored.cofinancing_pct) == (Decimal("12500.50"), Decimal("40.00"))
