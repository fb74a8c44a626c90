"""Redistribution: requests and their review, allocation of the stock under caps (with a
preview the operator confirms), deliveries the recipient acknowledges, six-monthly follow-ups,
returns and disposals."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter, defaultdict
from datetime import date
from typing import Any

import asyncpg
from passerelle_contracts import SYSTEM_ACTOR, Actor, Envelope
from passerelle_contracts.common import RECIPIENT_KINDS, FieldChange
from passerelle_contracts.equipment_v1 import (
    DeliveryFollowUpDue,
    DeviceDisposed,
    DeviceReturned,
    DevicesAllocated,
    DevicesDelivered,
    RequestReviewed,
    RequestSubmitted,
)

from services.runtime.errors import Conflict, Forbidden, Invalid, NotFound
from services.runtime.outbox import enqueue

from . import domain
from .record import announce_milestones

SOURCE = "equipment"
FOLLOW_UP_MONTHS = 6


def _wrap(data: Any, subject: str, actor: Actor, correlation_id: uuid.UUID) -> Envelope:
    return Envelope.wrap(data, source=SOURCE, subject=subject, actor=actor, correlation_id=correlation_id)


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


# --- requests ---------------------------------------------------------------------------------


async def submit_request(
    pool: asyncpg.Pool, topic: str, recipient: str, devices: dict[str, int], public: str | None, beneficiaries: int | None,
    commune: str | None, justification: str, actor: Actor, correlation_id: uuid.UUID,
) -> dict[str, Any]:
    if actor.role != "coordination" and not (actor.role == "recipient" and actor.organisation == recipient):
        raise Forbidden(f"{actor.organisation} ({actor.role}) may not ask devices for {recipient}")
    async with pool.acquire() as conn, conn.transaction():
        org = await conn.fetchrow("SELECT kind, commune FROM organisations WHERE code = $1", recipient)
        if org is None or org["kind"] not in RECIPIENT_KINDS:
            raise Invalid(f"{recipient} is not a known recipient organisation ({', '.join(RECIPIENT_KINDS)})")
        row = await conn.fetchrow(
            """INSERT INTO requests (id, recipient, recipient_kind, devices, public, beneficiaries, commune, justification)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
            uuid.uuid4(), recipient, org["kind"], devices, public, beneficiaries, commune or org["commune"], justification,
        )
        data = RequestSubmitted(request_id=str(row["id"]), recipient=recipient, recipient_kind=org["kind"], devices=devices,
                                public=public, beneficiaries=beneficiaries, commune=row["commune"])
        await enqueue(conn, topic, _wrap(data, f"request-{row['id']}", actor, correlation_id))
    return dict(row)


async def review_request(
    pool: asyncpg.Pool, topic: str, request_id: uuid.UUID, decision: str, granted: dict[str, int] | None, reason: str,
    priority: int | None, actor: Actor, correlation_id: uuid.UUID,
) -> dict[str, Any]:
    if actor.role != "coordination":
        raise Forbidden("only the Coordination reviews requests")
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow("SELECT * FROM requests WHERE id = $1 FOR UPDATE", request_id)
        if row is None:
            raise NotFound(f"no request {request_id}")
        if row["status"] != "submitted":
            raise Conflict(f"request {request_id} was already {row['status']}")
        asked: dict[str, int] = row["devices"]
        if decision == "accepted":
            granted = dict(asked)
        elif decision == "refused":
            granted = {}
            if not reason.strip():
                raise Invalid("a refusal needs a reason")
        else:
            granted = granted or {}
            over = {k: n for k, n in granted.items() if n > asked.get(k, 0)}
            if over or not any(granted.values()):
                raise Invalid(f"a partial acceptance grants between 1 and the requested number per kind; asked {asked}")
        updated = await conn.fetchrow(
            """UPDATE requests SET status = $2, granted = $3, reason = $4, priority = coalesce($5, priority),
                   reviewed_at = now() WHERE id = $1 RETURNING *""",
            request_id, decision, granted, reason, priority,
        )
        data = RequestReviewed(
            request_id=str(request_id), recipient=row["recipient"], recipient_kind=row["recipient_kind"], decision=decision,
            granted=granted, reason=reason, changes=[FieldChange(field="status", old="submitted", new=decision)],  # type: ignore[arg-type]
        )
        await enqueue(conn, topic, _wrap(data, f"request-{request_id}", actor, correlation_id))
    return dict(updated)  # type: ignore[arg-type]


# --- allocation -------------------------------------------------------------------------------


async def _inputs(conn: asyncpg.Connection | asyncpg.Pool, period: str, lock: bool) -> tuple[list[Any], list[Any], dict, dict]:
    requests = await conn.fetch(
        "SELECT * FROM requests WHERE status IN ('accepted', 'partially_accepted') ORDER BY submitted_at, id"
    )
    already: dict[str, Counter[str]] = defaultdict(Counter)
    for r in await conn.fetch(
        """SELECT a.request_id, d.kind, count(*) AS n FROM allocations a JOIN devices d ON d.id = a.device_id
           WHERE a.status IN ('allocated', 'delivered') GROUP BY 1, 2"""
    ):
        already[str(r["request_id"])][r["kind"]] = r["n"]
    stock = await conn.fetch(
        f"""SELECT id, kind, grade FROM devices
            WHERE allocation = 'available' AND physical = 'refurbished' AND sanitisation IN ('wiped', 'destroyed')
            ORDER BY id {'FOR UPDATE SKIP LOCKED' if lock else ''}"""
    )
    caps: dict[str, dict[str, int]] = defaultdict(dict)
    for c in await conn.fetch("SELECT * FROM caps WHERE period = $1", period):
        caps[c["recipient_kind"]][c["device_kind"]] = c["max_devices"]
    used: dict[str, dict[str, int]] = defaultdict(dict)
    for u in await conn.fetch(
        """SELECT r.recipient_kind, d.kind, count(*) AS n FROM allocations a JOIN requests r ON r.id = a.request_id
           JOIN devices d ON d.id = a.device_id WHERE a.period = $1 AND a.status IN ('allocated', 'delivered') GROUP BY 1, 2""",
        period,
    ):
        used[u["recipient_kind"]][u["kind"]] = u["n"]
    domain_requests = [
        domain.Request(str(r["id"]), r["recipient"], r["recipient_kind"], r["granted"], dict(already[str(r["id"])]),
                       r["submitted_at"].date(), r["priority"])
        for r in requests
    ]
    devices = [domain.Device(str(d["id"]), d["kind"], d["grade"]) for d in stock]
    return domain_requests, devices, dict(caps), dict(used)


def _summary(proposal: domain.Proposal, requests: list[domain.Request], kinds: dict[str, str]) -> dict[str, Any]:
    by_id = {r.id: r for r in requests}
    lines = []
    for request_id, device_ids in proposal.allocations.items():
        lines.append({"request_id": request_id, "recipient": by_id[request_id].recipient,
                      "devices": dict(Counter(kinds[d] for d in device_ids)), "device_ids": sorted(device_ids)})
    body = {"allocations": sorted(lines, key=lambda x: x["request_id"]), "waiting": proposal.unmet, "capped": proposal.capped}
    body["preview_token"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return body


async def preview_allocation(pool: asyncpg.Pool, period: str) -> dict[str, Any]:
    """What an allocation run would do now; nothing is written. Confirm with its preview_token."""
    requests, devices, caps, used = await _inputs(pool, period, lock=False)
    return _summary(domain.allocate(requests, devices, caps, used), requests, {d.id: d.kind for d in devices})


async def confirm_allocation(
    pool: asyncpg.Pool, topic: str, period: str, preview_token: str, actor: Actor, correlation_id: uuid.UUID
) -> dict[str, Any]:
    """Apply the allocation the operator previewed; refused if the stock or requests changed since."""
    if actor.role != "coordination":
        raise Forbidden("only the Coordination allocates devices")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(7231118201)")  # one allocation run at a time
        requests, devices, caps, used = await _inputs(conn, period, lock=True)
        proposal = domain.allocate(requests, devices, caps, used)
        summary = _summary(proposal, requests, {d.id: d.kind for d in devices})
        if summary["preview_token"] != preview_token:
            raise Conflict("the stock or the requests changed since the preview: preview again")
        run_id = uuid.uuid4()
        by_id = {r.id: r for r in requests}
        for line in summary["allocations"]:
            ids = [uuid.UUID(d) for d in line["device_ids"]]
            await conn.executemany(
                "INSERT INTO allocations (id, run_id, request_id, device_id, period) VALUES ($1, $2, $3, $4, $5)",
                [(uuid.uuid4(), run_id, uuid.UUID(line["request_id"]), d, period) for d in ids],
            )
            # The database refuses this for any device not fully sanitised (trigger), whatever happened since.
            await conn.execute("UPDATE devices SET allocation = 'allocated', version = version + 1, updated_at = now() "
                               "WHERE id = ANY($1::uuid[])", ids)
            await conn.executemany(
                "INSERT INTO device_history (device_id, action, actor, custodian, data) "
                "SELECT id, 'allocated', $2, custodian, $3 FROM devices WHERE id = $1",
                [(d, actor.model_dump(mode="json"), {"request_id": line["request_id"], "run_id": str(run_id)}) for d in ids],
            )
            request = by_id[line["request_id"]]
            data = DevicesAllocated(
                allocation_run=str(run_id), request_id=request.id, recipient=request.recipient,
                recipient_kind=request.recipient_kind, devices=line["devices"], total_devices=len(ids),  # type: ignore[arg-type]
                still_waiting=proposal.unmet.get(request.id, {}),  # type: ignore[arg-type]
            )
            await enqueue(conn, topic, _wrap(data, f"request-{request.id}", actor, correlation_id))
    return {**summary, "run_id": str(run_id)}


# --- delivery ---------------------------------------------------------------------------------


async def record_handover(
    pool: asyncpg.Pool, recipient: str, device_ids: list[uuid.UUID], delivered_on: date, actor: Actor
) -> dict[str, Any]:
    """The holder hands allocated devices to their recipient; they count as delivered once acknowledged."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """SELECT d.id, d.custodian, d.allocation, r.recipient FROM devices d
               JOIN allocations a ON a.device_id = d.id AND a.status = 'allocated'
               JOIN requests r ON r.id = a.request_id WHERE d.id = ANY($1::uuid[]) FOR UPDATE OF d""",
            device_ids,
        )
        if len(rows) != len(set(device_ids)):
            raise Conflict("every device handed over must be allocated (and not yet delivered)")
        if {r["recipient"] for r in rows} != {recipient}:
            raise Conflict(f"some devices are allocated to another recipient than {recipient}")
        holders = {r["custodian"] for r in rows}
        if actor.role != "coordination" and holders != {actor.organisation}:
            raise Forbidden(f"{actor.organisation} does not hold all these devices")
        await _check_sanitised(conn, device_ids)
        row = await conn.fetchrow(
            "INSERT INTO handovers (id, recipient, device_ids, delivered_on, recorded_by) VALUES ($1, $2, $3, $4, $5) RETURNING *",
            uuid.uuid4(), recipient, sorted(set(device_ids)), delivered_on, actor.model_dump(mode="json"),
        )
    return dict(row)  # type: ignore[arg-type]


async def _check_sanitised(conn: asyncpg.Connection, device_ids: list[uuid.UUID]) -> None:
    media = await conn.fetch("SELECT device_id, medium_id FROM media WHERE device_id = ANY($1::uuid[])", device_ids)
    records = await conn.fetch(
        """SELECT s.id, s.device_id, s.medium_id, s.method, s.result FROM sanitisations s JOIN devices d ON d.id = s.device_id
           WHERE s.device_id = ANY($1::uuid[]) AND s.id > d.wipe_epoch""",
        device_ids,
    )
    for device_id in device_ids:
        domain.require_sanitised(
            str(device_id),
            [m["medium_id"] for m in media if m["device_id"] == device_id],
            [domain.WipeRecord(r["medium_id"], r["method"], r["result"], r["id"]) for r in records if r["device_id"] == device_id],
        )


async def acknowledge_handover(
    pool: asyncpg.Pool, topic: str, handover_id: uuid.UUID, actor: Actor, correlation_id: uuid.UUID
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        handover = await conn.fetchrow("SELECT * FROM handovers WHERE id = $1 FOR UPDATE", handover_id)
        if handover is None:
            raise NotFound(f"no delivery {handover_id}")
        if actor.role != "coordination" and actor.organisation != handover["recipient"]:
            raise Forbidden(f"only {handover['recipient']} acknowledges this delivery")
        if handover["acknowledged_at"] is not None:
            raise Conflict(f"delivery {handover_id} was already acknowledged")
        ids = list(handover["device_ids"])
        await _check_sanitised(conn, ids)
        await conn.execute(
            "UPDATE devices SET allocation = 'delivered', custodian = $2, version = version + 1, updated_at = now() "
            "WHERE id = ANY($1::uuid[])", ids, handover["recipient"],
        )
        await conn.execute(
            "UPDATE allocations SET status = 'delivered', delivery_id = $2 WHERE device_id = ANY($1::uuid[]) AND status = 'allocated'",
            ids, handover_id,
        )
        await conn.executemany(
            "INSERT INTO device_history (device_id, action, actor, custodian, data) VALUES ($1, 'delivered', $2, $3, $4)",
            [(d, actor.model_dump(mode="json"), handover["recipient"], {"delivery_id": str(handover_id)}) for d in ids],
        )
        next_follow_up = add_months(handover["delivered_on"], FOLLOW_UP_MONTHS)
        await conn.execute("UPDATE handovers SET acknowledged_at = now(), next_follow_up = $2 WHERE id = $1",
                           handover_id, next_follow_up)
        groups = await conn.fetch(
            """SELECT d.donor, o.kind AS donor_kind, r.recipient_kind, r.public, r.commune, d.kind, count(*) AS n
               FROM devices d JOIN organisations o ON o.code = d.donor
               JOIN allocations a ON a.device_id = d.id AND a.delivery_id = $2 JOIN requests r ON r.id = a.request_id
               WHERE d.id = ANY($1::uuid[]) GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 6""",
            ids, handover_id,
        )
        # One event per donor (and public): the actions service counts donations of regional public
        # bodies (action 57) and deliveries by recipient kind (29, 30, 46, 47, 52).
        grouped: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
        for g in groups:
            grouped[(g["donor"], g["donor_kind"], g["recipient_kind"], g["public"], g["commune"])][g["kind"]] += g["n"]
        for (donor, donor_kind, recipient_kind, public, commune), kinds in grouped.items():
            data = DevicesDelivered(
                delivery_id=str(handover_id), recipient=handover["recipient"], recipient_kind=recipient_kind, donor=donor,
                donor_kind=donor_kind if donor_kind in ("regional-administration", "regional-public-body") else "other",
                devices=dict(kinds), total_devices=sum(kinds.values()), public=public, commune=commune,
                delivered_on=handover["delivered_on"],
            )
            await enqueue(conn, topic, _wrap(data, f"delivery-{handover_id}", actor, correlation_id))
        for batch_id in {r["batch_id"] for r in await conn.fetch("SELECT DISTINCT batch_id FROM devices WHERE id = ANY($1::uuid[])", ids)}:
            await announce_milestones(conn, topic, batch_id, actor, correlation_id)
    return {**dict(handover), "acknowledged": True, "next_follow_up": next_follow_up}


async def follow_ups_due(pool: asyncpg.Pool, topic: str, as_of: date) -> list[Envelope]:
    """Remind, every six months after a delivery, to check the devices are in use (each once)."""
    correlation_id = uuid.uuid4()
    sent: list[Envelope] = []
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT * FROM handovers WHERE acknowledged_at IS NOT NULL AND next_follow_up <= $1 ORDER BY id FOR UPDATE SKIP LOCKED",
            as_of,
        )
        for row in rows:
            due = row["next_follow_up"]
            while due <= as_of:  # a service stopped for long sends the latest due date only
                nxt = add_months(due, FOLLOW_UP_MONTHS)
                if nxt > as_of:
                    break
                due = nxt
            data = DeliveryFollowUpDue(delivery_id=str(row["id"]), recipient=row["recipient"],
                                       delivered_on=row["delivered_on"], due_on=due, devices=len(row["device_ids"]))
            envelope = _wrap(data, f"delivery-{row['id']}", SYSTEM_ACTOR, correlation_id)
            await enqueue(conn, topic, envelope)
            await conn.execute("UPDATE handovers SET next_follow_up = $2 WHERE id = $1", row["id"], add_months(due, FOLLOW_UP_MONTHS))
            sent.append(envelope)
    return sent


# --- returns and end of life ------------------------------------------------------------------


async def return_device(
    pool: asyncpg.Pool, topic: str, device_id: uuid.UUID, returned_to: str, reason: str, actor: Actor,
    correlation_id: uuid.UUID,
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        device = await conn.fetchrow("SELECT * FROM devices WHERE id = $1 FOR UPDATE", device_id)
        if device is None:
            raise NotFound(f"no device {device_id}")
        if device["allocation"] != "delivered":
            raise Conflict(f"device {device_id} is {device['allocation']}: only a delivered device is returned")
        if actor.role != "coordination" and actor.organisation != device["custodian"]:
            raise Forbidden(f"only {device['custodian']} returns this device")
        if await conn.fetchval("SELECT kind FROM organisations WHERE code = $1", returned_to) is None:
            raise Invalid(f"unknown organisation {returned_to}")
        # Back to the refurbisher, to be checked (and wiped again) before it can be allocated anew.
        await conn.execute(
            """UPDATE devices SET allocation = 'returned', custodian = $2, physical = 'to_repair',
                   sanitisation = CASE WHEN EXISTS (SELECT 1 FROM media WHERE device_id = $1) THEN 'pending' ELSE 'wiped' END,
                   wipe_epoch = coalesce((SELECT max(id) FROM sanitisations WHERE device_id = $1), 0),
                   version = version + 1, updated_at = now() WHERE id = $1""",
            device_id, returned_to,
        )
        await conn.execute("UPDATE allocations SET status = 'returned' WHERE device_id = $1 AND status = 'delivered'", device_id)
        await conn.execute(
            "INSERT INTO device_history (device_id, action, actor, custodian, data) VALUES ($1, 'returned', $2, $3, $4)",
            device_id, actor.model_dump(mode="json"), returned_to, {"from": device["custodian"], "reason": reason},
        )
        data = DeviceReturned(device_id=str(device_id), kind=device["kind"], recipient=device["custodian"],
                              returned_to=returned_to, reason=reason)
        await enqueue(conn, topic, _wrap(data, f"device-{device_id}", actor, correlation_id))
    return {"device_id": str(device_id), "allocation": "returned", "custodian": returned_to}


async def dispose_device(
    pool: asyncpg.Pool, topic: str, device_id: uuid.UUID, recycler: str, disposed_on: date, method: str,
    certificate_reference: str, actor: Actor, correlation_id: uuid.UUID,
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        device = await conn.fetchrow("SELECT * FROM devices WHERE id = $1 FOR UPDATE", device_id)
        if device is None:
            raise NotFound(f"no device {device_id}")
        if actor.role != "coordination" and actor.organisation != device["custodian"]:
            raise Forbidden(f"only {device['custodian']} disposes of this device")
        if device["allocation"] in ("allocated", "delivered"):
            raise Conflict(f"device {device_id} is {device['allocation']}: return it before disposing of it")
        domain.physical_move(str(device_id), device["physical"], "disposed")
        await conn.execute("UPDATE devices SET physical = 'disposed', version = version + 1, updated_at = now() WHERE id = $1",
                           device_id)
        await conn.execute(
            """INSERT INTO disposals (device_id, recycler, disposed_on, method, certificate_reference, recorded_by)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            device_id, recycler, disposed_on, method, certificate_reference, actor.model_dump(mode="json"),
        )
        await conn.execute(
            "INSERT INTO device_history (device_id, action, actor, custodian, data) VALUES ($1, 'disposed', $2, $3, $4)",
            device_id, actor.model_dump(mode="json"), device["custodian"],
            {"recycler": recycler, "method": method, "certificate_reference": certificate_reference},
        )
        data = DeviceDisposed(device_id=str(device_id), kind=device["kind"], donor=device["donor"], recycler=recycler,
                              disposed_on=disposed_on, method=method, certificate_reference=certificate_reference)
        await enqueue(conn, topic, _wrap(data, f"device-{device_id}", actor, correlation_id))
        await announce_milestones(conn, topic, device["batch_id"], actor, correlation_id)
    return {"device_id": str(device_id), "physical": "disposed"}


WEEE_COLUMNS = ("short_code", "device_id", "kind", "make", "model", "year", "donor", "recycler", "disposed_on", "method",
                "certificate_reference")


async def weee_rows(conn: asyncpg.Connection | asyncpg.Pool, year: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT d.short_code, d.id AS device_id, d.kind, d.make, d.model, d.year, d.donor, x.recycler, x.disposed_on,
                  x.method, x.certificate_reference
           FROM disposals x JOIN devices d ON d.id = x.device_id
           WHERE extract(year FROM x.disposed_on) = $1 ORDER BY x.disposed_on, d.short_code""",
        year,
    )
