"""What the actions service accepts, said once: the HTTP API's models (``api/``) and the CSV
import (``handlers/csv_io.py``) validate with the same types, so a cell the API would refuse
is a row error, not a value stored (or a 500 half-way through a file).

Built on ``services.runtime.inputs`` (bounded text without control characters, codes,
decimals without NaN or Infinity, plausible dates in Brussels days).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, get_args

from fastapi import Path
from passerelle_contracts.common import Public
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from services.runtime.inputs import (
    EARLIEST,
    MULTI_LINE_PATTERN,
    SINGLE_LINE_PATTERN,
    Code,
    Line,
    PositiveAmount,
    Text,
    latest_planned,
)

ACTIONS = 66  # the plan's actions are numbered 1 to 66
CHANTIERS = 17
PUBLICS: tuple[str, ...] = get_args(Public)
MAX_ORGANISATIONS = 50  # partners of an action, attendees of a meeting: the plan names 25 organisations

ActionNumber = Annotated[int, Field(ge=1, le=ACTIONS)]
ActionInPath = Annotated[int, Path(ge=1, le=ACTIONS, description="The action's number in the plan (1 to 66)")]
IndicatorCode = Annotated[Code, Field(description="An indicator's code, e.g. a46-devices-pupils")]
IndicatorInPath = Annotated[Code, Path(description="An indicator's code, e.g. a46-devices-pupils")]

Title = Annotated[Line, Field(min_length=3)]
OptionalTitle = Line
Unit = Annotated[Line, Field(min_length=1, max_length=50, description='"devices", "EPN", "meetings", "EUR" …')]
Period = Annotated[
    Line, Field(max_length=50, description='"yearly" (a count that restarts each year) or e.g. "2021-2024"')
]
Source = Annotated[Line, Field(max_length=500, description="Where the figure comes from")]
ExternalId = Annotated[Line, Field(min_length=1, max_length=200, description="Makes a repeated submission harmless")]
StatusNote = Annotated[Text, Field(max_length=2_000)]
ActionText = Text
ReportPeriod = Annotated[
    str,
    Path(pattern=r"^[0-9]{4}(-[A-Za-z0-9]{1,8})?$", max_length=13, description="e.g. 2024, 2024-S1, 2024-Q3"),
]
Weight = Annotated[
    PositiveAmount,
    Field(le=100),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 100, "multipleOf": 0.01}),
]
"""An action's roll-up weight: more than 0, at most 100, two decimals."""


# --- meetings --------------------------------------------------------------------------------


def _iso_moment(value: Any) -> Any:
    # Lax mode would read 1741768200 as a Unix time: a moment is ISO text with its offset.
    if not isinstance(value, str | datetime):
        raise ValueError("a moment is written as ISO 8601 text with its offset, e.g. 2026-03-12T09:30:00+01:00")
    return value


def _plausible(value: datetime) -> datetime:
    # Checked on the year before converting: 9999-12-31T23:00-12:00 is year 10000 in UTC (an
    # OverflowError, a 500, not a refusal).
    if not EARLIEST.year <= value.year <= latest_planned().year:
        raise ValueError(f"a moment before {EARLIEST.year} or more than ten years ahead is not plausible")
    if value.astimezone(UTC).date() > latest_planned():
        raise ValueError("a moment more than ten years ahead is not plausible")
    return value


def _ahead(value: datetime) -> datetime:
    if value <= datetime.now(UTC):
        raise ValueError("this moment has passed: a meeting is scheduled ahead")
    return value


MeetingTime = Annotated[AwareDatetime, BeforeValidator(_iso_moment), AfterValidator(_plausible)]
"""A moment with its offset, from 2000 to ten years ahead."""

Upcoming = Annotated[MeetingTime, AfterValidator(_ahead), Field(description="With its offset, in the future")]
"""A moment ahead of now, with its offset: when a meeting is to start."""

Location = Annotated[
    str,
    StringConstraints(min_length=2, max_length=300, pattern=SINGLE_LINE_PATTERN),
    Field(description="A room's address, or 'online' (the link is sent by the Coordination)"),
]
"""Where a meeting takes place, on one line (the contract's ``location``: at most 300 characters)."""

Minutes = Annotated[Text, Field(max_length=10_000, description="The summary of the meeting (no personal data)")]
CancellationReason = Annotated[Text, Field(max_length=1_000)]


# By the type's id (Annotated types are not all hashable); each entry keeps its type alive, so an
# id is never reused for another type.
_ADAPTERS: dict[int, tuple[Any, TypeAdapter[Any]]] = {}


def check(kind: Any, value: Any, what: str) -> Any:
    """``value`` validated as ``kind`` (one of the types above), or ``ValueError`` with a reason
    for a person that names ``what`` (a CSV column)."""
    if id(kind) not in _ADAPTERS:
        _ADAPTERS[id(kind)] = (kind, TypeAdapter(kind))
    adapter = _ADAPTERS[id(kind)][1]
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        raise ValueError(f"{what} {_reason(error.errors()[0], value)}") from None


def _reason(problem: Any, value: Any) -> str:
    """A pydantic error in words (its own say "Input should be …" and show regular expressions)."""
    ctx = problem.get("ctx", {})
    kind = problem["type"]
    if kind == "finite_number":
        return f"must be a number, not {value}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        words = {
            "greater_than_equal": "at least",
            "greater_than": "greater than",
            "less_than_equal": "at most",
            "less_than": "less than",
        }[kind]
        bound = next(iter(ctx.values()))
        if isinstance(bound, str) and bound.startswith("Decimal("):  # pydantic shows Decimal bounds as their repr
            bound = Decimal(bound.removeprefix("Decimal('").removesuffix("')"))
        shown = f"{Decimal(bound):,f}" if isinstance(bound, Decimal | int) else str(bound)
        return f"must be {words} {shown}, not {value}"
    if kind == "decimal_max_places":
        return f"has at most {ctx['decimal_places']} decimals, not {value}"
    if kind == "string_too_long":
        return f"has at most {ctx['max_length']} characters, not {len(value)}"
    if kind == "string_too_short":
        return f"needs at least {ctx['min_length']} characters"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") in (SINGLE_LINE_PATTERN, MULTI_LINE_PATTERN):
            return "cannot contain control characters"
        return f"must be a code (lower-case letters, digits and hyphens, at most 64), not {value!r}"
    return str(problem["msg"])
