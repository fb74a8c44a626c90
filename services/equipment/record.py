"""The device record after intake: custody transfers the receiving side confirms, the physical
condition, and sanitisation per storage medium with a certificate. Each command locks the
devices it changes, appends to their history and writes its event in the same transaction."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from passerelle_contracts import Actor, Envelope
from passerelle_contracts.common import FieldChange
from passerelle_contracts.equipment_v1 import (
    BatchMilestoneReached,
    DeviceConditionChanged,
    DeviceSanitised,
    DevicesTransferred,
)

from services.runtime.errors import Conflict, Forbidden, Invalid, NotFound
from services.runtime.outbox import enqueue

from . import domain

SOURCE = "equipment"
DEVICE_COLUMNS = """id, short_code, batch_id, donor, asset_tag, serial, kind, make, model, cpu, ram_gb, year, custodian,
                    physical, grade, final_spec, sanitisation, allocation, version, updated_at"""


def _wrap(data: Any, subject: str, actor: Actor, correlation_id: uuid.UUID) -> Envelope:
    return Envelope.wrap(data, source=SOURCE, subject=subject, actor=actor, correlation_id=correlation_id)


async def get_device(conn: asyncpg.Connection | asyncpg.Pool, device_id: uuid.UUID) -> dict[str, Any]:
    row = await conn.fetchrow(f"SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1", device_id)
    if row is None:
        raise NotFound(f"no device {device_id}")
    device = dict(row)
    device["media"] = [dict(m) for m in await conn.fetch(
        "SELECT medium_id, type, capacity_gb, serial FROM media WHERE device_id = $1 ORDER BY medium_id", device_id)]
    return device


async def _lock(conn: asyncpg.Connection, device_id: uuid.UUID) -> dict[str, Any]:
    row = await conn.fetchrow(f"SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1 FOR UPDATE", device_id)
    if row is None:
        raise NotFound(f"no device {device_id}")
    return dict(row)


def _may_act_for(actor: Actor, organisation: str) -> None:
    if actor.role != "coordination" and actor.organisation != organisation:
        raise Forbidden(f"{actor.organisation} ({actor.role}) does not hold this device; {organisation} does")


async def _history(conn: asyncpg.Connection, device_id: uuid.UUID, action: str, actor: Actor, custodian: str,
                   data: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO device_history (device_id, action, actor, custodian, data) VALUES ($1, $2, $3, $4, $5)",
        device_id, action, actor.model_dump(mode="json"), custodian, data,
    )


# --- custody ----------------------------------------------------------------------------------


async def propose_transfer(
    pool: asyncpg.Pool, to_org: str, device_ids: list[uuid.UUID], actor: Actor
) -> dict[str, Any]:
    """The current custodian hands devices over; they move when the receiver confirms."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("SELECT kind FROM organisations WHERE code = $1", to_org) is None:
            raise Invalid(f"unknown organisation {to_org}")
        rows = await conn.fetch(
            "SELECT id, custodian FROM devices WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", device_ids
        )
        if len(rows) != len(set(device_ids)):
            missing = set(device_ids) - {r["id"] for r in rows}
            raise NotFound(f"no devices {', '.join(sorted(str(m) for m in missing))}")
        holders = {r["custodian"] for r in rows}
        if len(holders) != 1:
            raise Conflict(f"the devices are held by several organisations ({', '.join(sorted(holders))}): one transfer each")
        holder = holders.pop()
        _may_act_for(actor, holder)
        if holder == to_org:
            raise Conflict(f"{to_org} already holds these devices")
        pending = await conn.fetchval(
            "SELECT count(*) FROM transfers WHERE status = 'proposed' AND device_ids && $1::uuid[]", device_ids
        )
        if pending:
            raise Conflict("some of these devices are already in a transfer waiting for confirmation")
        row = await conn.fetchrow(
            """INSERT INTO transfers (id, from_org, to_org, device_ids, proposed_by) VALUES ($1, $2, $3, $4, $5)
               RETURNING id, from_org, to_org, device_ids, status, proposed_at""",
            uuid.uuid4(), holder, to_org, sorted(set(device_ids)), actor.model_dump(mode="json"),
        )
    return dict(row)  # type: ignore[arg-type]


async def confirm_transfer(
    pool: asyncpg.Pool, topic: str, transfer_id: uuid.UUID, actor: Actor, correlation_id: uuid.UUID
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        transfer = await conn.fetchrow("SELECT * FROM transfers WHERE id = $1 FOR UPDATE", transfer_id)
        if transfer is None:
            raise NotFound(f"no transfer {transfer_id}")
        _may_act_for(actor, transfer["to_org"])
        if transfer["status"] != "proposed":
            raise Conflict(f"transfer {transfer_id} is {transfer['status']}")
        rows = await conn.fetch(
            "UPDATE devices SET custodian = $2, version = version + 1, updated_at = now() "
            "WHERE id = ANY($1::uuid[]) AND custodian = $3 RETURNING id, kind, batch_id",
            transfer["device_ids"], transfer["to_org"], transfer["from_org"],
        )
        if len(rows) != len(transfer["device_ids"]):
            raise Conflict("some devices changed custody since the transfer was proposed")
        await conn.executemany(
            "INSERT INTO device_history (device_id, action, actor, custodian, data) VALUES ($1, 'transferred', $2, $3, $4)",
            [(r["id"], actor.model_dump(mode="json"), transfer["to_org"],
              {"transfer_id": str(transfer_id), "from": transfer["from_org"], "to": transfer["to_org"]}) for r in rows],
        )
        await conn.execute("UPDATE transfers SET status = 'confirmed', confirmed_at = now() WHERE id = $1", transfer_id)
        batches = sorted({str(r["batch_id"]) for r in rows})
        data = DevicesTransferred(
            transfer_id=str(transfer_id), from_organisation=transfer["from_org"], to_organisation=transfer["to_org"],
            devices=dict(Counter(r["kind"] for r in rows)), total_devices=len(rows), batches=batches,
        )
        await enqueue(conn, topic, _wrap(data, f"transfer-{transfer_id}", actor, correlation_id))
        for batch_id in batches:
            await announce_milestones(conn, topic, uuid.UUID(batch_id), actor, correlation_id)
    return {**dict(transfer), "status": "confirmed", "devices": len(rows)}


# --- condition --------------------------------------------------------------------------------


async def change_condition(
    pool: asyncpg.Pool, topic: str, device_id: uuid.UUID, physical: str, grade: str | None,
    final_spec: dict[str, Any] | None, actor: Actor, correlation_id: uuid.UUID,
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        device = await _lock(conn, device_id)
        _may_act_for(actor, device["custodian"])
        if physical != device["physical"]:
            domain.physical_move(str(device_id), device["physical"], physical)
        if physical == "refurbished" and grade is None:
            raise Invalid("a refurbished device needs a grade (A, B or C)")
        grade = grade if physical == "refurbished" else device["grade"]
        changes = [FieldChange(field=f, old=o, new=n) for f, o, n in
                   (("physical", device["physical"], physical), ("grade", device["grade"], grade)) if o != n]
        if not changes and final_spec in (None, device["final_spec"]):
            return await get_device(conn, device_id)
        await conn.execute(
            # A returned device that is refurbished again goes back to the stock.
            "UPDATE devices SET physical = $2, grade = $3, final_spec = coalesce($4, final_spec), version = version + 1, "
            "allocation = CASE WHEN $2 = 'refurbished' AND allocation = 'returned' THEN 'available' ELSE allocation END, "
            "updated_at = now() WHERE id = $1",
            device_id, physical, grade, final_spec,
        )
        await _history(conn, device_id, physical, actor, device["custodian"],
                       {"grade": grade, "final_spec": final_spec})
        data = DeviceConditionChanged(
            device_id=str(device_id), batch_id=str(device["batch_id"]), donor=device["donor"], kind=device["kind"],
            physical=physical, grade=grade, changes=changes,  # type: ignore[arg-type]
        )
        await enqueue(conn, topic, _wrap(data, f"device-{device_id}", actor, correlation_id))
        return await get_device(conn, device_id)


# --- sanitisation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sanitisation:
    medium_id: str
    method: str
    tool: str
    tool_version: str
    passes: int
    verification: str
    operator: str
    started_at: datetime
    ended_at: datetime
    result: str
    warnings: str = ""


async def record_sanitisation(
    pool: asyncpg.Pool, topic: str, device_id: uuid.UUID, records: list[Sanitisation], actor: Actor,
    correlation_id: uuid.UUID,
) -> dict[str, Any]:
    """Add NIST SP 800-88 records (one per medium sanitised); the device's sanitisation state is
    derived from the latest record of every medium. A complete pass issues a certificate."""
    async with pool.acquire() as conn, conn.transaction():
        device = await _lock(conn, device_id)
        _may_act_for(actor, device["custodian"])
        media = [r["medium_id"] for r in await conn.fetch(
            "SELECT medium_id FROM media WHERE device_id = $1 ORDER BY medium_id", device_id)]
        unknown = sorted({r.medium_id for r in records} - set(media))
        if unknown:
            raise Invalid(f"device {device_id} has no medium {', '.join(unknown)}; it has {', '.join(media) or 'none'}")
        await conn.executemany(
            """INSERT INTO sanitisations (device_id, medium_id, method, tool, tool_version, passes, verification, operator,
                   started_at, ended_at, result, warnings, recorded_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)""",
            [(device_id, r.medium_id, r.method, r.tool, r.tool_version, r.passes, r.verification, r.operator,
              r.started_at, r.ended_at, r.result, r.warnings, actor.model_dump(mode="json")) for r in records],
        )
        history = await conn.fetch(
            """SELECT s.id, s.medium_id, s.method, s.result FROM sanitisations s JOIN devices d ON d.id = s.device_id
               WHERE s.device_id = $1 AND s.id > d.wipe_epoch ORDER BY s.id""",
            device_id,
        )
        state = domain.sanitisation_state(
            media, [domain.WipeRecord(h["medium_id"], h["method"], h["result"], h["id"]) for h in history]
        )
        certificate_id, digest = None, None
        if state in ("wiped", "destroyed") and device["sanitisation"] not in ("wiped", "destroyed"):
            certificate_id, digest = await _issue_certificate(conn, device, history)
        await conn.execute(
            "UPDATE devices SET sanitisation = $2, version = version + 1, updated_at = now() WHERE id = $1", device_id, state
        )
        await _history(conn, device_id, "sanitised", actor, device["custodian"],
                       {"media": [r.medium_id for r in records], "results": [r.result for r in records], "state": state,
                        "certificate_id": certificate_id})
        changes = [FieldChange(field="sanitisation", old=device["sanitisation"], new=state)] if state != device["sanitisation"] else []
        data = DeviceSanitised(
            device_id=str(device_id), batch_id=str(device["batch_id"]), donor=device["donor"], kind=device["kind"],
            sanitisation=state, media=len(media), certificate_id=certificate_id, certificate_sha256=digest,  # type: ignore[arg-type]
            changes=changes,
        )
        await enqueue(conn, topic, _wrap(data, f"device-{device_id}", actor, correlation_id))
        await announce_milestones(conn, topic, device["batch_id"], actor, correlation_id)
        return await get_device(conn, device_id)


async def _issue_certificate(conn: asyncpg.Connection, device: dict[str, Any], history: list[Any]) -> tuple[str, str]:
    from .documents import CertificateData, MediumRecord, certificate_pdf

    rows = await conn.fetch(
        """SELECT DISTINCT ON (s.medium_id) s.*, m.type, m.capacity_gb, m.serial AS medium_serial
           FROM sanitisations s JOIN media m USING (device_id, medium_id) JOIN devices d ON d.id = s.device_id
           WHERE s.device_id = $1 AND s.id > d.wipe_epoch ORDER BY s.medium_id, s.id DESC""",
        device["id"],
    )
    certificate_id = uuid.uuid4()
    issued_on = datetime.now(UTC).date()
    data = CertificateData(
        certificate_id=str(certificate_id), device_id=str(device["id"]), short_code=device["short_code"],
        kind=device["kind"], make=device["make"], model=device["model"], serial=device["serial"],
        donor=device["donor"], refurbisher=device["custodian"], issued_on=issued_on,
        qr_payload=label_payload(device["id"]),
        records=tuple(
            MediumRecord(
                medium_id=r["medium_id"], medium_type=r["type"], capacity_gb=r["capacity_gb"], serial=r["medium_serial"],
                method=r["method"], tool=r["tool"], tool_version=r["tool_version"], passes=r["passes"],
                verification=r["verification"], operator=r["operator"], started_at=r["started_at"],
                ended_at=r["ended_at"], result=r["result"], warnings=r["warnings"],
            )
            for r in rows
        ),
    )
    content = certificate_pdf(data)
    digest = hashlib.sha256(content).hexdigest()
    await conn.execute(
        "INSERT INTO certificates (id, device_id, sha256, content, issued_on) VALUES ($1, $2, $3, $4, $5)",
        certificate_id, device["id"], digest, content, issued_on,
    )
    return str(certificate_id), digest


def label_payload(device_id: uuid.UUID) -> str:
    """What a label's (and a certificate's) QR code encodes."""
    return f"passerelle:device:{device_id}"


async def labels_for(conn: asyncpg.Connection | asyncpg.Pool, device_ids: list[uuid.UUID] | None, batch_id: uuid.UUID | None) -> list[Any]:
    from .documents import LabelData

    rows = await conn.fetch(
        """SELECT id, short_code, kind, make, model, donor, asset_tag FROM devices
           WHERE ($1::uuid[] IS NULL OR id = ANY($1)) AND ($2::uuid IS NULL OR batch_id = $2) ORDER BY short_code""",
        device_ids, batch_id,
    )
    return [
        LabelData(device_id=str(r["id"]), short_code=r["short_code"], kind=r["kind"], make=r["make"], model=r["model"],
                  donor=r["donor"], asset_tag=r["asset_tag"], qr_payload=label_payload(r["id"]))
        for r in rows
    ]


# --- donors' milestones -----------------------------------------------------------------------


async def announce_milestones(
    conn: asyncpg.Connection, topic: str, batch_id: uuid.UUID, actor: Actor, correlation_id: uuid.UUID
) -> None:
    """Tell the donor, once each, when all of a batch was received, when all was sanitised (how
    many wiped, how many failed), and when every device was delivered or reached its end of life."""
    batch = await conn.fetchrow("SELECT * FROM batches WHERE id = $1 FOR UPDATE", batch_id)
    counts = await conn.fetchrow(
        """SELECT count(*) AS declared, count(*) FILTER (WHERE custodian <> donor) AS received,
                  count(*) FILTER (WHERE sanitisation IN ('wiped', 'destroyed')) AS wiped,
                  count(*) FILTER (WHERE sanitisation = 'failed') AS failed,
                  count(*) FILTER (WHERE allocation = 'delivered') AS delivered,
                  count(*) FILTER (WHERE allocation = 'delivered' OR physical IN ('disposed', 'for_parts')) AS settled
           FROM devices WHERE batch_id = $1""",
        batch_id,
    )
    reached = []
    if batch["received_announced_at"] is None and counts["received"] == counts["declared"]:
        reached.append(("received", "received_announced_at"))
    if batch["sanitised_announced_at"] is None and counts["wiped"] + counts["failed"] == counts["declared"]:
        reached.append(("sanitised", "sanitised_announced_at"))
    if batch["delivered_announced_at"] is None and counts["settled"] == counts["declared"] and counts["delivered"]:
        reached.append(("delivered", "delivered_announced_at"))
    counts = {k: v for k, v in counts.items() if k != "settled"}
    for milestone, column in reached:
        await conn.execute(f"UPDATE batches SET {column} = now() WHERE id = $1", batch_id)
        data = BatchMilestoneReached(batch_id=str(batch_id), donor=batch["donor"], reference=batch["reference"],
                                     milestone=milestone, **dict(counts))  # type: ignore[arg-type]
        await enqueue(conn, topic, _wrap(data, f"batch-{batch_id}", actor, correlation_id))
