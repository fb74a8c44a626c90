"""Bulk sanitisation records from a CSV (what a refurbisher exports from its wiping station's
logs): one row per medium wiped, grouped by device, each device applied on its own with a
report per row."""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

import asyncpg
from passerelle_contracts import Actor

from services.runtime.errors import PasserelleError

from . import domain
from .record import Sanitisation, record_sanitisation

COLUMNS = ("device", "medium_id", "method", "tool", "tool_version", "passes", "verification", "operator", "started_at",
           "ended_at", "result", "warnings")


def _parse(raw: dict[str, str]) -> tuple[str, Sanitisation]:
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
    if method not in domain.METHODS:
        raise ValueError(f"method|method must be one of {', '.join(domain.METHODS)}")
    if result not in domain.RESULTS:
        raise ValueError(f"result|result must be one of {', '.join(domain.RESULTS)}")
    passes = text("passes", required=False) or "1"
    if not passes.isdigit():
        raise ValueError("passes|passes must be a whole number")
    started, ended = when("started_at"), when("ended_at")
    if ended < started:
        raise ValueError("ended_at|ended_at is before started_at")
    return text("device"), Sanitisation(
        medium_id=text("medium_id"), method=method, tool=text("tool"), tool_version=text("tool_version", required=False),
        passes=int(passes), verification=text("verification", required=False) or "full", operator=text("operator"),
        started_at=started, ended_at=ended, result=result, warnings=text("warnings", required=False),
    )


async def import_sanitisations(
    pool: asyncpg.Pool, topic: str, text: str, actor: Actor, correlation_id: uuid.UUID
) -> dict[str, Any]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or []) and c not in ("tool_version", "warnings", "passes", "verification")]
    if missing:
        return {"devices": 0, "records": 0, "errors": [{"line": 1, "column": None, "reason": f"missing columns: {', '.join(missing)}"}]}
    by_device: dict[str, list[tuple[int, Sanitisation]]] = defaultdict(list)
    errors: list[dict[str, Any]] = []
    for line, raw in enumerate(reader, start=2):
        try:
            device, record = _parse(raw)
        except ValueError as error:
            column, _, reason = str(error).partition("|")
            errors.append({"line": line, "column": column, "reason": reason})
            continue
        by_device[device].append((line, record))
    codes = {
        r["short_code"]: r["id"]
        for r in await pool.fetch("SELECT id, short_code FROM devices WHERE short_code = ANY($1::text[])", list(by_device))
    }
    done = records = 0
    for device, rows in by_device.items():
        try:
            device_id = codes.get(device) or uuid.UUID(device)
            await record_sanitisation(pool, topic, device_id, [r for _, r in rows], actor, correlation_id)
        except (ValueError, PasserelleError) as error:
            reason = error.reason if isinstance(error, PasserelleError) else f"no device {device}"
            errors.extend({"line": line, "column": "device", "reason": reason} for line, _ in rows)
            continue
        done, records = done + 1, records + len(rows)
    return {"devices": done, "records": records, "errors": sorted(errors, key=lambda e: e["line"])}
