"""Organisations and intake: what ``sql/intake.py`` does, in memory."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
from passerelle_contracts import Actor

from services.equipment.domain import DeclaredDevice
from services.equipment.sql.devices import ANNOUNCED

from .base import FakeTables, Row, _now


class FakeIntake(FakeTables):
    # -- organisations --------------------------------------------------------------------------
    # ``source`` as migration 0006 keeps it (a row a test sets up directly has none, as a row from
    # before that migration); the two upserts keep the SQL's conflict clauses.
    def _organisation(self, code: str) -> Row | None:
        row = self.organisations_.get(code)
        return None if row is None else {k: row[k] for k in ("code", "name", "kind", "commune")}

    async def organisation(self, code: str) -> Row | None:
        return self._organisation(code)

    async def lock_organisation(self, code: str) -> Row | None:
        row = self._organisation(code)
        if row is not None:
            self._lock("organisation", code)
        return row

    async def organisations(self) -> list[Row]:
        return [{"source": None, **self.organisations_[c]} for c in sorted(self.organisations_)]

    async def put_organisation(self, code: str, name: str, kind: str, commune: str | None) -> Row | None:
        if self.organisations_.get(code, {}).get("source") == "register":
            return None  # the register's row, left as it is
        return self._write_organisation(code, name, kind, commune, "http")

    async def register_epn(self, code: str, name: str, commune: str | None) -> Row | None:
        if self.organisations_.get(code, {"kind": "epn"})["kind"] != "epn":
            return None  # another kind of organisation, left as it is
        return self._write_organisation(code, name, "epn", commune, "register")

    def _write_organisation(self, code: str, name: str, kind: str, commune: str | None, source: str) -> Row:
        if source == "register" and kind != "epn":  # migration 0006's organisations_register_keeps_epns
            raise asyncpg.CheckViolationError(f"organisation {code}: the register keeps EPNs only")
        self.organisations_[code] = {"code": code, "name": name, "kind": kind, "commune": commune, "source": source}
        return {"code": code, "name": name, "kind": kind, "commune": commune}

    async def lock_seed(self) -> None:
        """One event loop, no await between the check and the insert: nothing to lock."""

    async def any_organisation(self) -> bool:
        return bool(self.organisations_)

    async def add_organisations(self, organisations: Sequence[Row]) -> None:
        for o in organisations:
            if o["code"] in self.organisations_:
                raise asyncpg.UniqueViolationError(f"organisation {o['code']} exists")
            self._write_organisation(o["code"], o["name"], o["kind"], o["commune"], "seed")

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
                "media_known": d.media_known,
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
