"""The funding service's spreadsheets, CSV or XLSX, read and written one way for every register
that has them (the cadastre, activity returns, calls). Pure: bytes in, a header and rows of cells
out; a header and rows in, bytes out.

CSV comes in as UTF-8 (``services.runtime.inputs.decode_csv``: another encoding is refused with
its line). XLSX is read with openpyxl in read-only mode: values, not formulas (a cell's last
computed value), the first sheet only, at most ``max_rows`` rows, a cell's number format kept so
a percentage formatted as such (0.4 shown as 40 %) can be read as 40. Text cells written are
spreadsheet-safe (a leading ``= + - @`` becomes text), which reading takes back.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from services.runtime.errors import Invalid
from services.runtime.inputs import decode_csv, spreadsheet_safe, spreadsheet_text, write_csv

Format = Literal["csv", "xlsx"]
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA = {"text/csv": "csv", "application/csv": "csv", XLSX_MEDIA: "xlsx"}


@dataclass(frozen=True)
class Cell:
    """A cell as read: its text (None when empty), and whether a spreadsheet showed it as a percentage."""

    text: str | None
    percent: bool = False


def format_of(content_type: str) -> Format:
    """The format a request's Content-Type names; ``Invalid`` for any other."""
    media = content_type.split(";")[0].strip().lower()
    if media not in MEDIA:
        raise Invalid(f"send the file as text/csv or {XLSX_MEDIA}, not {media or 'no Content-Type'}")
    return "csv" if MEDIA[media] == "csv" else "xlsx"


def request_body(max_bytes: int) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a route that takes a spreadsheet as its raw body (read from
    the request, not parsed by FastAPI): CSV or XLSX, at most ``max_bytes`` (the route's
    ``max_body_size`` refuses more, with 413)."""
    return {
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string", "maxLength": max_bytes}},
                XLSX_MEDIA: {"schema": {"type": "string", "format": "binary", "maxLength": max_bytes}},
            },
            "required": True,
        },
    }


def media_type(fmt: Format) -> str:
    return "text/csv; charset=utf-8" if fmt == "csv" else XLSX_MEDIA


def table(
    body: bytes, fmt: Format, required: Sequence[str], max_rows: int
) -> tuple[list[str], list[tuple[int, list[Cell]]]]:
    """The header (lower-case names) and each row that has a cell, with its line; ``Invalid`` for a
    file that cannot be read at all (not UTF-8, not an XLSX, a required column missing, more than
    ``max_rows`` rows)."""
    lines = _csv(body, max_rows) if fmt == "csv" else _xlsx(body)
    first = next(lines, None)
    if first is None:
        raise Invalid("the file is empty: a header line and at least one row are expected")
    header = [(c.text or "").strip().lower() for c in first[1]]
    missing = [c for c in required if c not in header]
    if missing:
        raise Invalid(f"line 1: missing column(s) {', '.join(missing)}")
    rows: list[tuple[int, list[Cell]]] = []
    for line, cells in lines:
        if not any(c.text for c in cells):
            continue
        if len(rows) >= max_rows:
            raise Invalid(f"more than {max_rows:,} rows: send the file in parts (one import is one transaction)")
        rows.append((line, cells))
    return header, rows


def by_column(header: Sequence[str], cells: Sequence[Cell], columns: Sequence[str]) -> dict[str, Cell]:
    """A row's cells by column name, of the ``columns`` the format knows (others are ignored)."""
    return {name: cell for name, cell in zip(header, cells, strict=False) if name in columns}


_SPACES = re.compile(r"[\s\u00a0\u202f]")


def number(text: str) -> Decimal | None:
    """A number as people write it in a spreadsheet: ``12 500,50`` or ``12500.50`` (spaces and
    no-break spaces as thousands separators; a decimal comma when there is no dot); None if it is
    not a finite number."""
    plain = _SPACES.sub("", text)
    if "," in plain and "." not in plain:
        plain = plain.replace(",", ".")
    try:
        value = Decimal(plain)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _csv(body: bytes, max_rows: int) -> Iterator[tuple[int, list[Cell]]]:
    text = decode_csv(body, max_rows=max_rows)
    for line, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
        yield line, [Cell(spreadsheet_text(c.strip()) if c.strip() else None) for c in cells]


def _xlsx(body: bytes) -> Iterator[tuple[int, list[Cell]]]:
    from openpyxl import load_workbook  # imported here: only XLSX files pay for it

    try:
        book = load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise Invalid(f"not a readable XLSX workbook ({type(error).__name__}); save it as .xlsx, or send CSV") from None
    try:
        sheet = book.worksheets[0]
        for line, cells in enumerate(sheet.iter_rows(max_col=200), start=1):
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
        return Cell(value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat())
    if isinstance(value, date):
        return Cell(value.isoformat())
    if isinstance(value, float):
        text = repr(value)  # the shortest text that reads back as the same float
        return Cell(text[:-2] if text.endswith(".0") else text, percent)
    if isinstance(value, int | Decimal):
        return Cell(str(value), percent)
    text = str(value).strip()
    return Cell(spreadsheet_text(text) if text else None)


def write(header: Sequence[str], rows: Sequence[Sequence[object]], fmt: Format, sheet: str) -> bytes:
    """A spreadsheet of ``rows`` under ``header``: numbers stay numbers, text cells spreadsheet-safe."""
    if fmt == "csv":
        return write_csv(header, [["" if c is None else c for c in row] for row in rows]).encode("utf-8")
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    out_sheet = book.create_sheet(sheet)
    out_sheet.append(list(header))
    for row in rows:
        out_sheet.append([float(c) if isinstance(c, Decimal) else spreadsheet_safe(c) for c in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
