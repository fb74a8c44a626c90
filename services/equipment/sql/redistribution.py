"""Redistribution's SQL: requests and caps, allocation runs, handovers and their acknowledgement,
follow-ups, returns, disposals and the WEEE register, and the count-only declared deliveries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from passerelle_contracts import Actor
from passerelle_contracts.equipment_v1 import DevicesDelivered

from ..domain import NO_STORAGE_KINDS
from .base import Queries, Row, actor_json, visible

Counts = dict[str, dict[str, int]]
# Any constant works: it serialises allocation runs (one at a time, whatever the replica).
ALLOCATION_LOCK_KEY = 7_231_118_201
STOCK = """SELECT id, kind, grade FROM devices
           WHERE allocation = 'available' AND physical = 'refurbished' AND sanitisation IN ('wiped', 'destroyed')
           ORDER BY id"""
WEEE_ROWS = f"""SELECT d.short_code, d.id AS device_id, d.kind, d.make, d.model, d.year, d.donor, x.recycler,
                      x.disposed_on, x.method, x.certificate_reference
               FROM disposals x JOIN devices d ON d.id = x.device_id
               WHERE extract(year FROM x.disposed_on) = $1 AND {visible("$2", "d")}
               ORDER BY x.disposed_on, d.short_code"""  # noqa: S608 - constants only (base.visible)


class RedistributionQueries(Queries):
    # -- requests and caps ------------------------------------------------------------------------
    async def add_request(
        self,
        recipient: str,
        recipient_kind: str,
        devices: dict[str, int],
        public: str | None,
        beneficiaries: int | None,
        commune: str | None,
        justification: str,
    ) -> Row:
        row = await self.db.fetchrow(
            """INSERT INTO requests (id, recipient, recipient_kind, devices, public, beneficiaries, commune, justification)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
            uuid.uuid4(),
            recipient,
            recipient_kind,
            devices,
            public,
            beneficiaries,
            commune,
            justification,
        )
        assert row is not None
        return dict(row)

    async def lock_request(self, request_id: uuid.UUID) -> Row | None:
        row = await self.db.fetchrow("SELECT * FROM requests WHERE id = $1 FOR UPDATE", request_id)
        return None if row is None else dict(row)

    async def set_review(
        self, request_id: uuid.UUID, decision: str, granted: dict[str, int], reason: str, priority: int | None
    ) -> Row:
        row = await self.db.fetchrow(
            """UPDATE requests SET status = $2, granted = $3, reason = $4, priority = coalesce($5, priority),
                   reviewed_at = now() WHERE id = $1 RETURNING *""",
            request_id,
            decision,
            granted,
            reason,
            priority,
        )
        assert row is not None
        return dict(row)

    async def requests(self, status: str | None = None, recipient: str | None = None) -> list[Row]:
        """Requests (of one status, of one recipient, if given), oldest first, with how many devices they hold."""
        rows = await self.db.fetch(
            """SELECT q.*, (SELECT count(*) FROM allocations a WHERE a.request_id = q.id
                                                                AND a.status IN ('allocated', 'delivered')) AS allocated
               FROM requests q WHERE ($1::text IS NULL OR q.status = $1) AND ($2::text IS NULL OR q.recipient = $2)
               ORDER BY q.submitted_at""",
            status,
            recipient,
        )
        return [dict(r) for r in rows]

    async def put_cap(self, period: str, recipient_kind: str, device_kind: str, max_devices: int) -> Row:
        row = await self.db.fetchrow(
            """INSERT INTO caps (recipient_kind, device_kind, period, max_devices) VALUES ($1, $2, $3, $4)
               ON CONFLICT (recipient_kind, device_kind, period) DO UPDATE SET max_devices = EXCLUDED.max_devices
               RETURNING *""",
            recipient_kind,
            device_kind,
            period,
            max_devices,
        )
        assert row is not None
        return dict(row)

    async def caps(self) -> list[Row]:
        return [dict(r) for r in await self.db.fetch("SELECT * FROM caps ORDER BY period, recipient_kind, device_kind")]

    # -- allocation -------------------------------------------------------------------------------
    async def lock_allocation_runs(self) -> None:
        """One allocation run at a time, until this transaction ends."""
        await self.db.execute("SELECT pg_advisory_xact_lock($1)", ALLOCATION_LOCK_KEY)

    async def accepted_requests(self) -> list[Row]:
        return [
            dict(r)
            for r in await self.db.fetch(
                "SELECT * FROM requests WHERE status IN ('accepted', 'partially_accepted') ORDER BY submitted_at, id"
            )
        ]

    async def allocated_per_request(self) -> Counts:
        """request id -> device kind -> how many devices it holds (allocated or delivered)."""
        counts: Counts = {}
        for r in await self.db.fetch(
            """SELECT a.request_id, d.kind, count(*) AS n FROM allocations a JOIN devices d ON d.id = a.device_id
               WHERE a.status IN ('allocated', 'delivered') GROUP BY 1, 2"""
        ):
            counts.setdefault(str(r["request_id"]), {})[r["kind"]] = r["n"]
        return counts

    async def allocatable_stock(self, *, lock: bool) -> list[Row]:
        """Devices refurbished, sanitised and available (id, kind, grade), in id order; with
        ``lock``, their rows are locked (rows other transactions hold are skipped)."""
        rows = await self.db.fetch(STOCK + " FOR UPDATE SKIP LOCKED" if lock else STOCK)
        return [dict(r) for r in rows]

    async def caps_of(self, period: str) -> Counts:
        """recipient kind -> device kind -> the period's cap."""
        caps: Counts = {}
        for c in await self.db.fetch("SELECT * FROM caps WHERE period = $1", period):
            caps.setdefault(c["recipient_kind"], {})[c["device_kind"]] = c["max_devices"]
        return caps

    async def used_in(self, period: str) -> Counts:
        """recipient kind -> device kind -> how many devices the period's runs gave (and were not returned)."""
        used: Counts = {}
        for u in await self.db.fetch(
            """SELECT r.recipient_kind, d.kind, count(*) AS n FROM allocations a JOIN requests r ON r.id = a.request_id
               JOIN devices d ON d.id = a.device_id WHERE a.period = $1 AND a.status IN ('allocated', 'delivered')
               GROUP BY 1, 2""",
            period,
        ):
            used.setdefault(u["recipient_kind"], {})[u["kind"]] = u["n"]
        return used

    async def allocate(
        self, run_id: uuid.UUID, request_id: uuid.UUID, period: str, device_ids: Sequence[uuid.UUID], actor: Actor
    ) -> None:
        await self.db.executemany(
            "INSERT INTO allocations (id, run_id, request_id, device_id, period) VALUES ($1, $2, $3, $4, $5)",
            [(uuid.uuid4(), run_id, request_id, d, period) for d in device_ids],
        )
        # The database refuses this for any device not fully sanitised (trigger), whatever happened since.
        await self.db.execute(
            "UPDATE devices SET allocation = 'allocated', version = version + 1, updated_at = now() "
            "WHERE id = ANY($1::uuid[])",
            list(device_ids),
        )
        await self.db.executemany(
            "INSERT INTO device_history (device_id, action, actor, custodian, data) "
            "SELECT id, 'allocated', $2, custodian, $3 FROM devices WHERE id = $1",
            [(d, actor_json(actor), {"request_id": str(request_id), "run_id": str(run_id)}) for d in device_ids],
        )

    # -- delivery ---------------------------------------------------------------------------------
    async def lock_allocated(self, device_ids: Sequence[uuid.UUID]) -> list[Row]:
        """The devices among ``device_ids`` allocated and not delivered yet (id, custodian,
        allocation, the request's recipient, and the open handover they are in, if any), their
        rows locked."""
        rows = await self.db.fetch(
            """SELECT d.id, d.custodian, d.allocation, r.recipient, a.handover_id FROM devices d
               JOIN allocations a ON a.device_id = d.id AND a.status = 'allocated'
               JOIN requests r ON r.id = a.request_id WHERE d.id = ANY($1::uuid[]) ORDER BY d.id FOR UPDATE OF d""",
            list(device_ids),
        )
        return [dict(r) for r in rows]

    async def add_handover(
        self, holder: str, recipient: str, device_ids: Sequence[uuid.UUID], delivered_on: date, actor: Actor
    ) -> Row:
        """A handover of allocated devices by their ``holder``; their allocations name it (one open
        handover each)."""
        row = await self.db.fetchrow(
            """INSERT INTO handovers (id, from_org, recipient, device_ids, delivered_on, recorded_by)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
            uuid.uuid4(),
            holder,
            recipient,
            sorted(set(device_ids)),
            delivered_on,
            actor_json(actor),
        )
        assert row is not None
        await self.db.execute(
            "UPDATE allocations SET handover_id = $2 WHERE device_id = ANY($1::uuid[]) AND status = 'allocated'",
            list(device_ids),
            row["id"],
        )
        return dict(row)

    async def lock_handed_over(self, handover_id: uuid.UUID) -> list[uuid.UUID]:
        """The handover's devices still allocated for it, their rows locked: fewer than it lists
        when it went stale (a device released, returned or allocated anew since)."""
        rows = await self.db.fetch(
            """SELECT d.id FROM devices d JOIN allocations a ON a.device_id = d.id
               WHERE a.handover_id = $1 AND a.status = 'allocated' ORDER BY d.id FOR UPDATE OF d""",
            handover_id,
        )
        return [r["id"] for r in rows]

    async def cancel_handover(self, handover_id: uuid.UUID, actor: Actor) -> Row:
        """Close a handover not acknowledged: its devices stay allocated, free for another handover."""
        await self.db.execute(
            "UPDATE allocations SET handover_id = NULL WHERE handover_id = $1 AND status = 'allocated'", handover_id
        )
        row = await self.db.fetchrow(
            "UPDATE handovers SET cancelled_at = now(), cancelled_by = $2 WHERE id = $1 RETURNING *",
            handover_id,
            actor_json(actor),
        )
        assert row is not None
        return dict(row)

    async def release_allocation(self, device_id: uuid.UUID, actor: Actor, reason: str) -> None:
        """The device leaves its allocation (not delivered): back to the stock once it qualifies again."""
        await self.db.execute(
            "UPDATE allocations SET status = 'cancelled' WHERE device_id = $1 AND status = 'allocated'", device_id
        )
        await self.db.execute(
            "UPDATE devices SET allocation = 'available', version = version + 1, updated_at = now() WHERE id = $1",
            device_id,
        )
        await self.db.execute(
            "INSERT INTO device_history (device_id, action, actor, custodian, data) "
            "SELECT id, 'allocation-cancelled', $2, custodian, $3 FROM devices WHERE id = $1",
            device_id,
            actor_json(actor),
            {"reason": reason},
        )

    async def lock_handover(self, handover_id: uuid.UUID) -> Row | None:
        row = await self.db.fetchrow("SELECT * FROM handovers WHERE id = $1 FOR UPDATE", handover_id)
        return None if row is None else dict(row)

    async def deliver(
        self,
        handover_id: uuid.UUID,
        recipient: str,
        device_ids: Sequence[uuid.UUID],
        next_follow_up: date,
        actor: Actor,
    ) -> None:
        """The recipient holds the devices now: their allocations are delivered, the handover is
        acknowledged with its first follow-up date (the trigger refuses an unsanitised device)."""
        ids = list(device_ids)
        await self.db.execute(
            "UPDATE devices SET allocation = 'delivered', custodian = $2, version = version + 1, updated_at = now() "
            "WHERE id = ANY($1::uuid[])",
            ids,
            recipient,
        )
        await self.db.execute(
            "UPDATE allocations SET status = 'delivered', delivery_id = $2 "
            "WHERE device_id = ANY($1::uuid[]) AND status = 'allocated' AND handover_id = $2",
            ids,
            handover_id,
        )
        await self.db.executemany(
            "INSERT INTO device_history (device_id, action, actor, custodian, data) VALUES ($1, 'delivered', $2, $3, $4)",
            [(d, actor_json(actor), recipient, {"delivery_id": str(handover_id)}) for d in ids],
        )
        await self.db.execute(
            "UPDATE handovers SET acknowledged_at = now(), next_follow_up = $2 WHERE id = $1",
            handover_id,
            next_follow_up,
        )

    async def delivered_groups(self, handover_id: uuid.UUID, device_ids: Sequence[uuid.UUID]) -> list[Row]:
        """A delivery's devices counted by donor (and its kind), recipient kind, public, commune and
        device kind, in donor then device kind order."""
        rows = await self.db.fetch(
            """SELECT d.donor, o.kind AS donor_kind, r.recipient_kind, r.public, r.commune, d.kind, count(*) AS n
               FROM devices d JOIN organisations o ON o.code = d.donor
               JOIN allocations a ON a.device_id = d.id AND a.delivery_id = $2 JOIN requests r ON r.id = a.request_id
               WHERE d.id = ANY($1::uuid[]) GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 6""",
            list(device_ids),
            handover_id,
        )
        return [dict(r) for r in rows]

    async def lock_due_follow_ups(self, as_of: date) -> list[Row]:
        """Acknowledged deliveries whose follow-up is due by ``as_of``; those another transaction
        holds are skipped (every replica runs the check)."""
        rows = await self.db.fetch(
            """SELECT * FROM handovers WHERE acknowledged_at IS NOT NULL AND next_follow_up <= $1
               ORDER BY id FOR UPDATE SKIP LOCKED""",
            as_of,
        )
        return [dict(r) for r in rows]

    async def set_next_follow_up(self, handover_id: uuid.UUID, next_follow_up: date) -> None:
        await self.db.execute("UPDATE handovers SET next_follow_up = $2 WHERE id = $1", handover_id, next_follow_up)

    # -- returns and end of life ------------------------------------------------------------------
    async def return_device(
        self, device_id: uuid.UUID, from_org: str, returned_to: str, reason: str, actor: Actor
    ) -> None:
        """Back to the refurbisher, to be checked (and wiped again) before it can be allocated anew:
        the records made so far no longer count (``wipe_epoch``). A device of a kind that may hold
        storage and has no media on record (found without, or handed on before media were
        inspected) has its media unknown again: a disk may have been fitted since. A screen without
        media keeps its state (it holds none by nature)."""
        await self.db.execute(
            """UPDATE devices SET allocation = 'returned', custodian = $2, physical = 'to_repair',
                   sanitisation = CASE WHEN NOT has_media AND kind = ANY($3::text[]) THEN sanitisation ELSE 'pending' END,
                   media_known = media_known AND (has_media OR kind = ANY($3::text[])),
                   wipe_epoch = coalesce((SELECT max(id) FROM sanitisations WHERE device_id = $1), 0),
                   version = version + 1, updated_at = now()
               FROM (SELECT EXISTS (SELECT 1 FROM media WHERE device_id = $1) AS has_media) m
               WHERE id = $1""",
            device_id,
            returned_to,
            list(NO_STORAGE_KINDS),
        )
        await self.db.execute(
            "UPDATE allocations SET status = 'returned' WHERE device_id = $1 AND status = 'delivered'", device_id
        )
        await self.db.execute(
            "INSERT INTO device_history (device_id, action, actor, custodian, data) VALUES ($1, 'returned', $2, $3, $4)",
            device_id,
            actor_json(actor),
            returned_to,
            {"from": from_org, "reason": reason},
        )

    async def dispose(
        self,
        device_id: uuid.UUID,
        custodian: str,
        recycler: str,
        disposed_on: date,
        method: str,
        certificate_reference: str,
        actor: Actor,
    ) -> None:
        await self.db.execute(
            "UPDATE devices SET physical = 'disposed', version = version + 1, updated_at = now() WHERE id = $1",
            device_id,
        )
        await self.db.execute(
            """INSERT INTO disposals (device_id, recycler, disposed_on, method, certificate_reference, recorded_by)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            device_id,
            recycler,
            disposed_on,
            method,
            certificate_reference,
            actor_json(actor),
        )
        await self.db.execute(
            "INSERT INTO device_history (device_id, action, actor, custodian, data) VALUES ($1, 'disposed', $2, $3, $4)",
            device_id,
            actor_json(actor),
            custodian,
            {"recycler": recycler, "method": method, "certificate_reference": certificate_reference},
        )

    async def weee_rows(self, year: int, visible_to: str | None = None) -> list[Row]:
        """The year's disposals; only of the devices ``visible_to`` reads, if given."""
        rows = await self.db.fetch(WEEE_ROWS, year, visible_to)
        return [dict(r) for r in rows]

    # -- declared deliveries (count only) ---------------------------------------------------------
    async def add_delivery(self, delivery: DevicesDelivered, idempotency_key: str | None, actor: Actor) -> Row:
        row = await self.db.fetchrow(
            """INSERT INTO deliveries (delivery_id, idempotency_key, recipient, recipient_kind, donor, donor_kind, devices,
                   total_devices, public, beneficiaries, commune, delivered_on, recorded_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *""",
            uuid.UUID(delivery.delivery_id),
            idempotency_key,
            delivery.recipient,
            delivery.recipient_kind,
            delivery.donor,
            delivery.donor_kind,
            delivery.devices,
            delivery.total_devices,
            delivery.public,
            delivery.beneficiaries,
            delivery.commune,
            delivery.delivered_on,
            actor_json(actor),
        )
        assert row is not None
        return dict(row)
