"""Calls for projects as a spreadsheet (CSV or XLSX), one format both ways, and the one model of a
call's terms that the JSON API and the spreadsheets both check (``CallIn``). Pure.

One row per call: ``CALL_COLUMNS``. ``eligible_kinds`` is a list separated by ``;`` (``epn;non-profit``);
``closes_at`` an instant with its offset (``2026-03-31T23:59:59+02:00``: the deadline in Brussels
time); amounts as in the cadastre (``12 500,50`` or ``12500.50``). A row is checked by ``CallIn``
as the API checks a body, so a call imported and a call posted obey the same limits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Any

from passerelle_contracts.common import BeneficiaryKind, CallKind, CallManagement, CostOption, FunderKind, Public
from pydantic import AwareDatetime, BaseModel, Field, ValidationError, model_validator

from services.runtime.inputs import MAX_CSV_ROWS, Euros, Line, Percent, Planned

from . import spreadsheets
from .domain.calls import Call

CallCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,62}[A-Za-z0-9]$", max_length=64)]


class CallIn(BaseModel):
    """A call's terms, as a request body or a spreadsheet row carries them."""

    call_code: CallCode
    management: CallManagement
    call_kind: CallKind
    funder: FunderKind
    programme: Annotated[Line, Field(min_length=2)]
    title_fr: Annotated[Line, Field(min_length=2)]
    title_nl: Annotated[Line, Field(min_length=2)]
    opens_on: Planned
    closes_at: AwareDatetime = Field(description="The deadline, with its offset (e.g. 2026-03-31T23:59:59+02:00)")
    budget_eur: Euros | None = None
    cofinancing_pct: Percent | None = None
    cost_option: CostOption = "real-costs"
    action_number: Annotated[int, Field(ge=1, le=66)] | None = None
    public: Public | None = None
    eligible_kinds: Annotated[list[BeneficiaryKind], Field(max_length=3)] = []

    @model_validator(mode="after")
    def a_deadline_in_the_plan_s_years(self) -> CallIn:
        if not 2000 <= self.closes_at.year <= 2100:
            raise ValueError("closes_at must fall between 2000 and 2100")
        return self

    def call(self) -> Call:
        return Call(**(self.model_dump() | {"eligible_kinds": tuple(self.eligible_kinds)}))


CALL_COLUMNS = tuple(CallIn.model_fields)
REQUIRED = (
    "call_code",
    "management",
    "call_kind",
    "funder",
    "programme",
    "title_fr",
    "title_nl",
    "opens_on",
    "closes_at",
)
COLUMNS_NOTE = "a header line naming the columns " + ", ".join(CALL_COLUMNS) + " (eligible_kinds separated by ;)"
MAX_ROWS = MAX_CSV_ROWS
NUMBERS = ("budget_eur", "cofinancing_pct")


class RowError(ValueError):
    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column, self.reason = column, reason


def parse(body: bytes, fmt: spreadsheets.Format) -> tuple[list[tuple[int, Call]], list[dict[str, Any]]]:
    """The calls of a spreadsheet, and its refused rows (line, column, reason)."""
    header, rows = spreadsheets.table(body, fmt, REQUIRED, MAX_ROWS)
    calls: list[tuple[int, Call]] = []
    errors: list[dict[str, Any]] = []
    for line, cells in rows:
        try:
            calls.append((line, _row(spreadsheets.by_column(header, cells, CALL_COLUMNS))))
        except RowError as error:
            errors.append({"line": line, "column": error.column, "reason": error.reason})
    return calls, errors


def _row(cells: dict[str, spreadsheets.Cell]) -> Call:
    values: dict[str, Any] = {name: cell.text for name, cell in cells.items() if cell.text is not None}
    for name in NUMBERS:
        if name in values:
            values[name] = _number(name, values[name], cells[name].percent)
    if "action_number" in values:
        if not re.fullmatch(r"\d{1,2}", values["action_number"]):
            raise RowError("action_number", f"{values['action_number'][:20]!r} is not an action number (1 to 66)")
        values["action_number"] = int(values["action_number"])
    values["eligible_kinds"] = [k.strip() for k in values.get("eligible_kinds", "").split(";") if k.strip()]
    try:
        return CallIn.model_validate(values).call()
    except ValidationError as error:
        first = error.errors()[0]
        column = str(first["loc"][0]) if first["loc"] else None
        raise RowError(column, first["msg"]) from None


def _number(column: str, text: str, percent: bool) -> Decimal:
    value = spreadsheets.number(text.rstrip().removesuffix("%"))
    if value is None:
        raise RowError(column, f"{text[:20]!r} is not a number")
    return value * 100 if percent and column == "cofinancing_pct" else value


def write(calls: Iterable[Call], fmt: spreadsheets.Format) -> bytes:
    rows = [
        [c.call_code, c.management, c.call_kind, c.funder, c.programme, c.title_fr, c.title_nl, c.opens_on.isoformat(),
         c.closes_at.isoformat(), c.budget_eur, c.cofinancing_pct, c.cost_option, c.action_number, c.public,
         ";".join(c.eligible_kinds)]
        for c in calls
    ]  # fmt: skip
    return spreadsheets.write(CALL_COLUMNS, rows, fmt, "calls")
