"""CSV export and import of actions, indicators and measurements, in one format both ways.

Import is idempotent: actions are matched by number, indicators by code, measurements by
indicator and ``external_id``. Every row is read first, each cell against the limits the API
applies (``services/actions/inputs.py``: no NaN or Infinity, no negative figure, no date after
today, bounded text): a cell that fails is its row's error, found before anything is applied.
Then each valid row is applied on its own (through the same use cases as the API, so the same
rules and events apply, each row in its own transaction) and reported as created, updated,
unchanged or error, with the line, the column and the reason.

Exports are written by ``services.runtime.inputs.write_csv``, spreadsheet-safe: a text cell that
starts with = + - @ gets a leading apostrophe, which the import takes off again
(``spreadsheet_text``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from passerelle_contracts.common import ACTION_STATUSES, TRAFFIC_LIGHTS

from services.runtime.errors import PasserelleError
from services.runtime.inputs import Code, Line, Measure, Percent, check_happened, spreadsheet_text, write_csv

from .. import events
from ..inputs import (
    ACTIONS,
    CHANTIERS,
    MAX_ORGANISATIONS,
    PUBLICS,
    ActionText,
    ExternalId,
    Period,
    Source,
    StatusNote,
    Title,
    Unit,
    Weight,
    check,
)
from ..sql import ActionsRepository
from .actions import ChangeDetails, ChangeStatus, UpdateProgress, change_details, change_status, update_progress
from .aggregate import Uow, record
from .indicators import DefineIndicator, RecordMeasurement, define_indicator, record_measurement

LIST_SEPARATOR = ";"
COLUMNS = {
    "actions": [
        "number",
        "chantier",
        "title_fr",
        "title_nl",
        "lead",
        "partners",
        "publics",
        "status",
        "traffic_light",
        "status_note",
        "progress",
        "progress_mode",
        "weight",
        "text_fr",
    ],
    "indicators": ["code", "action", "name_fr", "name_nl", "unit", "baseline", "target", "period"],
    "measurements": ["external_id", "indicator", "value", "measured_on", "source"],
}
KINDS = tuple(COLUMNS)
OPTIONAL = {"actions": ("text_fr", "title_nl", "status_note", "traffic_light", "progress_mode", "weight", "publics")}


class RowError(ValueError):
    """A cell that cannot be read, or a row that cannot be applied: reported with its column."""

    def __init__(self, column: str | None, message: str) -> None:
        super().__init__(message)
        self.column = column


@dataclass
class ImportReport:
    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.errors,
        }


# --- export -----------------------------------------------------------------------------------


def _shown(value: Any) -> Any:
    """A value as the CSV shows it (``write_csv`` then makes its text spreadsheet-safe): numbers
    stay numbers, lists are joined, days are ISO dates."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return LIST_SEPARATOR.join(str(v) for v in value)
    if isinstance(value, Decimal):
        return _plain(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _plain(value: Decimal) -> Decimal:
    """A number without an exponent or trailing zeros (10, not 1E+1 or 10.00; 0, not 0E+999999999)."""
    return Decimal(format(value.normalize(), "f"))


async def export_csv(repo: ActionsRepository, kind: str) -> str:
    """Actions, indicators, or the manual measurements that have an external id (the others cannot
    be imported again without counting twice). Lines end with LF, as the service always wrote them."""
    if kind == "actions":
        rows = await repo.list_actions()
    elif kind == "indicators":
        rows = [{**r, "action": r["action_number"]} for r in await repo.indicators()]
    else:
        rows = [
            {**r, "indicator": r["indicator_code"]}
            for r in await repo.measurements()
            if r["origin"] == "manual" and r["external_id"]
        ]
    return write_csv(COLUMNS[kind], ([_shown(row.get(c)) for c in COLUMNS[kind]] for row in rows), line_end="\n")


# --- reading a row: every cell checked before anything is applied ---------------------------------

Row = dict[str, str]
Apply = Callable[[Uow], Awaitable[str]]
"""A row read and checked, ready to apply in a unit of work: returns created, updated or unchanged."""


def _raw(row: Row, column: str) -> str:
    """The cell's text, trimmed, without the apostrophe an export put before = + - @."""
    return spreadsheet_text((row.get(column) or "").strip())


def _checked(kind: Any, value: Any, column: str) -> Any:
    try:
        return check(kind, value, column)
    except ValueError as error:
        raise RowError(column, str(error)) from None


def _text(row: Row, column: str, kind: Any = Line, *, required: bool = True) -> str:
    value = _raw(row, column)
    if required and not value:
        raise RowError(column, f"{column} is required")
    text: str = _checked(kind, value, column)
    return text


def _int(row: Row, column: str, low: int, high: int) -> int:
    try:
        value = int(_text(row, column))
    except ValueError:
        raise RowError(column, f"{column} must be a whole number, not {row.get(column)!r}") from None
    if not low <= value <= high:
        raise RowError(column, f"{column} must be between {low} and {high}, not {value}")
    return value


def _decimal(row: Row, column: str, kind: Any, *, required: bool = True) -> Decimal | None:
    """A number (a decimal comma is read as a point), within ``kind``'s bounds; NaN and Infinity
    are not numbers here. Read as written, without its exponent: 0E+999999999 is within every
    bound, yet its exponent is beyond what the database driver encodes (500, half-way through)."""
    raw = _text(row, column, required=required)
    if not raw:
        return None
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        raise RowError(column, f"{column} must be a number, not {raw!r}") from None
    if not value.is_finite():
        raise RowError(column, f"{column} must be a number, not {raw!r}")
    number: Decimal = _checked(kind, value, column)
    return _plain(number)


def _choice(row: Row, column: str, choices: Iterable[str], *, required: bool = True) -> str:
    value = _text(row, column, required=required)
    if value and value not in choices:
        raise RowError(column, f"{column} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _list(row: Row, column: str, kind: Any = Code) -> list[str]:
    values = [v.strip() for v in _raw(row, column).split(LIST_SEPARATOR) if v.strip()]
    if len(values) > MAX_ORGANISATIONS:
        raise RowError(column, f"{column} names at most {MAX_ORGANISATIONS}, not {len(values)}")
    return [_checked(kind, v, column) for v in values]


def _date(row: Row, column: str) -> date:
    """A day that has happened (from 2000-01-01 to today in Brussels)."""
    raw = _text(row, column)
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise RowError(column, f"{column} must be a date like 2024-06-30, not {raw!r}") from None
    try:
        return check_happened(day, column)
    except PasserelleError as error:
        raise RowError(column, error.reason) from None


# --- import -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportCsv:
    kind: str
    text: str


async def import_csv(uow: Uow, command: ImportCsv, progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Read every row, then apply the valid ones each on its own: a bad row is reported and the
    others still apply, and no cell reaches a use case unchecked. ``progress`` is told (rows
    done, rows) after each row."""
    kind = command.kind
    if kind not in COLUMNS:
        raise PasserelleError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    reader = csv.DictReader(io.StringIO(command.text.lstrip("\ufeff")))
    missing = [c for c in COLUMNS[kind] if c not in (reader.fieldnames or []) and c not in OPTIONAL.get(kind, ())]
    report = ImportReport(kind)
    if missing:
        report.errors.append({"line": 1, "column": None, "reason": f"missing columns: {', '.join(missing)}"})
        return report
    read = {"actions": _read_action, "indicators": _read_indicator, "measurements": _read_measurement}[kind]
    rows: list[Apply | RowError] = []
    for row in reader:
        try:
            rows.append(read(row))
        except RowError as error:
            rows.append(error)
    for index, apply in enumerate(rows, start=2):  # line 1 is the header
        try:
            if isinstance(apply, RowError):
                raise apply
            async with uow:  # one transaction per row: a refused row leaves nothing half-applied
                outcome = await apply(uow)
        except RowError as error:
            report.errors.append({"line": index, "column": error.column, "reason": str(error)})
        except PasserelleError as error:
            report.errors.append({"line": index, "column": None, "reason": error.reason})
        else:
            setattr(report, outcome, getattr(report, outcome) + 1)
        if progress:
            progress(index - 1, len(rows))
    return report


# --- actions ------------------------------------------------------------------------------------


def _read_action(row: Row) -> Apply:
    number = _int(row, "number", 1, ACTIONS)
    values: dict[str, Any] = {
        "title_fr": _text(row, "title_fr", Title),
        "title_nl": _text(row, "title_nl", required=False),
        "lead": _text(row, "lead", Code),
        "partners": _list(row, "partners"),
        "publics": [_checked_public(p) for p in _list(row, "publics", Line)],
        "weight": _decimal(row, "weight", Weight, required=False) or Decimal(1),
    }
    return partial(
        _apply_action,
        number=number,
        chantier=_int(row, "chantier", 1, CHANTIERS),
        values=values,
        status=_choice(row, "status", ACTION_STATUSES, required=False) or "not_started",
        light=_choice(row, "traffic_light", TRAFFIC_LIGHTS, required=False) or None,
        note=_text(row, "status_note", StatusNote, required=False),
        progress=_decimal(row, "progress", Percent, required=False),
        mode=_choice(row, "progress_mode", ("manual", "milestones"), required=False) or "manual",
        text_fr=_text(row, "text_fr", ActionText, required=False),
    )


def _checked_public(value: str) -> str:
    if value not in PUBLICS:
        raise RowError("publics", f"publics must be among {', '.join(PUBLICS)}, not {value!r}")
    return value


async def _apply_action(
    uow: Uow,
    *,
    number: int,
    chantier: int,
    values: dict[str, Any],
    status: str,
    light: str | None,
    note: str,
    progress: Decimal | None,
    mode: str,
    text_fr: str,
) -> str:
    outcome = "unchanged"
    existing = await uow.repo.get_action(number)
    if existing is None:
        await _register(uow, number, chantier, values, text_fr)
        outcome = "created"
    elif existing["chantier"] != chantier:
        raise RowError(
            "chantier", f"action {number} belongs to chantier {existing['chantier']}; the plan's structure is fixed"
        )
    elif await change_details(uow, ChangeDetails(number, values)):
        outcome = "updated"
    current = await uow.repo.get_action(number)
    assert current is not None, "registered above"
    if (current["status"], current["traffic_light"], current["status_note"]) != (status, light, note):
        await change_status(uow, ChangeStatus(number, status, light, note))
        outcome = "updated" if outcome == "unchanged" else outcome
    if (mode == "milestones" or progress is not None) and await update_progress(
        uow, UpdateProgress(number, progress, mode)
    ):
        outcome = "updated" if outcome == "unchanged" else outcome
    return outcome


async def _register(uow: Uow, number: int, chantier: int, values: dict[str, Any], text_fr: str) -> None:
    """A new action from a CSV row (in a service started without the seed's actions)."""
    unknown = await uow.repo.unknown_organisations([values["lead"], *values["partners"]])
    if unknown:
        raise RowError(
            "lead" if values["lead"] in unknown else "partners", f"unknown organisations: {', '.join(unknown)}"
        )
    action = {"number": number, "chantier": chantier, "text_fr": text_fr or values["title_fr"], **values}
    async with uow:
        if not await uow.repo.insert_new_actions([action]):
            return
        await uow.repo.set_weight(number, values["weight"])
        axis = await uow.repo.axis_of_chantier(chantier)
        assert axis is not None, "the action's chantier exists: the insert would have failed"
        await record(uow, events.registered(action, axis))


# --- indicators and measurements ------------------------------------------------------------------


def _read_indicator(row: Row) -> Apply:
    command = DefineIndicator(
        code=_text(row, "code", Code),
        action_number=_int(row, "action", 1, ACTIONS),
        name_fr=_text(row, "name_fr", Title),
        name_nl=_text(row, "name_nl", required=False),
        unit=_text(row, "unit", Unit),
        baseline=_decimal(row, "baseline", Measure, required=False) or Decimal(0),
        target=_decimal(row, "target", Measure, required=False),
        period=_text(row, "period", Period, required=False),
    )
    return partial(_apply_indicator, command=command)


async def _apply_indicator(uow: Uow, *, command: DefineIndicator) -> str:
    existed = await uow.repo.get_indicator(command.code) is not None
    changed = await define_indicator(uow, command)
    return "unchanged" if not changed else ("updated" if existed else "created")


def _read_measurement(row: Row) -> Apply:
    value = _decimal(row, "value", Measure)
    assert value is not None, "a required cell is never empty"
    command = RecordMeasurement(
        _text(row, "indicator", Code),
        value,
        _date(row, "measured_on"),
        _text(row, "source", Source, required=False),
        _text(row, "external_id", ExternalId),
    )
    return partial(_apply_measurement, command=command)


async def _apply_measurement(uow: Uow, *, command: RecordMeasurement) -> str:
    return "created" if await record_measurement(uow, command) else "unchanged"
