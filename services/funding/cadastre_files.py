"""The funding cadastre as a spreadsheet, CSV or XLSX, in one format both ways. Pure: bytes in,
lines and a report per bad row (its line, column and reason) out; lines in, bytes out.

CSV comes in as UTF-8 (``services.runtime.inputs.decode_csv``); XLSX is read with openpyxl in
read-only mode (values, not formulas: a cell's last computed value), its first sheet only, at most
``MAX_ROWS`` rows. Every cell is bounded as the JSON API bounds the same field, so a row the
database could not hold is a row error, never a failure halfway through a file.

Amounts are written by people in spreadsheets: ``12 500,50`` and ``12500.50`` are both read
(spaces, no-break spaces and a decimal comma are accepted when no dot is there); a co-financing
share is a number from 0 to 100, and ``40 %`` is read as 40. In XLSX, a cell formatted as a
percentage holds 0.4 for 40 %: it is read as 40. The export writes amounts as numbers and text
cells spreadsheet-safe (a leading ``= + - @`` is written as text), which the import takes back.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from passerelle_contracts.common import FUNDER_KINDS, BeneficiaryKind
from pydantic import TypeAdapter, ValidationError

from services.runtime.errors import Invalid
from services.runtime.inputs import MAX_CSV_ROWS, Code, Line, decode_csv, spreadsheet_safe, spreadsheet_text, write_csv

from .domain import FundingLine

Format = Literal["csv", "xlsx"]
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = (
    "beneficiary",
    "beneficiary_kind",
    "commune",
    "funder",
    "funder_name",
    "programme",
    "year",
    "committed_eur",
    "paid_eur",
    "cofinancing_pct",
    "complete",
)
COLUMNS_NOTE = "UTF-8, a header line naming the columns " + ", ".join(COLUMNS)
REQUIRED = ("beneficiary", "beneficiary_kind", "funder", "programme", "year", "committed_eur")
EXPORT_ONLY = ("complete",)  # derived: an import ignores it
MAX_ROWS = MAX_CSV_ROWS
BENEFICIARY_KINDS: tuple[BeneficiaryKind, ...] = ("epn", "non-profit", "public-body")
MAX_EUROS = Decimal("1e10")  # numeric(12, 2)

_CODE = TypeAdapter(Code)
_LINE = TypeAdapter(Line)
_SPACES = re.compile(r"[\s\u00a0\u202f]")


class RowError(ValueError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column, self.reason = column, reason


@dataclass(frozen=True)
class Cell:
    """A cell as read: its text (None when empty), and whether a spreadsheet showed it as a percentage."""

    text: str | None
    percent: bool = False


Row = dict[str, Cell]


# --- reading ------------------------------------------------------------------------------------


def read(body: bytes, fmt: Format) -> list[tuple[int, Row]]:
    """(line, cells by column) of each row that has a cell; ``Invalid`` for a file that cannot be
    read at all (not UTF-8, not an XLSX, a required column missing, too many rows)."""
    rows = _csv_rows(body) if fmt == "csv" else _xlsx_rows(body)
    header = next(rows, None)
    if header is None:
        raise Invalid("the file is empty: a header line and at least one row are expected")
    names = [(c.text or "").strip().lower() for c in header[1]]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise Invalid(f"the header lacks the column(s) {', '.join(missing)}; expected: {', '.join(COLUMNS)}")
    found: list[tuple[int, Row]] = []
    for line, cells in rows:
        if len(found) >= MAX_ROWS:
            raise Invalid(f"more than {MAX_ROWS:,} rows: send the cadastre in parts (one import is one transaction)")
        row = {name: cell for name, cell in zip(names, cells, strict=False) if name in COLUMNS}
        if any(cell.text for cell in row.values()):
            found.append((line, row))
    return found


def _csv_rows(body: bytes) -> Iterator[tuple[int, list[Cell]]]:
    text = decode_csv(body, REQUIRED, max_rows=MAX_ROWS)
    for line, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
        yield line, [Cell(spreadsheet_text(c.strip()) if c.strip() else None) for c in cells]


def _xlsx_rows(body: bytes) -> Iterator[tuple[int, list[Cell]]]:
    from openpyxl import load_workbook  # imported here: only XLSX imports pay for it

    try:
        book = load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise Invalid(f"not a readable XLSX workbook ({type(error).__name__}); save it as .xlsx, or send CSV") from None
    try:
        sheet = book.worksheets[0]
        for line, cells in enumerate(sheet.iter_rows(max_col=len(COLUMNS) + 10), start=1):
            yield line, [_xlsx_cell(cell) for cell in cells]
    finally:
        book.close()


def _xlsx_cell(cell: Any) -> Cell:
    value = getattr(cell, "value", None)
    percent = "%" in (getattr(cell, "number_format", None) or "")
    if value is None:
        return Cell(None)
    if isinstance(value, bool):
        return Cell("true" if value else "false")
    if isinstance(value, datetime):
        return Cell(value.date().isoformat())
    if isinstance(value, date):
        return Cell(value.isoformat())
    if isinstance(value, float):
        return Cell(repr(value), percent)  # repr: the shortest text that reads back as the same float
    if isinstance(value, int | Decimal):
        return Cell(str(value), percent)
    text = str(value).strip()
    return Cell(spreadsheet_text(text) if text else None)


def parse(line: int, row: Row) -> FundingLine:
    """A row as a line of the cadastre; ``RowError`` names the column at fault."""

    def text(column: str) -> str | None:
        cell = row.get(column)
        return cell.text if cell is not None else None

    def required(column: str) -> str:
        value = text(column)
        if value is None:
            raise RowError(column, "is empty")
        return value

    beneficiary = _valid(_CODE, "beneficiary", required("beneficiary").lower())
    kind = required("beneficiary_kind").lower()
    if kind not in BENEFICIARY_KINDS:
        raise RowError("beneficiary_kind", f"{kind!r} is not one of {', '.join(BENEFICIARY_KINDS)}")
    funder = required("funder").lower()
    if funder not in FUNDER_KINDS:
        raise RowError("funder", f"{funder!r} is not one of {', '.join(FUNDER_KINDS)}")
    programme = _valid(_LINE, "programme", required("programme"))
    if len(programme) < 2:
        raise RowError("programme", "needs at least 2 characters")
    funder_name = _valid(_LINE, "funder_name", text("funder_name") or "")
    commune = text("commune")
    year_text = required("year")
    if not re.fullmatch(r"\d{4}(\.0)?", year_text) or not 2000 <= int(float(year_text)) <= 2100:
        raise RowError("year", f"{year_text!r} is not a year from 2000 to 2100")
    committed = _amount("committed_eur", required("committed_eur"))
    if committed == 0:
        raise RowError("committed_eur", "must be more than 0")
    paid_text = text("paid_eur")
    share = row.get("cofinancing_pct")
    return FundingLine(
        beneficiary=beneficiary,
        beneficiary_kind=kind,  # checked against BENEFICIARY_KINDS above
        funder=funder,  # checked against FUNDER_KINDS above
        funder_name=funder_name,
        programme=programme,
        year=int(float(year_text)),
        committed_eur=committed,
        commune=_valid(_LINE, "commune", commune) if commune else None,
        paid_eur=_amount("paid_eur", paid_text) if paid_text is not None else None,
        cofinancing_pct=_share(share) if share is not None and share.text is not None else None,
    )


def _valid(adapter: TypeAdapter[str], column: str, value: str) -> str:
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        raise RowError(column, error.errors()[0]["msg"]) from None


def _number(column: str, text: str) -> Decimal:
    plain = _SPACES.sub("", text)
    if "," in plain and "." not in plain:
        plain = plain.replace(",", ".")
    try:
        value = Decimal(plain)
    except InvalidOperation:
        raise RowError(column, f"{text!r} is not a number") from None
    if not value.is_finite():
        raise RowError(column, f"{text!r} is not a number")
    return value


def _amount(column: str, text: str) -> Decimal:
    value = _number(column, text)
    if value < 0 or value >= MAX_EUROS:
        raise RowError(column, f"{text} is not an amount from 0 to 10,000,000,000 euros")
    if value != value.quantize(Decimal("0.01")):
        raise RowError(column, f"{text} has more than two decimals (cents)")
    return value.quantize(Decimal("0.01"))


def _share(cell: Cell) -> Decimal:
    assert cell.text is not None
    text = cell.text.rstrip().removesuffix("%")
    value = _number("cofinancing_pct", text)
    if cell.percent:
        value *= 100  # a spreadsheet's 40 % is the number 0.4
    if not 0 <= value <= 100:
        raise RowError("cofinancing_pct", f"{cell.text} is not a share from 0 to 100")
    if value != value.quantize(Decimal("0.01")):
        raise RowError("cofinancing_pct", f"{cell.text} has more than two decimals")
    return value.quantize(Decimal("0.01"))


# --- writing ------------------------------------------------------------------------------------


def _cells(line: FundingLine) -> list[object]:
    return [
        line.beneficiary,
        line.beneficiary_kind,
        line.commune,
        line.funder,
        line.funder_name,
        line.programme,
        line.year,
        line.committed_eur,
        line.paid_eur,
        line.cofinancing_pct,
        "true" if line.complete else "false",
    ]


def write(lines: list[FundingLine], fmt: Format) -> bytes:
    if fmt == "csv":
        rows = [["" if c is None else c for c in _cells(line)] for line in lines]
        return write_csv(COLUMNS, rows).encode("utf-8")
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("cadastre")
    sheet.append(list(COLUMNS))
    for line in lines:
        sheet.append([float(c) if isinstance(c, Decimal) else spreadsheet_safe(c) for c in _cells(line)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def media_type(fmt: Format) -> str:
    return "text/csv; charset=utf-8" if fmt == "csv" else XLSX_MEDIA
