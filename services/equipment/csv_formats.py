"""The CSV files partners exchange with the equipment service: a donor's devices (in), a wiping
station's log (in: one row per medium wiped) and the WEEE register (out). Pure: text in, values
and a report per bad row (its line and column) out."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from passerelle_contracts.common import DEVICE_KINDS

from .domain import METHODS, RESULTS, DeviceRow, Sanitisation

MEDIUM_TYPES = ("hdd", "ssd", "nvme", "emmc", "sd", "other")
CSV_COLUMNS = ("asset_tag", "serial", "kind", "make", "model", "cpu", "ram_gb", "storage", "year")
SANITISATION_COLUMNS = (
    "device",
    "medium_id",
    "method",
    "tool",
    "tool_version",
    "passes",
    "verification",
    "operator",
    "started_at",
    "ended_at",
    "result",
    "warnings",
)
SANITISATION_OPTIONAL = ("tool_version", "warnings", "passes", "verification")
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


def _error(line: int, error: ValueError) -> RowError:
    """Parsers raise ``ValueError("column|reason")``: the column the report points at."""
    column, _, reason = str(error).partition("|")
    return {"line": line, "column": column or None, "reason": reason or column}


# --- devices ----------------------------------------------------------------------------------


def parse_storage(text: str) -> tuple[tuple[str, int | None, str], ...]:
    """'ssd:256;hdd:500:WD-123' -> media (type, capacity in GB, serial); empty for none."""
    media = []
    for part in (p.strip() for p in text.split(";") if p.strip()):
        pieces = part.split(":")
        kind = pieces[0].strip().lower()
        if kind not in MEDIUM_TYPES:
            raise ValueError(f"storage medium type must be one of {', '.join(MEDIUM_TYPES)}, not {kind!r}")
        capacity = int(pieces[1]) if len(pieces) > 1 and pieces[1].strip() else None
        media.append((kind, capacity, pieces[2].strip() if len(pieces) > 2 else ""))
    return tuple(media)


def parse_csv(text: str) -> tuple[list[tuple[int, DeviceRow]], list[RowError]]:
    """Rows with their line numbers, and an error per bad row (the file's line and column)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in ("asset_tag", "kind") if c not in (reader.fieldnames or [])]
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
        return str(raw.get(name) or "").strip()

    def number(name: str, low: int, high: int) -> int | None:
        value = text(name)
        if not value:
            return None
        if not value.isdigit() or not low <= int(value) <= high:
            raise ValueError(f"{name}|{name} must be a whole number from {low} to {high}, not {value!r}")
        return int(value)

    if not text("asset_tag"):
        raise ValueError("asset_tag|asset_tag is required")
    kind = text("kind").lower()
    if kind not in DEVICE_KINDS:
        raise ValueError(f"kind|kind must be one of {', '.join(DEVICE_KINDS)}, not {kind!r}")
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
        return value

    def when(name: str) -> datetime:
        try:
            value = datetime.fromisoformat(text(name))
        except ValueError:
            raise ValueError(f"{name}|{name} must be a date and time like 2024-02-20T09:00:00+01:00") from None
        if value.tzinfo is None:
            raise ValueError(f"{name}|{name} needs a time zone offset")
        return value

    method, result = text("method"), text("result")
    if method not in METHODS:
        raise ValueError(f"method|method must be one of {', '.join(METHODS)}")
    if result not in RESULTS:
        raise ValueError(f"result|result must be one of {', '.join(RESULTS)}")
    passes = text("passes", required=False) or "1"
    if not passes.isdigit():
        raise ValueError("passes|passes must be a whole number")
    started, ended = when("started_at"), when("ended_at")
    if ended < started:
        raise ValueError("ended_at|ended_at is before started_at")
    return text("device"), Sanitisation(
        medium_id=text("medium_id"),
        method=method,
        tool=text("tool"),
        tool_version=text("tool_version", required=False),
        passes=int(passes),
        verification=text("verification", required=False) or "full",
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


# --- the WEEE register ------------------------------------------------------------------------


def weee_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(WEEE_COLUMNS)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in WEEE_COLUMNS])
    return out.getvalue()
