"""Intake: donors declare batches of devices (JSON or CSV, thousands of rows, idempotent by
donor + asset tag); every device gets a Passerelle id and a short code for its label."""

from __future__ import annotations

import base64
import csv
import io
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from passerelle_contracts import Actor, Envelope
from passerelle_contracts.common import DEVICE_KINDS
from passerelle_contracts.equipment_v1 import BatchDeclared

from services.runtime.errors import Forbidden, Invalid
from services.runtime.outbox import enqueue

from . import domain

SOURCE = "equipment"
MEDIUM_TYPES = ("hdd", "ssd", "nvme", "emmc", "sd", "other")
CSV_COLUMNS = ("asset_tag", "serial", "kind", "make", "model", "cpu", "ram_gb", "storage", "year")


def short_code(device_id: uuid.UUID) -> str:
    """What people read on the label: 8 base32 characters of the id (1 in 10^12 odds of a clash)."""
    text = base64.b32encode(device_id.bytes).decode()[:8]
    return f"PSR-{text[:4]}-{text[4:]}"


@dataclass(frozen=True)
class DeviceRow:
    asset_tag: str
    kind: str
    serial: str = ""
    make: str = ""
    model: str = ""
    cpu: str = ""
    ram_gb: int | None = None
    year: int | None = None
    storage: tuple[tuple[str, int | None, str], ...] = ()  # (type, capacity GB, serial) per medium


@dataclass
class IntakeReport:
    batch_id: str
    created: int = 0
    existing: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


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


def parse_csv(text: str) -> tuple[list[tuple[int, DeviceRow]], list[dict[str, Any]]]:
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
            column, _, reason = str(error).partition("|")
            errors.append({"line": line, "column": column or None, "reason": reason or column})
    return rows, errors


def row_from(raw: dict[str, Any]) -> DeviceRow:
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
        asset_tag=text("asset_tag"), kind=kind, serial=text("serial"), make=text("make"), model=text("model"),
        cpu=text("cpu"), ram_gb=number("ram_gb", 0, 4096), year=number("year", 1990, 2100), storage=storage,
    )


async def declare_batch(
    pool: asyncpg.Pool, topic: str, donor: str, reference: str, rows: list[tuple[int, DeviceRow]], actor: Actor,
    correlation_id: uuid.UUID,
) -> IntakeReport:
    """Declare (or complete) a batch. Devices already known by donor + asset tag are left as
    they are; new ones are created in one transaction and announced with BatchDeclared."""
    if actor.role not in ("coordination", "donor") or (actor.role == "donor" and actor.organisation != donor):
        raise Forbidden(f"{actor.organisation} ({actor.role}) may not declare devices for {donor}")
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("SELECT kind FROM organisations WHERE code = $1", donor) is None:
            raise Invalid(f"unknown donor organisation {donor}")
        batch_id = await conn.fetchval(
            """INSERT INTO batches (id, donor, reference) VALUES ($1, $2, $3)
               ON CONFLICT (donor, reference) DO UPDATE SET reference = EXCLUDED.reference RETURNING id""",
            uuid.uuid4(), donor, reference,
        )
        report = IntakeReport(str(batch_id))
        seen: dict[str, int] = {}
        fresh: list[tuple[int, DeviceRow]] = []
        for line, row in rows:
            if row.asset_tag in seen:
                report.errors.append({"line": line, "column": "asset_tag",
                                      "reason": f"asset tag {row.asset_tag} already on line {seen[row.asset_tag]}"})
                continue
            seen[row.asset_tag] = line
            fresh.append((line, row))
        known = {
            r["asset_tag"]
            for r in await conn.fetch(
                "SELECT asset_tag FROM devices WHERE donor = $1 AND asset_tag = ANY($2::text[])", donor, list(seen)
            )
        }
        new = [(line, row) for line, row in fresh if row.asset_tag not in known]
        report.existing = len(fresh) - len(new)
        ids = [uuid.uuid4() for _ in new]
        await conn.copy_records_to_table(
            "devices",
            columns=["id", "short_code", "batch_id", "donor", "asset_tag", "serial", "kind", "make", "model", "cpu",
                     "ram_gb", "year", "custodian", "sanitisation"],
            records=[
                (i, short_code(i), batch_id, donor, r.asset_tag, r.serial, r.kind, r.make, r.model, r.cpu, r.ram_gb, r.year, donor,
                 domain.sanitisation_state([m[0] for m in r.storage], []))  # no media (a screen): nothing to wipe
                for i, (_, r) in zip(ids, new, strict=True)
            ],
        )
        await conn.copy_records_to_table(
            "media",
            columns=["device_id", "medium_id", "type", "capacity_gb", "serial"],
            records=[
                (i, f"m{n}", kind, capacity, serial)
                for i, (_, r) in zip(ids, new, strict=True)
                for n, (kind, capacity, serial) in enumerate(r.storage, start=1)
            ],
        )
        who = actor.model_dump(mode="json")
        await conn.copy_records_to_table(
            "device_history",
            columns=["device_id", "action", "actor", "custodian", "data"],
            records=[(i, "declared", who, donor, {"batch_id": str(batch_id), "reference": reference}) for i in ids],
        )
        report.created = len(new)
        if new:
            counts = Counter(r.kind for _, r in new)
            data = BatchDeclared(batch_id=str(batch_id), donor=donor, reference=reference, devices=dict(counts),
                                 total_devices=len(new))
            await enqueue(conn, topic, Envelope.wrap(data, source=SOURCE, subject=f"batch-{batch_id}", actor=actor,
                                                     correlation_id=correlation_id))
    return report
