"""What the services accept at the edge: bounded text, counts, decimals and dates, as pydantic
types whose limits also appear in the OpenAPI document.

Why here and not in each router: a limit that is only enforced by PostgreSQL (a NUL character,
an integer beyond int4, a year 9999) is found by a fuzzer as a 500, or worse, stored. Each type
below says its limit once; FastAPI enforces it before a handler runs, and the OpenAPI document
shows it to partners and to the fuzzer (``tests/fuzz``), which then checks that what the
document allows is accepted and what it forbids is refused. ``tests/unit/runtime/test_input_limits.py``
walks every service's document and fails on a string, number or list without a bound.

Dates: "today" is the day in Brussels, not in UTC (from 00:00 to 02:00 in summer the two
differ). What has happened (a delivery, a meeting, a measurement) cannot be after today; what
is planned (a milestone, a deadline) may be, within ``PLANNING_HORIZON_YEARS``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BeforeValidator, Field, Strict, StringConstraints, WithJsonSchema

from .errors import Invalid

BRUSSELS = ZoneInfo("Europe/Brussels")
INT4_MAX = 2_147_483_647
EARLIEST = date(2000, 1, 1)  # before the plan and before any device still in use was bought
PLANNING_HORIZON_YEARS = 10

# C0 controls and DEL, except tab; line breaks are allowed only in multi-line text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SINGLE_LINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
MULTI_LINE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def brussels_today() -> date:
    """The calendar day in Brussels now."""
    return datetime.now(BRUSSELS).date()


def latest_planned() -> date:
    today = brussels_today()
    return today.replace(year=today.year + PLANNING_HORIZON_YEARS, day=min(today.day, 28))


def _multi_line(value: str) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(value):
        raise ValueError("text cannot contain control characters (other than tab and line breaks)")
    return value


Line = Annotated[str, StringConstraints(max_length=200, pattern=SINGLE_LINE_PATTERN)]
"""One line of text: no control characters at all, at most 200 characters. Narrow it with
``Annotated[Line, Field(min_length=…, max_length=…)]`` (the later bound wins)."""

Text = Annotated[str, StringConstraints(max_length=5_000, pattern=MULTI_LINE_PATTERN), AfterValidator(_multi_line)]
"""A person's text that may span lines, at most 5,000 characters: CRLF and CR become LF; other
control characters are refused. Narrow or widen with ``Annotated[Text, Field(max_length=…)]``."""

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$", max_length=64)]
"""An organisation's code, as API keys carry it (``services.runtime.auth.ORGANISATION_CODE``)."""


def _not_a_boolean(value: Any) -> Any:
    # Lax mode reads true as 1: a count is a number (query strings stay accepted: "12").
    if isinstance(value, bool):
        raise ValueError("send a number, not a boolean")
    return value


Count = Annotated[int, Field(ge=0, le=INT4_MAX), BeforeValidator(_not_a_boolean)]
"""A number of things or people: never negative, within PostgreSQL's integer."""

Int4 = Annotated[int, Field(ge=-INT4_MAX - 1, le=INT4_MAX), BeforeValidator(_not_a_boolean)]
"""Any integer PostgreSQL's ``integer`` holds (for path and query parameters that are looked up)."""

Year = Annotated[int, Field(ge=2000, le=2100), BeforeValidator(_not_a_boolean)]

Flag = Annotated[bool, Strict()]
"""true or false, as JSON booleans (not 0, 1, "yes")."""


def _a_number(value: Any) -> Any:
    # FastAPI validates bodies in pydantic's lax Python mode, which would take "12" or "" for a
    # number the document calls ``number``; a partner's client that sends text has a bug to see.
    if isinstance(value, str | bool):
        raise ValueError("send a JSON number, not text or a boolean")
    return value


# Decimals are JSON numbers; NaN and Infinity are refused; the OpenAPI type is ``number``.
Amount = Annotated[
    Decimal,
    BeforeValidator(_a_number),
    Field(ge=0, le=Decimal("1e12"), decimal_places=2, allow_inf_nan=False),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1e12, "multipleOf": 0.01}),
]
"""Euros (or any quantity) with at most two decimals, from 0 to 10^12."""

Euros = Annotated[
    Decimal,
    BeforeValidator(_a_number),
    Field(gt=0, lt=Decimal("1e10"), decimal_places=2, allow_inf_nan=False),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1e10, "multipleOf": 0.01}),
]
"""An amount of euros as ``numeric(12, 2)`` holds it: more than 0, less than 10^10, two decimals."""

PositiveAmount = Annotated[
    Decimal,
    BeforeValidator(_a_number),
    Field(gt=0, le=Decimal("1e12"), decimal_places=2, allow_inf_nan=False),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 1e12, "multipleOf": 0.01}),
]

Percent = Annotated[
    Decimal,
    BeforeValidator(_a_number),
    Field(ge=0, le=100, decimal_places=2, allow_inf_nan=False),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 100, "multipleOf": 0.01}),
]
"""A percentage from 0 to 100 (150 % is refused)."""

WeeklyHours = Annotated[
    Decimal,
    BeforeValidator(_a_number),
    Field(ge=0, le=168, decimal_places=1, allow_inf_nan=False),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 168, "multipleOf": 0.1}),
]
"""Hours a week, to the tenth: from 0 to 168 (the hours a week has)."""

Threshold = Annotated[
    Decimal,
    BeforeValidator(_a_number),
    Field(ge=0, le=10_000, decimal_places=1, allow_inf_nan=False),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 10000, "multipleOf": 0.1}),
]
"""A rule's minimum (hours, devices …), to the tenth, from 0 to 10,000."""

Measure = Annotated[
    Decimal,
    BeforeValidator(_a_number),
    Field(ge=0, le=Decimal("1e12"), decimal_places=4, allow_inf_nan=False),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1e12}),
]
"""An indicator's value: a count, an amount or a share, never negative."""


def _happened(value: date) -> date:
    if value < EARLIEST:
        raise ValueError(f"a date before {EARLIEST.isoformat()} is not plausible")
    if value > brussels_today():
        raise ValueError(f"a date after today ({brussels_today().isoformat()}, Brussels) has not happened yet")
    return value


def _planned(value: date) -> date:
    if value < EARLIEST:
        raise ValueError(f"a date before {EARLIEST.isoformat()} is not plausible")
    if value > latest_planned():
        raise ValueError(f"a date more than {PLANNING_HORIZON_YEARS} years ahead is not plausible")
    return value


def _at_most_today(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a time must carry its offset (e.g. 2026-03-01T09:30:00+01:00)")
    if not EARLIEST.year <= value.year <= brussels_today().year + 1:
        # before converting: 9999-12-31T23:00-12:00 in Brussels is year 10000, an OverflowError
        # pydantic would not turn into a refusal (a 500, found by review)
        raise ValueError(f"a date before {EARLIEST.isoformat()} or after today is not plausible")
    _happened(value.astimezone(BRUSSELS).date())
    return value


def _iso_date(value: Any) -> Any:
    # Lax mode would read 0 as 1970-01-01 (a Unix time): a date is ISO text, 2026-03-01.
    if not isinstance(value, str | date):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


Happened = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_happened)]
"""The day something happened: from 2000-01-01 to today in Brussels."""

Planned = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_planned)]
"""A planned day or a deadline: from 2000-01-01 to ten years ahead."""

HappenedAt = Annotated[datetime, BeforeValidator(_iso_date), AfterValidator(_at_most_today)]
"""A moment that has happened, with its offset."""


def check_happened(value: date, what: str = "the date") -> date:
    """``_happened`` for values that do not come through pydantic (CSV cells, query strings)."""
    try:
        return _happened(value)
    except ValueError as error:
        raise Invalid(f"{what}: {error}") from None


def check_planned(value: date, what: str = "the date") -> date:
    try:
        return _planned(value)
    except ValueError as error:
        raise Invalid(f"{what}: {error}") from None


# --- CSV -------------------------------------------------------------------------------------

CSV_ENCODING_NOTE = "UTF-8, with or without a byte-order mark (any other encoding is refused), at most 20,000 rows"


MAX_CSV_ROWS = 20_000  # a season's inventory (the largest import seen: 10,000 devices) twice over


def decode_csv(body: bytes, required: Iterable[str] = (), max_rows: int = MAX_CSV_ROWS) -> str:
    """A CSV upload as text: UTF-8 with or without BOM, else ``Invalid`` naming the line and the
    byte (a Latin-1 file decoded "with replacement" stores "Soci\ufffdt\ufffd" for good). An
    empty file, or one whose header lacks a ``required`` column, is refused whole (422): no row
    of it could be read; so is one of more than ``max_rows`` rows (one import is one transaction:
    a larger file is sent in parts)."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        line = body.count(b"\n", 0, error.start) + 1
        raise Invalid(
            f"line {line}: the file is not UTF-8 (byte 0x{body[error.start]:02x} at offset {error.start}); "
            "save it as 'CSV UTF-8' and send it again"
        ) from None
    bad = _CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise Invalid(f"line {line}: control character U+{ord(bad.group()):04X} is not allowed in a CSV")
    if not text.strip():
        raise Invalid("the file is empty: a header line and at least one row are expected")
    # Line breaks as LF (a CR alone ended a row in old Mac files and broke Python's csv reader),
    # then the whole file read once, so that a malformed line (an oversized cell …) is this
    # refusal with its line, not an error half-way through the import.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, [])
        for rows, _ in enumerate(reader, start=1):
            if rows > max_rows:
                raise Invalid(f"the file has more than {max_rows:,} rows: send it in parts")
    except csv.Error as error:
        raise Invalid(f"line {reader.line_num}: not a CSV line ({error})") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise Invalid(f"line 1: missing columns: {', '.join(missing)}")
    return text


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A cell that a spreadsheet will show, never run: text starting with ``= + - @`` (or a tab or
    CR) gets a leading apostrophe (OWASP "CSV injection"). Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def spreadsheet_text(value: str) -> str:
    """The text of a cell ``spreadsheet_safe`` wrote: the apostrophe it added is taken off, so an
    export imported back changes nothing."""
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_START) else value


def write_csv(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, line_end: str = "\r\n", delimiter: str = ","
) -> str:
    """A CSV export whose text cells are all ``spreadsheet_safe`` (CRLF line ends, as RFC 4180,
    unless a format already promised LF)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end, delimiter=delimiter)
    writer.writerow(header)
    for row in rows:
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return out.getvalue()


__all__ = [
    "BRUSSELS",
    "CSV_ENCODING_NOTE",
    "INT4_MAX",
    "Amount",
    "Code",
    "Count",
    "Euros",
    "Flag",
    "Happened",
    "HappenedAt",
    "Int4",
    "Line",
    "Measure",
    "Percent",
    "Planned",
    "PositiveAmount",
    "Text",
    "Threshold",
    "WeeklyHours",
    "Year",
    "brussels_today",
    "check_happened",
    "check_planned",
    "decode_csv",
    "spreadsheet_safe",
    "spreadsheet_text",
    "write_csv",
]
