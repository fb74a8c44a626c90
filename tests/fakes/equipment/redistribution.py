"""Requests, caps, allocation, delivery, returns and end of life: what ``sql/redistribution.py`` does, in memory."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg
from passerelle_contracts import Actor
from passerelle_contracts.equipment_v1 import DevicesDelivered

from services.equipment.domain import NO_STORAGE_KINDS

from .base import LIVE, Counts, FakeTables, Row, _json, _now


class FakeRedistribution(FakeTables):
    # -- requests and caps ----------------------------------------------------------------------
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
        request_id = uuid.uuid4()
        self.requests_[request_id] = {
            "id": request_id,
            "recipient": recipient,
            "recipient_kind": recipient_kind,
            "devices": dict(devices),
            "public": public,
            "beneficiaries": beneficiaries,
            "commune": commune,
            "justification": justification,
            "priority": 0,
            "status": "submitted",
            "granted": {},
            "reason": "",
            "submitted_at": _now(),
            "reviewed_at": None,
        }
        self._lock("request", request_id)
        return dict(self.requests_[request_id])

    async def lock_request(self, request_id: uuid.UUID) -> Row | None:
        row = self.requests_.get(request_id)
        if row is None:
            return None
        self._lock("request", request_id)
        return dict(row)

    async def set_review(
        self, request_id: uuid.UUID, decision: str, granted: dict[str, int], reason: str, priority: int | None
    ) -> Row:
        row = self.requests_[request_id]
        row.update(
            status=decision,
            granted=dict(granted),
            reason=reason,
            reviewed_at=_now(),
            priority=row["priority"] if priority is None else priority,
        )
        return dict(row)

    async def requests(self, status: str | None = None, recipient: str | None = None) -> list[Row]:
        rows = [
            {**r, "allocated": sum(a["request_id"] == r["id"] and a["status"] in LIVE for a in self.allocations)}
            for r in self.requests_.values()
            if (status is None or r["status"] == status) and (recipient is None or r["recipient"] == recipient)
        ]
        return sorted(rows, key=lambda r: r["submitted_at"])

    async def put_cap(self, period: str, recipient_kind: str, device_kind: str, max_devices: int) -> Row:
        self.caps_[(recipient_kind, device_kind, period)] = {
            "recipient_kind": recipient_kind,
            "device_kind": device_kind,
            "period": period,
            "max_devices": max_devices,
        }
        return dict(self.caps_[(recipient_kind, device_kind, period)])

    async def caps(self) -> list[Row]:
        return [
            dict(c)
            for c in sorted(self.caps_.values(), key=lambda c: (c["period"], c["recipient_kind"], c["device_kind"]))
        ]

    # -- allocation -----------------------------------------------------------------------------
    async def lock_allocation_runs(self) -> None:
        self.allocation_runs_locked += 1
        self.locked.add("allocation-runs")

    async def accepted_requests(self) -> list[Row]:
        rows = [dict(r) for r in self.requests_.values() if r["status"] in ("accepted", "partially_accepted")]
        if "allocation-runs" in self.locked:
            # A request's DevicesAllocated events are ordered by the allocation runs' lock: a run
            # reads accepted requests only, which no review changes any more.
            self._lock("request", *(r["id"] for r in rows))
        return sorted(rows, key=lambda r: (r["submitted_at"], r["id"]))

    async def allocated_per_request(self) -> Counts:
        counts: Counts = {}
        for a in self.allocations:
            if a["status"] in LIVE:
                kinds = counts.setdefault(str(a["request_id"]), {})
                kind = self.devices[a["device_id"]]["kind"]
                kinds[kind] = kinds.get(kind, 0) + 1
        return counts

    async def allocatable_stock(self, *, lock: bool) -> list[Row]:
        return [
            {"id": d["id"], "kind": d["kind"], "grade": d["grade"]}
            for d in sorted(self.devices.values(), key=lambda d: d["id"])
            if d["allocation"] == "available"
            and d["physical"] == "refurbished"
            and d["sanitisation"] in ("wiped", "destroyed")
        ]

    async def caps_of(self, period: str) -> Counts:
        caps: Counts = {}
        for c in self.caps_.values():
            if c["period"] == period:
                caps.setdefault(c["recipient_kind"], {})[c["device_kind"]] = c["max_devices"]
        return caps

    async def used_in(self, period: str) -> Counts:
        used: Counts = {}
        for a in self.allocations:
            if a["period"] == period and a["status"] in LIVE:
                kinds = used.setdefault(self.requests_[a["request_id"]]["recipient_kind"], {})
                kind = self.devices[a["device_id"]]["kind"]
                kinds[kind] = kinds.get(kind, 0) + 1
        return used

    async def allocate(
        self, run_id: uuid.UUID, request_id: uuid.UUID, period: str, device_ids: Sequence[uuid.UUID], actor: Actor
    ) -> None:
        live = {a["device_id"] for a in self.allocations if a["status"] in LIVE}
        for device_id in device_ids:
            if device_id in live:
                raise asyncpg.UniqueViolationError(f"device {device_id} already serves a request")
            self.allocations.append(
                {
                    "id": uuid.uuid4(),
                    "run_id": run_id,
                    "request_id": request_id,
                    "device_id": device_id,
                    "period": period,
                    "status": "allocated",
                    "delivery_id": None,
                    "handover_id": None,
                    "created_at": _now(),
                }
            )
        for device_id in device_ids:
            self._write_device(self.devices[device_id], allocation="allocated")
            self._lock("device", device_id)
        for device_id in device_ids:
            self._history(
                device_id,
                "allocated",
                actor,
                self.devices[device_id]["custodian"],
                {"request_id": str(request_id), "run_id": str(run_id)},
            )

    # -- delivery -------------------------------------------------------------------------------
    async def lock_allocated(self, device_ids: Sequence[uuid.UUID]) -> list[Row]:
        wanted = set(device_ids)
        self._lock(
            "device",
            *(a["device_id"] for a in self.allocations if a["status"] == "allocated" and a["device_id"] in wanted),
        )
        rows = [
            {
                "id": a["device_id"],
                "custodian": self.devices[a["device_id"]]["custodian"],
                "allocation": self.devices[a["device_id"]]["allocation"],
                "recipient": self.requests_[a["request_id"]]["recipient"],
                "handover_id": a["handover_id"],
            }
            for a in self.allocations
            if a["status"] == "allocated" and a["device_id"] in wanted
        ]
        return sorted(rows, key=lambda r: r["id"])

    async def add_handover(
        self, holder: str, recipient: str, device_ids: Sequence[uuid.UUID], delivered_on: date, actor: Actor
    ) -> Row:
        handover_id = uuid.uuid4()
        self.handovers[handover_id] = {
            "id": handover_id,
            "from_org": holder,
            "recipient": recipient,
            "device_ids": sorted(set(device_ids)),
            "delivered_on": delivered_on,
            "recorded_by": _json(actor),
            "acknowledged_at": None,
            "next_follow_up": None,
            "created_at": _now(),
            "cancelled_at": None,
            "cancelled_by": None,
        }
        for a in self.allocations:
            if a["device_id"] in set(device_ids) and a["status"] == "allocated":
                a["handover_id"] = handover_id
        self._lock("delivery", handover_id)
        return {**self.handovers[handover_id], "device_ids": list(self.handovers[handover_id]["device_ids"])}

    async def lock_handed_over(self, handover_id: uuid.UUID) -> list[uuid.UUID]:
        ids = sorted(
            a["device_id"] for a in self.allocations if a["handover_id"] == handover_id and a["status"] == "allocated"
        )
        self._lock("device", *ids)
        return ids

    async def cancel_handover(self, handover_id: uuid.UUID, actor: Actor) -> Row:
        for a in self.allocations:
            if a["handover_id"] == handover_id and a["status"] == "allocated":
                a["handover_id"] = None
        row = self.handovers[handover_id]
        row.update(cancelled_at=_now(), cancelled_by=_json(actor))
        return {**row, "device_ids": list(row["device_ids"])}

    async def release_allocation(self, device_id: uuid.UUID, actor: Actor, reason: str) -> None:
        for a in self.allocations:
            if a["device_id"] == device_id and a["status"] == "allocated":
                a["status"] = "cancelled"
        device = self.devices[device_id]
        self._write_device(device, allocation="available")
        self._history(device_id, "allocation-cancelled", actor, device["custodian"], {"reason": reason})

    async def lock_handover(self, handover_id: uuid.UUID) -> Row | None:
        row = self.handovers.get(handover_id)
        if row is None:
            return None
        self._lock("delivery", handover_id)
        return {**row, "device_ids": list(row["device_ids"])}

    async def deliver(
        self,
        handover_id: uuid.UUID,
        recipient: str,
        device_ids: Sequence[uuid.UUID],
        next_follow_up: date,
        actor: Actor,
    ) -> None:
        for device_id in device_ids:
            self._write_device(self.devices[device_id], allocation="delivered", custodian=recipient)
            self._lock("device", device_id)
        for a in self.allocations:
            if a["device_id"] in set(device_ids) and a["status"] == "allocated" and a["handover_id"] == handover_id:
                a.update(status="delivered", delivery_id=handover_id)
        for device_id in device_ids:
            self._history(device_id, "delivered", actor, recipient, {"delivery_id": str(handover_id)})
        self.handovers[handover_id].update(acknowledged_at=_now(), next_follow_up=next_follow_up)

    async def delivered_groups(self, handover_id: uuid.UUID, device_ids: Sequence[uuid.UUID]) -> list[Row]:
        counts: dict[tuple[Any, ...], int] = {}
        for a in self.allocations:
            if a["delivery_id"] != handover_id or a["device_id"] not in set(device_ids):
                continue
            device, request = self.devices[a["device_id"]], self.requests_[a["request_id"]]
            key = (
                device["donor"],
                self.organisations_[device["donor"]]["kind"],
                request["recipient_kind"],
                request["public"],
                request["commune"],
                device["kind"],
            )
            counts[key] = counts.get(key, 0) + 1
        columns = ("donor", "donor_kind", "recipient_kind", "public", "commune", "kind")
        rows = [{**dict(zip(columns, key, strict=True)), "n": n} for key, n in counts.items()]
        return sorted(rows, key=lambda r: (r["donor"], r["kind"]))

    async def lock_due_follow_ups(self, as_of: date) -> list[Row]:
        due = [
            {**h, "device_ids": list(h["device_ids"])}
            for h in sorted(self.handovers.values(), key=lambda h: h["id"])
            if h["acknowledged_at"] is not None and h["next_follow_up"] is not None and h["next_follow_up"] <= as_of
        ]
        self._lock("delivery", *(h["id"] for h in due))
        return due

    async def set_next_follow_up(self, handover_id: uuid.UUID, next_follow_up: date) -> None:
        self.handovers[handover_id]["next_follow_up"] = next_follow_up

    # -- returns and end of life ----------------------------------------------------------------
    async def return_device(
        self, device_id: uuid.UUID, from_org: str, returned_to: str, reason: str, actor: Actor
    ) -> None:
        device = self.devices[device_id]
        records = [s["id"] for s in self.sanitisations if s["device_id"] == device_id]
        nothing_to_wipe = not self.media.get(device_id) and device["kind"] in NO_STORAGE_KINDS
        self._write_device(
            device,
            allocation="returned",
            custodian=returned_to,
            physical="to_repair",
            sanitisation=device["sanitisation"] if nothing_to_wipe else "pending",
            media_known=device["media_known"] and (bool(self.media.get(device_id)) or nothing_to_wipe),
            wipe_epoch=max(records, default=0),
        )
        for a in self.allocations:
            if a["device_id"] == device_id and a["status"] == "delivered":
                a["status"] = "returned"
        self._history(device_id, "returned", actor, returned_to, {"from": from_org, "reason": reason})

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
        if device_id in self.disposals:
            raise asyncpg.UniqueViolationError(f"device {device_id} was disposed of already")
        self._write_device(self.devices[device_id], physical="disposed")
        self.disposals[device_id] = {
            "device_id": device_id,
            "recycler": recycler,
            "disposed_on": disposed_on,
            "method": method,
            "certificate_reference": certificate_reference,
            "recorded_by": _json(actor),
            "recorded_at": _now(),
        }
        self._history(
            device_id,
            "disposed",
            actor,
            custodian,
            {"recycler": recycler, "method": method, "certificate_reference": certificate_reference},
        )

    async def weee_rows(self, year: int, visible_to: str | None = None) -> list[Row]:
        rows = []
        for x in self.disposals.values():
            d = self.devices[x["device_id"]]
            if x["disposed_on"].year != year or not self._visible(d, visible_to):
                continue
            rows.append(
                {
                    "short_code": d["short_code"],
                    "device_id": d["id"],
                    "kind": d["kind"],
                    "make": d["make"],
                    "model": d["model"],
                    "year": d["year"],
                    "donor": d["donor"],
                    "recycler": x["recycler"],
                    "disposed_on": x["disposed_on"],
                    "method": x["method"],
                    "certificate_reference": x["certificate_reference"],
                }
            )
        return sorted(rows, key=lambda r: (r["disposed_on"], r["short_code"]))

    # -- declared deliveries --------------------------------------------------------------------
    async def add_delivery(self, delivery: DevicesDelivered, idempotency_key: str | None, actor: Actor) -> Row:
        delivery_id = uuid.UUID(delivery.delivery_id)
        self.deliveries[delivery_id] = {
            "delivery_id": delivery_id,
            "idempotency_key": idempotency_key,
            "recipient": delivery.recipient,
            "recipient_kind": delivery.recipient_kind,
            "donor": delivery.donor,
            "donor_kind": delivery.donor_kind,
            "devices": dict(delivery.devices),
            "total_devices": delivery.total_devices,
            "public": delivery.public,
            "beneficiaries": delivery.beneficiaries,
            "commune": delivery.commune,
            "delivered_on": delivery.delivered_on,
            "recorded_by": _json(actor),
            "recorded_at": _now(),
        }
        self._lock("delivery", delivery_id)
        return dict(self.deliveries[delivery_id])
