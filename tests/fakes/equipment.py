"""The equipment service's repository in memory, for use-case unit tests.

It answers as ``services.equipment.sql.EquipmentRepository`` does (the same rows, keys and
orders) and keeps the database's rules the use cases rely on: a device whose sanitisation is not
complete is never reserved, allocated or delivered (the trigger of migration 0002, raising the
same error), a device serves one request at a time, a donor's asset tag and a batch reference
are unique. ``tests/integration/test_equipment_repository.py`` runs the same tests on both.

Not implemented: ``paths_until`` (the figures' query, a window over the whole history that
only PostgreSQL runs; the figures are tested through HTTP in test_equipment_redistribution.py).
Row locks do not block (one fake unit of work runs at a time) but are recorded, so that the fake
unit of work checks every event is emitted after its aggregate's row was locked.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, cast

import asyncpg
from passerelle_contracts import Actor, Envelope, EventData
from passerelle_contracts.equipment_v1 import DevicesDelivered

from services.equipment.domain import DeclaredDevice, Sanitisation
from services.equipment.handlers.common import Uow
from services.equipment.sql.devices import ANNOUNCED
from services.runtime.testing import FakeStore, FakeUnitOfWork
from services.runtime.uow import Context

Row = dict[str, Any]
Counts = dict[str, dict[str, int]]

DEVICE_COLUMNS = (
    "id",
    "short_code",
    "batch_id",
    "donor",
    "asset_tag",
    "serial",
    "kind",
    "make",
    "model",
    "cpu",
    "ram_gb",
    "year",
    "custodian",
    "physical",
    "grade",
    "final_spec",
    "sanitisation",
    "allocation",
    "version",
    "updated_at",
)
LIVE = ("allocated", "delivered")


def _now() -> datetime:
    return datetime.now(UTC)


def _json(actor: Actor) -> dict[str, Any]:
    return actor.model_dump(mode="json")


class FakeEquipmentRepository:
    def __init__(self) -> None:
        self.organisations_: dict[str, Row] = {}
        self.batches: dict[uuid.UUID, Row] = {}
        self.devices: dict[uuid.UUID, Row] = {}
        self.media: dict[uuid.UUID, list[Row]] = {}
        self.device_history: list[Row] = []
        self.sanitisations: list[Row] = []
        self.certificates: list[Row] = []
        self.transfers: dict[uuid.UUID, Row] = {}
        self.requests_: dict[uuid.UUID, Row] = {}
        self.caps_: dict[tuple[str, str, str], Row] = {}
        self.allocations: list[Row] = []
        self.handovers: dict[uuid.UUID, Row] = {}
        self.disposals: dict[uuid.UUID, Row] = {}
        self.deliveries: dict[uuid.UUID, Row] = {}
        self.ids = itertools.count(1)  # the bigserial ids (history, sanitisations): one sequence is enough
        self.allocation_runs_locked = 0
        # The aggregates whose rows this transaction locked (or inserted), as event subjects:
        # ``unit_of_work`` refuses an event whose aggregate is not in it (see there).
        self.locked: set[str] = set()

    # -- the database's rules -------------------------------------------------------------------
    def _lock(self, kind: str, *ids: Any) -> None:
        self.locked.update(f"{kind}-{i}" for i in ids)

    def _write_device(self, device: Row, **changes: Any) -> None:
        """Update a device as the trigger ``devices_sanitised_before_allocation`` lets it."""
        new = {**device, **changes}
        if new["allocation"] in ("reserved", "allocated", "delivered") and new["sanitisation"] not in (
            "wiped",
            "destroyed",
        ):
            raise asyncpg.CheckViolationError(
                f"device {new['id']} cannot be {new['allocation']} while its sanitisation is {new['sanitisation']}"
            )
        device.update(changes, version=device["version"] + 1, updated_at=_now())

    def _history(self, device_id: uuid.UUID, action: str, actor: Actor, custodian: str, data: dict[str, Any]) -> None:
        self.device_history.append(
            {
                "id": next(self.ids),
                "device_id": device_id,
                "action": action,
                "actor": _json(actor),
                "custodian": custodian,
                "data": data,
                "at": _now(),
            }
        )

    # -- organisations --------------------------------------------------------------------------
    async def organisation(self, code: str) -> Row | None:
        row = self.organisations_.get(code)
        return None if row is None else dict(row)

    async def organisations(self) -> list[Row]:
        return [dict(self.organisations_[c]) for c in sorted(self.organisations_)]

    async def put_organisation(self, code: str, name: str, kind: str, commune: str | None) -> Row:
        self.organisations_[code] = {"code": code, "name": name, "kind": kind, "commune": commune}
        return dict(self.organisations_[code])

    async def any_organisation(self) -> bool:
        return bool(self.organisations_)

    async def add_organisations(self, organisations: Sequence[Row]) -> None:
        for o in organisations:
            if o["code"] in self.organisations_:
                raise asyncpg.UniqueViolationError(f"organisation {o['code']} exists")
            await self.put_organisation(o["code"], o["name"], o["kind"], o["commune"])

    # -- intake ---------------------------------------------------------------------------------
    async def upsert_batch(self, donor: str, reference: str) -> uuid.UUID:
        for batch in self.batches.values():
            if (batch["donor"], batch["reference"]) == (donor, reference):
                self._lock("batch", batch["id"])
                return uuid.UUID(str(batch["id"]))
        batch_id = uuid.uuid4()
        self.batches[batch_id] = {
            "id": batch_id,
            "donor": donor,
            "reference": reference,
            "declared_at": _now(),
            **{column: None for column in ANNOUNCED.values()},
        }
        self._lock("batch", batch_id)
        return batch_id

    async def known_asset_tags(self, donor: str, asset_tags: Sequence[str]) -> set[str]:
        wanted = set(asset_tags)
        return {d["asset_tag"] for d in self.devices.values() if d["donor"] == donor and d["asset_tag"] in wanted}

    async def add_devices(
        self, batch_id: uuid.UUID, donor: str, reference: str, devices: Sequence[DeclaredDevice], actor: Actor
    ) -> None:
        taken = {(d["donor"], d["asset_tag"]) for d in self.devices.values()}
        for d in devices:
            r = d.row
            if (donor, r.asset_tag) in taken or d.id in self.devices:
                raise asyncpg.UniqueViolationError(f"device {donor}/{r.asset_tag} exists")
            taken.add((donor, r.asset_tag))
            self.devices[d.id] = {
                "id": d.id,
                "short_code": d.short_code,
                "batch_id": batch_id,
                "donor": donor,
                "asset_tag": r.asset_tag,
                "serial": r.serial,
                "kind": r.kind,
                "make": r.make,
                "model": r.model,
                "cpu": r.cpu,
                "ram_gb": r.ram_gb,
                "year": r.year,
                "custodian": donor,
                "physical": "received",
                "grade": None,
                "final_spec": None,
                "sanitisation": d.sanitisation,
                "allocation": "available",
                "version": 0,
                "updated_at": _now(),
                "wipe_epoch": 0,
            }
            if r.storage:
                self.media[d.id] = [
                    {"medium_id": f"m{n}", "type": kind, "capacity_gb": capacity, "serial": serial}
                    for n, (kind, capacity, serial) in enumerate(r.storage, start=1)
                ]
            self._history(d.id, "declared", actor, donor, {"batch_id": str(batch_id), "reference": reference})

    # -- devices --------------------------------------------------------------------------------
    def _public(self, device: Row) -> Row:
        return {c: device[c] for c in DEVICE_COLUMNS}

    async def device(self, device_id: uuid.UUID) -> Row | None:
        device = self.devices.get(device_id)
        if device is None:
            return None
        return {**self._public(device), "media": [dict(m) for m in self.media.get(device_id, [])]}

    async def lock_device(self, device_id: uuid.UUID) -> Row | None:
        device = self.devices.get(device_id)
        if device is None:
            return None
        self._lock("device", device_id)
        return self._public(device)

    async def find_devices(
        self,
        *,
        kind: str | None = None,
        custodian: str | None = None,
        batch: uuid.UUID | None = None,
        physical: str | None = None,
        sanitisation: str | None = None,
        allocation: str | None = None,
        limit: int = 500,
    ) -> list[Row]:
        wanted = {
            "kind": kind,
            "custodian": custodian,
            "batch_id": batch,
            "physical": physical,
            "sanitisation": sanitisation,
            "allocation": allocation,
        }
        rows = [
            self._public(d) for d in self.devices.values() if all(v is None or d[k] == v for k, v in wanted.items())
        ]
        return sorted(rows, key=lambda d: d["short_code"])[:limit]

    async def history(self, device_id: uuid.UUID) -> list[Row]:
        return [
            {k: h[k] for k in ("action", "actor", "custodian", "data", "at")}
            for h in self.device_history
            if h["device_id"] == device_id
        ]

    async def sanitisation_records(self, device_id: uuid.UUID) -> list[Row]:
        keys = (
            "medium_id",
            "method",
            "tool",
            "tool_version",
            "passes",
            "verification",
            "started_at",
            "ended_at",
            "result",
            "warnings",
        )
        return [{k: s[k] for k in keys} for s in self.sanitisations if s["device_id"] == device_id]

    async def certificates_of(self, device_id: uuid.UUID) -> list[Row]:
        return [
            {k: c[k] for k in ("id", "sha256", "issued_on")} for c in self.certificates if c["device_id"] == device_id
        ]

    async def device_ids_by_code(self, codes: Sequence[str]) -> dict[str, uuid.UUID]:
        wanted = set(codes)
        return {d["short_code"]: d["id"] for d in self.devices.values() if d["short_code"] in wanted}

    async def media_of(self, device_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        return {d: sorted(m["medium_id"] for m in self.media[d]) for d in sorted(set(device_ids)) if self.media.get(d)}

    async def counting_sanitisations(self, device_ids: Sequence[uuid.UUID]) -> list[Row]:
        wanted = set(device_ids)
        rows = []
        for s in self.sanitisations:  # in id order: appended as made
            if s["device_id"] not in wanted or s["id"] <= self.devices[s["device_id"]]["wipe_epoch"]:
                continue
            medium = next(m for m in self.media[s["device_id"]] if m["medium_id"] == s["medium_id"])
            rows.append(
                {
                    "order": s["id"],
                    "device_id": s["device_id"],
                    "medium_id": s["medium_id"],
                    "method": s["method"],
                    "tool": s["tool"],
                    "tool_version": s["tool_version"],
                    "passes": s["passes"],
                    "verification": s["verification"],
                    "operator": s["operator"],
                    "started_at": s["started_at"],
                    "ended_at": s["ended_at"],
                    "result": s["result"],
                    "warnings": s["warnings"],
                    "medium_type": medium["type"],
                    "capacity_gb": medium["capacity_gb"],
                    "medium_serial": medium["serial"],
                }
            )
        return rows

    async def add_sanitisations(self, device_id: uuid.UUID, records: Sequence[Sanitisation], actor: Actor) -> None:
        media = {m["medium_id"] for m in self.media.get(device_id, [])}
        for r in records:
            if r.medium_id not in media:
                raise asyncpg.ForeignKeyViolationError(f"device {device_id} has no medium {r.medium_id}")
            self.sanitisations.append(
                {
                    "id": next(self.ids),
                    "device_id": device_id,
                    "medium_id": r.medium_id,
                    "method": r.method,
                    "tool": r.tool,
                    "tool_version": r.tool_version,
                    "passes": r.passes,
                    "verification": r.verification,
                    "operator": r.operator,
                    "started_at": r.started_at,
                    "ended_at": r.ended_at,
                    "result": r.result,
                    "warnings": r.warnings,
                    "recorded_by": _json(actor),
                    "recorded_at": _now(),
                }
            )

    async def set_sanitisation(self, device_id: uuid.UUID, state: str) -> None:
        self._write_device(self.devices[device_id], sanitisation=state)

    async def set_condition(
        self, device_id: uuid.UUID, physical: str, grade: str | None, final_spec: dict[str, Any] | None
    ) -> None:
        device = self.devices[device_id]
        back = physical == "refurbished" and device["allocation"] == "returned"
        self._write_device(
            device,
            physical=physical,
            grade=grade,
            final_spec=device["final_spec"] if final_spec is None else final_spec,
            allocation="available" if back else device["allocation"],
        )

    async def add_history(
        self, device_id: uuid.UUID, action: str, actor: Actor, custodian: str, data: dict[str, Any]
    ) -> None:
        self._history(device_id, action, actor, custodian, data)

    # -- certificates and labels ----------------------------------------------------------------
    async def add_certificate(
        self, certificate_id: uuid.UUID, device_id: uuid.UUID, sha256: str, content: bytes, issued_on: date
    ) -> None:
        self.certificates.append(
            {
                "id": certificate_id,
                "device_id": device_id,
                "sha256": sha256,
                "content": content,
                "issued_on": issued_on,
                "created_at": _now(),
            }
        )

    async def certificate(self, certificate_id: uuid.UUID) -> Row | None:
        found = [c for c in self.certificates if c["id"] == certificate_id]
        return {"content": found[0]["content"], "sha256": found[0]["sha256"]} if found else None

    async def latest_certificate(self, device_id: uuid.UUID) -> Row | None:
        found = [c for c in self.certificates if c["device_id"] == device_id]
        return {"content": found[-1]["content"], "sha256": found[-1]["sha256"]} if found else None

    async def label_rows(self, device_ids: Sequence[uuid.UUID] | None, batch_id: uuid.UUID | None) -> list[Row]:
        rows = [
            {k: d[k] for k in ("id", "short_code", "kind", "make", "model", "donor", "asset_tag")}
            for d in self.devices.values()
            if (device_ids is None or d["id"] in set(device_ids)) and (batch_id is None or d["batch_id"] == batch_id)
        ]
        return sorted(rows, key=lambda r: r["short_code"])

    # -- custody --------------------------------------------------------------------------------
    async def lock_custody(self, device_ids: Sequence[uuid.UUID]) -> list[Row]:
        self._lock("device", *(d for d in device_ids if d in self.devices))
        return [
            {"id": d, "custodian": self.devices[d]["custodian"]} for d in sorted(set(device_ids)) if d in self.devices
        ]

    async def in_pending_transfer(self, device_ids: Sequence[uuid.UUID]) -> bool:
        wanted = set(device_ids)
        return any(t["status"] == "proposed" and wanted & set(t["device_ids"]) for t in self.transfers.values())

    async def add_transfer(self, from_org: str, to_org: str, device_ids: Sequence[uuid.UUID], actor: Actor) -> Row:
        transfer_id = uuid.uuid4()
        self.transfers[transfer_id] = {
            "id": transfer_id,
            "from_org": from_org,
            "to_org": to_org,
            "device_ids": sorted(set(device_ids)),
            "status": "proposed",
            "proposed_by": _json(actor),
            "proposed_at": _now(),
            "confirmed_at": None,
        }
        row = self.transfers[transfer_id]
        self._lock("transfer", transfer_id)
        return {k: row[k] for k in ("id", "from_org", "to_org", "device_ids", "status", "proposed_at")}

    async def lock_transfer(self, transfer_id: uuid.UUID) -> Row | None:
        row = self.transfers.get(transfer_id)
        if row is None:
            return None
        self._lock("transfer", transfer_id)
        return {**row, "device_ids": list(row["device_ids"])}

    async def move_custody(
        self, transfer_id: uuid.UUID, device_ids: Sequence[uuid.UUID], from_org: str, to_org: str, actor: Actor
    ) -> list[Row]:
        moved = []
        for device_id in device_ids:
            device = self.devices.get(device_id)
            if device is None or device["custodian"] != from_org:
                continue
            self._write_device(device, custodian=to_org)
            self._lock("device", device_id)
            moved.append({"id": device_id, "kind": device["kind"], "batch_id": device["batch_id"]})
        for row in moved:
            self._history(
                row["id"],
                "transferred",
                actor,
                to_org,
                {"transfer_id": str(transfer_id), "from": from_org, "to": to_org},
            )
        self.transfers[transfer_id].update(status="confirmed", confirmed_at=_now())
        return moved

    # -- donors' milestones ---------------------------------------------------------------------
    async def lock_batch(self, batch_id: uuid.UUID) -> Row | None:
        row = self.batches.get(batch_id)
        if row is None:
            return None
        self._lock("batch", batch_id)
        return dict(row)

    async def batch_counts(self, batch_id: uuid.UUID) -> Row:
        devices = [d for d in self.devices.values() if d["batch_id"] == batch_id]
        return {
            "declared": len(devices),
            "received": sum(d["custodian"] != d["donor"] for d in devices),
            "wiped": sum(d["sanitisation"] in ("wiped", "destroyed") for d in devices),
            "failed": sum(d["sanitisation"] == "failed" for d in devices),
            "delivered": sum(d["allocation"] == "delivered" for d in devices),
            "settled": sum(
                d["allocation"] == "delivered" or d["physical"] in ("disposed", "for_parts") for d in devices
            ),
        }

    async def mark_announced(self, batch_id: uuid.UUID, milestone: str) -> None:
        self.batches[batch_id][ANNOUNCED[milestone]] = _now()

    async def batches_of(self, device_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        return sorted({self.devices[d]["batch_id"] for d in device_ids if d in self.devices})

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

    async def requests(self, status: str | None = None) -> list[Row]:
        rows = [
            {**r, "allocated": sum(a["request_id"] == r["id"] and a["status"] in LIVE for a in self.allocations)}
            for r in self.requests_.values()
            if status is None or r["status"] == status
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
        return [
            {
                "id": a["device_id"],
                "custodian": self.devices[a["device_id"]]["custodian"],
                "allocation": self.devices[a["device_id"]]["allocation"],
                "recipient": self.requests_[a["request_id"]]["recipient"],
            }
            for a in self.allocations
            if a["status"] == "allocated" and a["device_id"] in wanted
        ]

    async def add_handover(
        self, recipient: str, device_ids: Sequence[uuid.UUID], delivered_on: date, actor: Actor
    ) -> Row:
        handover_id = uuid.uuid4()
        self.handovers[handover_id] = {
            "id": handover_id,
            "recipient": recipient,
            "device_ids": sorted(set(device_ids)),
            "delivered_on": delivered_on,
            "recorded_by": _json(actor),
            "acknowledged_at": None,
            "next_follow_up": None,
            "created_at": _now(),
        }
        self._lock("delivery", handover_id)
        return {**self.handovers[handover_id], "device_ids": list(self.handovers[handover_id]["device_ids"])}

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
            if a["device_id"] in set(device_ids) and a["status"] == "allocated":
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
        self._write_device(
            device,
            allocation="returned",
            custodian=returned_to,
            physical="to_repair",
            sanitisation="pending" if self.media.get(device_id) else "wiped",
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

    async def weee_rows(self, year: int) -> list[Row]:
        rows = []
        for x in self.disposals.values():
            if x["disposed_on"].year != year:
                continue
            d = self.devices[x["device_id"]]
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


class LockingOrderUnitOfWork(FakeUnitOfWork[FakeEquipmentRepository]):
    """A fake unit of work that also checks the per-aggregate order of events: an event may be
    emitted only for an aggregate whose row this transaction locked (or inserted) before, as the
    outbox relies on (docs/architecture.md, "Outbox and inbox")."""

    async def _begin(self) -> None:
        await super()._begin()
        self.repo.locked.clear()

    def emit(self, event: EventData, subject: str, **options: Any) -> Envelope:
        if subject not in self.repo.locked:
            raise AssertionError(
                f"{event.event_type} for {subject} emitted before its row was locked in this transaction"
            )
        return super().emit(event, subject, **options)


def unit_of_work(store: FakeStore[FakeEquipmentRepository], context: Context) -> Uow:
    """A fake unit of work typed as the use cases take it: the fake answers as the repository
    does (the shared suite checks that), which the type checker cannot see."""
    return cast(Uow, LockingOrderUnitOfWork(store=store, context=context, source="equipment"))
