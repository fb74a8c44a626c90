"""CSV export and import of actions, indicators and measurements, in one format both ways.

Import is idempotent: actions are matched by number, indicators by code, measurements by
``external_id``. Each row is applied on its own (through the same use cases as the API, so the
same rules and events apply, each row in its own transaction) and reported as created, updated,
unchanged or error, with the line and the reason.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from passerelle_contracts.common import ACTION_STATUSES, TRAFFIC_LIGHTS

from services.runtime.errors import PasserelleError

from .. import events
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


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return LIST_SEPARATOR.join(str(v) for v in value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


async def export_csv(repo: ActionsRepository, kind: str) -> str:
    """Actions, indicators, or the manual measurements that have an external id (the others cannot
    be imported again without counting twice)."""
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
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS[kind])
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in COLUMNS[kind]])
    return out.getvalue()


# --- parsing ----------------------------------------------------------------------------------


def _text(row: dict[str, str], column: str, *, required: bool = True) -> str:
    value = (row.get(column) or "").strip()
    if required and not value:
        raise RowError(column, f"{column} is required")
    return value


def _int(row: dict[str, str], column: str, low: int, high: int) -> int:
    try:
        value = int(_text(row, column))
    except ValueError:
        raise RowError(column, f"{column} must be a whole number, not {row.get(column)!r}") from None
    if not low <= value <= high:
        raise RowError(column, f"{column} must be between {low} and {high}, not {value}")
    return value


def _decimal(row: dict[str, str], column: str, *, required: bool = True) -> Decimal | None:
    raw = _text(row, column, required=required)
    if not raw:
        return None
    try:
        return Decimal(raw.replace(",", "."))
    except InvalidOperation:
        raise RowError(column, f"{column} must be a number, not {raw!r}") from None


def _choice(row: dict[str, str], column: str, choices: Iterable[str], *, required: bool = True) -> str:
    value = _text(row, column, required=required)
    if value and value not in choices:
        raise RowError(column, f"{column} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _list(row: dict[str, str], column: str) -> list[str]:
    return [v.strip() for v in (row.get(column) or "").split(LIST_SEPARATOR) if v.strip()]


def _date(row: dict[str, str], column: str) -> date:
    raw = _text(row, column)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise RowError(column, f"{column} must be a date like 2024-06-30, not {raw!r}") from None


# --- import -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportCsv:
    kind: str
    text: str


async def import_csv(uow: Uow, command: ImportCsv, progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Apply each row on its own: a bad row is reported and the others still apply. ``progress``
    is told (rows done, rows) after each row."""
    kind = command.kind
    if kind not in COLUMNS:
        raise PasserelleError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    reader = csv.DictReader(io.StringIO(command.text.lstrip("\ufeff")))
    missing = [c for c in COLUMNS[kind] if c not in (reader.fieldnames or []) and c not in OPTIONAL.get(kind, ())]
    report = ImportReport(kind)
    if missing:
        report.errors.append({"line": 1, "column": None, "reason": f"missing columns: {', '.join(missing)}"})
        return report
    rows = list(reader)
    apply = {"actions": _import_action, "indicators": _import_indicator, "measurements": _import_measurement}[kind]
    for index, row in enumerate(rows, start=2):  # line 1 is the header
        try:
            async with uow:  # one transaction per row: a refused row leaves nothing half-applied
                outcome = await apply(uow, row)
        except RowError as error:
            report.errors.append({"line": index, "column": error.column, "reason": str(error)})
        except PasserelleError as error:
            report.errors.append({"line": index, "column": None, "reason": error.reason})
        else:
            setattr(report, outcome, getattr(report, outcome) + 1)
        if progress:
            progress(index - 1, len(rows))
    return report


async def _import_action(uow: Uow, row: dict[str, str]) -> str:
    number = _int(row, "number", 1, 66)
    values: dict[str, Any] = {
        "title_fr": _text(row, "title_fr"),
        "title_nl": _text(row, "title_nl", required=False),
        "lead": _text(row, "lead"),
        "partners": _list(row, "partners"),
        "publics": _list(row, "publics"),
        "weight": _decimal(row, "weight", required=False) or Decimal(1),
    }
    chantier = _int(row, "chantier", 1, 17)
    status = _choice(row, "status", ACTION_STATUSES, required=False) or "not_started"
    light = _choice(row, "traffic_light", TRAFFIC_LIGHTS, required=False) or None
    note = _text(row, "status_note", required=False)
    progress = _decimal(row, "progress", required=False)
    mode = _choice(row, "progress_mode", ("manual", "milestones"), required=False) or "manual"
    if progress is not None and not Decimal(0) <= progress <= Decimal(100):
        raise RowError("progress", f"progress must be between 0 and 100, not {progress}")

    outcome = "unchanged"
    existing = await uow.repo.get_action(number)
    if existing is None:
        await _register(uow, number, chantier, values, _text(row, "text_fr", required=False))
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


async def _import_indicator(uow: Uow, row: dict[str, str]) -> str:
    code = _text(row, "code")
    command = DefineIndicator(
        code=code,
        action_number=_int(row, "action", 1, 66),
        name_fr=_text(row, "name_fr"),
        name_nl=_text(row, "name_nl", required=False),
        unit=_text(row, "unit"),
        baseline=_decimal(row, "baseline", required=False) or Decimal(0),
        target=_decimal(row, "target", required=False),
        period=_text(row, "period", required=False),
    )
    existed = await uow.repo.get_indicator(code) is not None
    changed = await define_indicator(uow, command)
    return "unchanged" if not changed else ("updated" if existed else "created")


async def _import_measurement(uow: Uow, row: dict[str, str]) -> str:
    code, value = _text(row, "indicator"), _decimal(row, "value")
    assert value is not None, "a required cell is never empty"
    command = RecordMeasurement(
        code, value, _date(row, "measured_on"), _text(row, "source", required=False), _text(row, "external_id")
    )
    return "created" if await record_measurement(uow, command) else "unchanged"
