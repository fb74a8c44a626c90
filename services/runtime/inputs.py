"""What the services accept at the edge: bounded text, counts, decimals and dates, as pydantic
types whose limits also appear in the OpenAPI document.

Why here and not in each router: a limit that is only enforced by PostgreSQL (a NUL character,
an integer beyond int4, a year 9999) is found by a fuzzer as a 500, or worse, stored. Each type
below says its limit once; FastAPI enforces it before a handler runs, and the OpenAPI document
shows it to partners and to the fuzzer (``tests/fuzz``), which then checks that what the
document allows is accepted and what it forbids is refused. ``tests/unit/runtime/test_limits.py``
walks every service's document and fails on a string, number or list without a bound.

Dates: "today" is the day in Brussels, not in UTC (from 00:00 to 02:00 in summer the two
differ). What has happened (a delivery, a meeting, a measurement) cannot be after today; what
is planned (a milestone, a deadline) may be, within ``PLANNING_HORIZON_YEARS``.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema

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


def SingleLine(max_length: int = 200, min_length: int = 0) -> Any:  # noqa: N802 - a type, used like one
    """One line of text: no control characters at all, at most ``max_length`` characters."""
    return Annotated[
        str, StringConstraints(min_length=min_length, max_length=max_length, pattern=SINGLE_LINE_PATTERN)
    ]


def MultiLine(max_length: int = 5_000) -> Any:  # noqa: N802
    """A person's text that may span lines: CRLF and CR become LF; other control characters are
    refused."""
    return Annotated[
        str,
        StringConstraints(max_length=max_length, pattern=MULTI_LINE_PATTERN),
        AfterValidator(_multi_line),
    ]


Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$", max_length=64)]
"""An organisation's code, as API keys carry it (``services.runtime.auth.ORGANISATION_CODE``)."""

Count = Annotated[int, Field(ge=0, le=INT4_MAX)]
"""A number of things or people: never negative, within PostgreSQL's integer."""

Int4 = Annotated[int, Field(ge=-INT4_MAX - 1, le=INT4_MAX)]


def Amount(*, ge: float = 0, le: float = 1e12, decimal_places: int = 2, gt: float | None = None) -> Any:  # noqa: N802
    """A decimal sent as a JSON number (or a numeric string), bounded; NaN and Infinity refused.
    The OpenAPI type is ``number`` so that generated clients send numbers."""
    bounds: dict[str, Any] = {"le": Decimal(str(le)), "decimal_places": decimal_places, "allow_inf_nan": False}
    schema: dict[str, Any] = {"type": "number", "maximum": le}
    if gt is not None:
        bounds["gt"] = Decimal(str(gt))
        schema["exclusiveMinimum"] = gt
    else:
        bounds["ge"] = Decimal(str(ge))
        schema["minimum"] = ge
    return Annotated[Decimal, Field(**bounds), WithJsonSchema(schema)]


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
    _happened(value.astimezone(BRUSSELS).date())
    return value


Happened = Annotated[date, AfterValidator(_happened)]
"""The day something happened: from 2000-01-01 to today in Brussels."""

Planned = Annotated[date, AfterValidator(_planned)]
"""A planned day or a deadline: from 2000-01-01 to ten years ahead."""

HappenedAt = Annotated[datetime, AfterValidator(_at_most_today)]
"""A moment that has happened, with its offset."""

Year = Annotated[int, Field(ge=2000, le=2100)]


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

CSV_ENCODING_NOTE = "UTF-8, with or without a byte-order mark; any other encoding is refused"


def decode_csv(body: bytes) -> str:
    """A CSV upload as text: UTF-8 with or without BOM, else ``Invalid`` naming the line and the
    byte (a Latin-1 file decoded "with replacement" stores "Soci�t�" for good)."""
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
    return text


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A cell that a spreadsheet will show, never run: text starting with ``= + - @`` (or a tab or
    CR) gets a leading apostrophe (OWASP "CSV injection"). Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(header: list[str], rows: list[list[object]] | list[tuple[object, ...]]) -> str:
    """A CSV export whose text cells are all ``spreadsheet_safe``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
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
    "Happened",
    "HappenedAt",
    "Int4",
    "MultiLine",
    "Planned",
    "SingleLine",
    "Year",
    "brussels_today",
    "check_happened",
    "check_planned",
    "decode_csv",
    "spreadsheet_safe",
    "write_csv",
]
