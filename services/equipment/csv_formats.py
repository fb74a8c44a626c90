"""The CSV files partners exchange with the equipment service: a donor's devices (in), a wiping
station's log (in: one row per medium wiped), a workshop's conditions (in: one row per device
graded, repaired or given up) and the WEEE register (out). Pure: text in, values
and a report per bad row (its line and column) out.

Files come in as UTF-8 (``services.runtime.inputs.decode_csv``, in the router); every cell is
bounded here as the JSON API bounds the same field (``LIMITS``), so a row the database could not
hold is a row error, never a failure halfway through a file. Cells of the export that a
spreadsheet would run (``=``, ``+``, ``-``, ``@``) are written as text (``write_csv``)."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from passerelle_contracts.common import DEVICE_KINDS

from services.runtime.errors import PasserelleError
from services.runtime.inputs import BRUSSELS, check_happened, write_csv

from .domain import METHODS, RESULTS, DeviceRow, Sanitisation
from .domain.record import RECORD_FIELDS

MEDIUM_TYPES = ("hdd", "ssd", "nvme", "emmc", "sd", "other")
VERIFICATIONS = ("none", "sample", "full")
MAX_PASSES = 100
MAX_MEDIA = 16  # storage media of one device
MAX_CAPACITY_GB = 1_000_000  # 1 PB
# The longest text each field takes, in the CSV files and the JSON API alike.
LIMITS = {
    "asset_tag": 100,
    "serial": 100,
    "make": 100,
    "model": 100,
    "cpu": 100,
    "medium_serial": 100,
    "device": 64,
    "medium_id": 16,
    "tool": 100,
    "tool_version": 50,
    "operator": 100,
    "warnings": 2000,
}
CSV_COLUMNS = ("asset_tag", "serial", "kind", "make", "model", "cpu", "ram_gb", "storage", "year")
SANITISATION_COLUMNS = ("device", *RECORD_FIELDS)  # a wiping station's log: the device, then its record
SANITISATION_OPTIONAL = ("tool_version", "warnings", "passes", "verification")
CONDITION_COLUMNS = ("device", "physical", "grade")  # a workshop's sheet: the device, then its condition
CONDITION_OPTIONAL = ("grade",)
CONDITIONS = ("to_repair", "refurbished", "for_parts", "disposed")  # what a refurbisher records
GRADES = ("A", "B", "C")
WEEE_COLUMNS = (
    "short_code",
    "device_id",
    "kind",
    "make",
    "model",
    "year",
    "donor",
    "recycler",
    "disposed_on",
    "method",
    "certificate_reference",
)

RowError = dict[str, Any]  # {"line": n, "column": name or None, "reason": text}


def whole_number(text: str) -> int | None:
    """``text`` as a whole number if it is one written in ASCII digits (at most nine: any of them
    fits PostgreSQL's integer), else None. Not ``str.isdigit``: it takes "²" and other digits that
    ``int`` then refuses, or reads ("٣" is 3)."""
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else None


def _error(line: int, error: ValueError) -> RowError:
    """Parsers raise ``ValueError("column|reason")``: the column the report points at."""
    column, _, reason = str(error).partition("|")
    return {"line": line, "column": column or None, "reason": reason or column}


# --- devices ----------------------------------------------------------------------------------


def bounded(name: str, value: str, limit: int | None = None) -> str:
    """``value`` if it is at most the field's length, else ``ValueError("name|reason")``."""
    limit = limit or LIMITS[name]
    if len(value) > limit:
        raise ValueError(f"{name}|{name} must be at most {limit} characters, not {len(value)}")
    return value


def parse_storage(text: str) -> tuple[tuple[str, int | None, str], ...]:
    """'ssd:256;hdd:500:WD-123' -> media (type, capacity in GB, serial); empty for none."""
    media = []
    for part in (p.strip() for p in text.split(";") if p.strip()):
        pieces = part.split(":")
        kind = pieces[0].strip().lower()
        if kind not in MEDIUM_TYPES:
            raise ValueError(f"storage medium type must be one of {', '.join(MEDIUM_TYPES)}, not {kind[:20]!r}")
        size = pieces[1].strip() if len(pieces) > 1 else ""
        capacity = whole_number(size)
        if size and (capacity is None or not 1 <= capacity <= MAX_CAPACITY_GB):
            raise ValueError(f"a medium's capacity is a whole number from 1 to {MAX_CAPACITY_GB} GB, not {size[:20]!r}")
        serial = pieces[2].strip() if len(pieces) > 2 else ""
        if len(serial) > LIMITS["medium_serial"]:
            raise ValueError(f"a medium's serial must be at most {LIMITS['medium_serial']} characters")
        media.append((kind, capacity, serial))
    if len(media) > MAX_MEDIA:
        raise ValueError(f"a device has at most {MAX_MEDIA} media, not {len(media)}")
    return tuple(media)


DEVICE_REQUIRED = ("asset_tag", "kind")


def parse_csv(text: str) -> tuple[list[tuple[int, DeviceRow]], list[RowError]]:
    """Rows with their line numbers, and an error per bad row (the file's line and column)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in DEVICE_REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        return [], [{"line": 1, "column": None, "reason": f"missing columns: {', '.join(missing)}"}]
    rows, errors = [], []
    for line, raw in enumerate(reader, start=2):
        try:
            rows.append((line, row_from(raw)))
        except ValueError as error:
            errors.append(_error(line, error))
    return rows, errors


def row_from(raw: Mapping[str, Any]) -> DeviceRow:
    """One device from a CSV row or a JSON item; ``ValueError("column|reason")`` if it is not one."""

    def text(name: str) -> str:
        value = str(raw.get(name) or "").strip()
        return bounded(name, value) if name in LIMITS else value

    def number(name: str, low: int, high: int) -> int | None:
        value = text(name)
        if not value:
            return None
        parsed = whole_number(value)
        if parsed is None or not low <= parsed <= high:
            raise ValueError(f"{name}|{name} must be a whole number from {low} to {high}, not {value[:20]!r}")
        return parsed

    if not text("asset_tag"):
        raise ValueError("asset_tag|asset_tag is required")
    kind = text("kind").lower()
    if kind not in DEVICE_KINDS:
        raise ValueError(f"kind|kind must be one of {', '.join(DEVICE_KINDS)}, not {kind[:20]!r}")
    try:
        storage = parse_storage(text("storage"))
    except ValueError as error:
        raise ValueError(f"storage|{error}") from None
    return DeviceRow(
        asset_tag=text("asset_tag"),
        kind=kind,
        serial=text("serial"),
        make=text("make"),
        model=text("model"),
        cpu=text("cpu"),
        ram_gb=number("ram_gb", 0, 4096),
        year=number("year", 1990, 2100),
        storage=storage,
    )


# --- a wiping station's log -------------------------------------------------------------------


def sanitisation_from(raw: Mapping[str, str]) -> tuple[str, Sanitisation]:
    """The device (short code or id) and its record, from one row of a wiping station's log."""

    def text(name: str, required: bool = True) -> str:
        value = (raw.get(name) or "").strip()
        if required and not value:
            raise ValueError(f"{name}|{name} is required")
        return bounded(name, value) if name in LIMITS else value

    def when(name: str) -> datetime:
        try:
            value = datetime.fromisoformat(text(name)[:40])
        except ValueError:
            raise ValueError(f"{name}|{name} must be a date and time like 2024-02-20T09:00:00+01:00") from None
        if value.tzinfo is None:
            raise ValueError(f"{name}|{name} needs a time zone offset")
        try:
            check_happened(value.astimezone(BRUSSELS).date(), name)
        except PasserelleError as error:
            raise ValueError(f"{name}|{error.reason}") from None
        return value

    method, result = text("method"), text("result")
    if method not in METHODS:
        raise ValueError(f"method|method must be one of {', '.join(METHODS)}")
    if result not in RESULTS:
        raise ValueError(f"result|result must be one of {', '.join(RESULTS)}")
    passes_text = text("passes", required=False) or "1"
    passes = whole_number(passes_text)
    if passes is None or passes > MAX_PASSES:
        raise ValueError(f"passes|passes must be a whole number from 0 to {MAX_PASSES}, not {passes_text[:20]!r}")
    verification = text("verification", required=False) or "full"
    if verification not in VERIFICATIONS:
        raise ValueError(f"verification|verification must be one of {', '.join(VERIFICATIONS)}")
    started, ended = when("started_at"), when("ended_at")
    if ended < started:
        raise ValueError("ended_at|ended_at is before started_at")
    return text("device"), Sanitisation(
        medium_id=text("medium_id"),
        method=method,
        tool=text("tool"),
        tool_version=text("tool_version", required=False),
        passes=passes,
        verification=verification,
        operator=text("operator"),
        started_at=started,
        ended_at=ended,
        result=result,
        warnings=text("warnings", required=False),
    )


def parse_sanitisations(text: str) -> tuple[dict[str, list[tuple[int, Sanitisation]]], list[RowError]]:
    """The log's records grouped by device (in the file's order, with their lines), and an error per bad row."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in SANITISATION_COLUMNS if c not in (reader.fieldnames or []) and c not in SANITISATION_OPTIONAL]
    if missing:
        return {}, [{"line": 1, "column": None, "reason": f"missing columns: {', '.join(missing)}"}]
    by_device: dict[str, list[tuple[int, Sanitisation]]] = defaultdict(list)
    errors: list[RowError] = []
    for line, raw in enumerate(reader, start=2):
        try:
            device, record = sanitisation_from(raw)
        except ValueError as error:
            column, _, reason = str(error).partition("|")
            errors.append({"line": line, "column": column, "reason": reason})
            continue
        by_device[device].append((line, record))
    return dict(by_device), errors


# --- a workshop's conditions ------------------------------------------------------------------


def condition_from(raw: Mapping[str, str]) -> tuple[str, str, str | None]:
    """The device (short code or id), its physical condition and its grade (none if not given),
    from one row of a workshop's sheet; the grade a refurbished device needs is the domain's rule."""
    device = bounded("device", (raw.get("device") or "").strip())
    if not device:
        raise ValueError("device|device is required")
    physical = (raw.get("physical") or "").strip().lower()
    if physical not in CONDITIONS:
        raise ValueError(f"physical|physical must be one of {', '.join(CONDITIONS)}, not {physical[:20]!r}")
    grade = (raw.get("grade") or "").strip().upper()
    if grade and grade not in GRADES:
        raise ValueError(f"grade|grade must be one of {', '.join(GRADES)} or empty, not {grade[:20]!r}")
    return device, physical, grade or None


def parse_conditions(text: str) -> tuple[dict[str, list[tuple[int, tuple[str, str | None]]]], list[RowError]]:
    """The sheet's conditions grouped by device (in the file's order, with their lines), and an
    error per bad row."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in CONDITION_COLUMNS if c not in (reader.fieldnames or []) and c not in CONDITION_OPTIONAL]
    if missing:
        return {}, [{"line": 1, "column": None, "reason": f"missing columns: {', '.join(missing)}"}]
    by_device: dict[str, list[tuple[int, tuple[str, str | None]]]] = defaultdict(list)
    errors: list[RowError] = []
    for line, raw in enumerate(reader, start=2):
        try:
            device, physical, grade = condition_from(raw)
        except ValueError as error:
            errors.append(_error(line, error))
            continue
        by_device[device].append((line, (physical, grade)))
    return dict(by_device), errors


# --- the WEEE register ------------------------------------------------------------------------


def weee_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """The register's rows; a make, a model or a reference that starts like a formula is written
    as text (``services.runtime.inputs.write_csv``)."""
    return write_csv(list(WEEE_COLUMNS), [["" if row[c] is None else row[c] for c in WEEE_COLUMNS] for row in rows])
