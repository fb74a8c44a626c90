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

import re
from decimal import Decimal

from passerelle_contracts.common import FUNDER_KINDS, BeneficiaryKind
from pydantic import TypeAdapter, ValidationError

from services.runtime.inputs import MAX_CSV_ROWS, Code, Line

from . import spreadsheets
from .domain import FundingLine

Format = spreadsheets.Format
XLSX_MEDIA = spreadsheets.XLSX_MEDIA
Cell = spreadsheets.Cell
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


class RowError(ValueError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column, self.reason = column, reason


Row = dict[str, Cell]


# --- reading ------------------------------------------------------------------------------------


def read(body: bytes, fmt: Format) -> list[tuple[int, Row]]:
    """(line, cells by column) of each row that has a cell; ``Invalid`` for a file that cannot be
    read at all (not UTF-8, not an XLSX, a required column missing, too many rows)."""
    header, rows = spreadsheets.table(body, fmt, REQUIRED, MAX_ROWS)
    return [(line, spreadsheets.by_column(header, cells, COLUMNS)) for line, cells in rows]


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
    value = spreadsheets.number(text)
    if value is None:
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
    return spreadsheets.write(COLUMNS, [_cells(line) for line in lines], fmt, "cadastre")


media_type = spreadsheets.media_type
