"""The device record, certificates, custody and donors' milestones: what ``sql/devices.py`` does, in memory."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import asyncpg
from passerelle_contracts import Actor

from services.equipment.domain import Sanitisation
from services.equipment.domain.record import RECORD_FIELDS
from services.equipment.sql.devices import ANNOUNCED

from .base import DEVICE_COLUMNS, FakeTables, Row, _json, _now


class FakeDevices(FakeTables):
    # -- devices --------------------------------------------------------------------------------
    def _public(self, device: Row) -> Row:
        return {c: device[c] for c in DEVICE_COLUMNS}

    async def device(self, device_id: uuid.UUID, visible_to: str | None = None) -> Row | None:
        device = self.devices.get(device_id)
        if device is None or not self._visible(device, visible_to):
            return None
        return {**self._public(device), "media": [dict(m) for m in self.media.get(device_id, [])]}

    async def lock_device(self, device_id: uuid.UUID) -> Row | None:
        device = self.devices.get(device_id)
        if device is None:
            return None
        self._lock("device", device_id)
        return self._public(device)

    async def lock_devices(self, device_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row]:
        found = sorted({d for d in device_ids if d in self.devices})
        self._lock("device", *found)
        return {d: self._public(self.devices[d]) for d in found}

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
        visible_to: str | None = None,
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
            self._public(d)
            for d in self.devices.values()
            if all(v is None or d[k] == v for k, v in wanted.items()) and self._visible(d, visible_to)
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

    async def unknown_media(self, device_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        return sorted({d for d in device_ids if d in self.devices and not self.devices[d]["media_known"]})

    async def add_media(self, device_id: uuid.UUID, media: Sequence[tuple[str, int | None, str]]) -> list[str]:
        held = self.media.setdefault(device_id, [])
        ids = [f"m{n}" for n in range(len(held) + 1, len(held) + 1 + len(media))]
        for medium_id, (kind, capacity, serial) in zip(ids, media, strict=True):
            held.append({"medium_id": medium_id, "type": kind, "capacity_gb": capacity, "serial": serial})
        if not held:
            del self.media[device_id]
        self._write_device(self.devices[device_id], media_known=True)
        return ids

    async def recorded_sanitisations(self, device_ids: Sequence[uuid.UUID]) -> list[Row]:
        wanted = set(device_ids)
        keys = ("device_id", *RECORD_FIELDS)
        return [{k: s[k] for k in keys} for s in self.sanitisations if s["device_id"] in wanted]

    async def intake_of(self, device_ids: Sequence[uuid.UUID]) -> datetime | None:
        wanted = set(device_ids)
        return max(
            (h["at"] for h in self.device_history if h["device_id"] in wanted and h["action"] == "declared"),
            default=None,
        )

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
        for record in records:
            self._sanitisation(device_id, record, actor)

    def _sanitisation(self, device_id: uuid.UUID, r: Sanitisation, actor: Actor) -> None:
        if r.medium_id not in {m["medium_id"] for m in self.media.get(device_id, [])}:
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

    async def add_sanitisations_many(self, records: Sequence[tuple[uuid.UUID, Sanitisation]], actor: Actor) -> None:
        for device_id, record in records:
            self._sanitisation(device_id, record, actor)

    async def set_sanitisations(self, states: Sequence[tuple[uuid.UUID, str]]) -> None:
        for device_id, state in states:
            self._write_device(self.devices[device_id], sanitisation=state)

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

    async def set_conditions(self, conditions: Sequence[tuple[uuid.UUID, str, str | None, str, int]]) -> None:
        for device_id, physical, grade, allocation, steps in conditions:
            device = self.devices[device_id]
            self._write_device(device, physical=physical, grade=grade, allocation=allocation)
            device["version"] += steps - 1

    async def add_history(
        self, device_id: uuid.UUID, action: str, actor: Actor, custodian: str, data: dict[str, Any]
    ) -> None:
        self._history(device_id, action, actor, custodian, data)

    async def add_history_many(self, rows: Sequence[tuple[uuid.UUID, str, str, dict[str, Any]]], actor: Actor) -> None:
        for device_id, action, custodian, data in rows:
            self._history(device_id, action, actor, custodian, data)

    # -- certificates and labels ----------------------------------------------------------------
    async def add_certificate(
        self, certificate_id: uuid.UUID, device_id: uuid.UUID, sha256: str, content: bytes, issued_on: date
    ) -> None:
        self._certificate(certificate_id, device_id, sha256, content, issued_on)

    def _certificate(
        self, certificate_id: uuid.UUID, device_id: uuid.UUID, sha256: str, content: bytes, issued_on: date
    ) -> None:
        if device_id not in self.devices:
            raise asyncpg.ForeignKeyViolationError(f"no device {device_id}")
        if any(c["id"] == certificate_id for c in self.certificates):
            raise asyncpg.UniqueViolationError(f"certificate {certificate_id} exists")
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

    async def add_certificates(self, certificates: Sequence[tuple[uuid.UUID, uuid.UUID, str, bytes, date]]) -> None:
        for certificate in certificates:
            self._certificate(*certificate)

    async def certificate(self, certificate_id: uuid.UUID, visible_to: str | None = None) -> Row | None:
        found = [
            c
            for c in self.certificates
            if c["id"] == certificate_id and self._visible(self.devices[c["device_id"]], visible_to)
        ]
        return {"content": found[0]["content"], "sha256": found[0]["sha256"]} if found else None

    async def latest_certificate(self, device_id: uuid.UUID) -> Row | None:
        found = [c for c in self.certificates if c["device_id"] == device_id]
        return {"content": found[-1]["content"], "sha256": found[-1]["sha256"]} if found else None

    async def label_rows(
        self, device_ids: Sequence[uuid.UUID] | None, batch_id: uuid.UUID | None, visible_to: str | None = None
    ) -> list[Row]:
        rows = [
            {k: d[k] for k in ("id", "short_code", "kind", "make", "model", "donor", "asset_tag")}
            for d in self.devices.values()
            if (device_ids is None or d["id"] in set(device_ids))
            and (batch_id is None or d["batch_id"] == batch_id)
            and self._visible(d, visible_to)
        ]
        return sorted(rows, key=lambda r: r["short_code"])

    # -- custody --------------------------------------------------------------------------------
    async def lock_custody(self, device_ids: Sequence[uuid.UUID]) -> list[Row]:
        self._lock("device", *(d for d in device_ids if d in self.devices))
        return [
            {"id": d, "custodian": self.devices[d]["custodian"], "allocation": self.devices[d]["allocation"]}
            for d in sorted(set(device_ids))
            if d in self.devices
        ]

    async def open_handovers(self, device_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        wanted = set(device_ids)
        return sorted(
            x["id"]
            for x in self.handovers.values()
            if x["acknowledged_at"] is None and x["cancelled_at"] is None and wanted & set(x["device_ids"])
        )

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
            "cancelled_at": None,
            "cancelled_by": None,
        }
        row = self.transfers[transfer_id]
        self._lock("transfer", transfer_id)
        return {k: row[k] for k in ("id", "from_org", "to_org", "device_ids", "status", "proposed_at")}

    async def cancel_transfer(self, transfer_id: uuid.UUID, actor: Actor) -> Row:
        row = self.transfers[transfer_id]
        row.update(status="cancelled", cancelled_at=_now(), cancelled_by=_json(actor))
        return {**row, "device_ids": list(row["device_ids"])}

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
