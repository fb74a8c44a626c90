"""The device record's SQL: devices, their media, history and sanitisation records, certificates and
labels, custody transfers and donors' milestones."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from passerelle_contracts import Actor

from ..domain import Sanitisation
from ..domain.record import RECORD_FIELDS
from .base import Copier, Queries, Row, actor_json, visible

DEVICE_COLUMNS = """id, short_code, batch_id, donor, asset_tag, serial, kind, make, model, cpu, ram_gb, year, custodian,
                    physical, grade, final_spec, sanitisation, media_known, allocation, version, updated_at"""
# The column list is a constant: these queries never carry a caller's text.
DEVICE_BY_ID = f"SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1"  # noqa: S608
# The devices of a command, locked in id order: two commands never wait on each other in a cycle.
LOCK_DEVICES = f"SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE"  # noqa: S608
SANITISATION_COLUMNS = ("device_id", *RECORD_FIELDS, "recorded_by")
# Who reads a device (``base.visible``): no organisation, everybody's.
VISIBLE_BY_ID = DEVICE_BY_ID + " AND " + visible("$2")
DEVICES_WHERE = f"""SELECT {DEVICE_COLUMNS} FROM devices
    WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR custodian = $2)
      AND ($3::uuid IS NULL OR batch_id = $3) AND ($4::text IS NULL OR physical = $4)
      AND ($5::text IS NULL OR sanitisation = $5) AND ($6::text IS NULL OR allocation = $6)
      AND {visible("$8")}
    ORDER BY short_code LIMIT $7"""  # noqa: S608
CERTIFICATE = f"""SELECT c.content, c.sha256 FROM certificates c JOIN devices d ON d.id = c.device_id
    WHERE c.id = $1 AND {visible("$2", "d")}"""  # noqa: S608
LABEL_ROWS = f"""SELECT id, short_code, kind, make, model, donor, asset_tag FROM devices
    WHERE ($1::uuid[] IS NULL OR id = ANY($1)) AND ($2::uuid IS NULL OR batch_id = $2) AND {visible("$3")}
    ORDER BY short_code"""  # noqa: S608
# The batch column that records when the donor was told of each milestone (sent once each).
ANNOUNCED = {
    "received": "received_announced_at",
    "sanitised": "sanitised_announced_at",
    "delivered": "delivered_announced_at",
}


class DeviceQueries(Queries):
    # -- devices ----------------------------------------------------------------------------------
    async def device(self, device_id: uuid.UUID, visible_to: str | None = None) -> Row | None:
        """A device with its media (what the API shows and the commands answer); None if there is
        none, or if ``visible_to`` (an organisation) may not read it."""
        row = await self.db.fetchrow(VISIBLE_BY_ID, device_id, visible_to)
        if row is None:
            return None
        device = dict(row)
        device["media"] = [
            dict(m)
            for m in await self.db.fetch(
                "SELECT medium_id, type, capacity_gb, serial FROM media WHERE device_id = $1 ORDER BY medium_id",
                device_id,
            )
        ]
        return device

    async def lock_device(self, device_id: uuid.UUID) -> Row | None:
        """The device's row, locked until commit: its commands, and their events, happen one at a time."""
        row = await self.db.fetchrow(DEVICE_BY_ID + " FOR UPDATE", device_id)
        return None if row is None else dict(row)

    async def lock_devices(self, device_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row]:
        """The rows of those of ``device_ids`` that exist, locked until commit in id order (as
        ``lock_device`` locks one): a command on thousands of devices in one statement."""
        rows = await self.db.fetch(LOCK_DEVICES, sorted(set(device_ids)))
        return {r["id"]: dict(r) for r in rows}

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
        """Devices by state, in short code order; only those ``visible_to`` reads, if given."""
        rows = await self.db.fetch(
            DEVICES_WHERE,
            kind,
            custodian,
            batch,
            physical,
            sanitisation,
            allocation,
            limit,
            visible_to,
        )
        return [dict(r) for r in rows]

    async def history(self, device_id: uuid.UUID) -> list[Row]:
        rows = await self.db.fetch(
            "SELECT action, actor, custodian, data, at FROM device_history WHERE device_id = $1 ORDER BY id", device_id
        )
        return [dict(r) for r in rows]

    async def sanitisation_records(self, device_id: uuid.UUID) -> list[Row]:
        """Every record of the device, old ones (before a return) included, for people to read."""
        rows = await self.db.fetch(
            """SELECT medium_id, method, tool, tool_version, passes, verification, started_at, ended_at, result, warnings
               FROM sanitisations WHERE device_id = $1 ORDER BY id""",
            device_id,
        )
        return [dict(r) for r in rows]

    async def certificates_of(self, device_id: uuid.UUID) -> list[Row]:
        rows = await self.db.fetch(
            "SELECT id, sha256, issued_on FROM certificates WHERE device_id = $1 ORDER BY created_at", device_id
        )
        return [dict(r) for r in rows]

    async def device_ids_by_code(self, codes: Sequence[str]) -> dict[str, uuid.UUID]:
        rows = await self.db.fetch("SELECT id, short_code FROM devices WHERE short_code = ANY($1::text[])", list(codes))
        return {r["short_code"]: r["id"] for r in rows}

    async def media_of(self, device_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        """Each device's storage media, in medium order (devices without media are left out)."""
        rows = await self.db.fetch(
            "SELECT device_id, medium_id FROM media WHERE device_id = ANY($1::uuid[]) ORDER BY device_id, medium_id",
            list(device_ids),
        )
        media: dict[uuid.UUID, list[str]] = {}
        for r in rows:
            media.setdefault(r["device_id"], []).append(r["medium_id"])
        return media

    async def unknown_media(self, device_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        """The devices among ``device_ids`` whose storage media are unknown (declared without, not
        inspected yet), in id order."""
        rows = await self.db.fetch(
            "SELECT id FROM devices WHERE id = ANY($1::uuid[]) AND NOT media_known ORDER BY id", list(device_ids)
        )
        return [r["id"] for r in rows]

    async def add_media(self, device_id: uuid.UUID, media: Sequence[tuple[str, int | None, str]]) -> list[str]:
        """Media found when the device was inspected, numbered after its others (m1, m2, …); its
        media are known from now on. Returns the new media's ids."""
        count = await self.db.fetchval("SELECT count(*) FROM media WHERE device_id = $1", device_id)
        ids = [f"m{n}" for n in range(count + 1, count + 1 + len(media))]
        await self.db.executemany(
            "INSERT INTO media (device_id, medium_id, type, capacity_gb, serial) VALUES ($1, $2, $3, $4, $5)",
            [
                (device_id, medium_id, kind, capacity, serial)
                for medium_id, (kind, capacity, serial) in zip(ids, media, strict=True)
            ],
        )
        await self.db.execute(
            "UPDATE devices SET media_known = true, version = version + 1, updated_at = now() WHERE id = $1",
            device_id,
        )
        return ids

    async def recorded_sanitisations(self, device_ids: Sequence[uuid.UUID]) -> list[Row]:
        """Every sanitisation record of the devices, those before a return included, with all the
        fields a refurbisher gives (``domain.record_identity``), in history order."""
        rows = await self.db.fetch(
            """SELECT device_id, medium_id, method, tool, tool_version, passes, verification, operator, started_at,
                      ended_at, result, warnings
               FROM sanitisations WHERE device_id = ANY($1::uuid[]) ORDER BY id""",
            list(device_ids),
        )
        return [dict(r) for r in rows]

    async def intake_of(self, device_ids: Sequence[uuid.UUID]) -> datetime | None:
        """When the latest of the devices was declared (None if none was)."""
        value = await self.db.fetchval(
            "SELECT max(at) FROM device_history WHERE device_id = ANY($1::uuid[]) AND action = 'declared'",
            list(device_ids),
        )
        return cast(datetime | None, value)

    async def counting_sanitisations(self, device_ids: Sequence[uuid.UUID]) -> list[Row]:
        """The sanitisation records that count for the rule, in history order (``order``: the
        record's id), with their medium's type, capacity and serial: the records made since the
        device's last return (its ``wipe_epoch``). ``domain.latest_per_medium`` picks the latest."""
        rows = await self.db.fetch(
            """SELECT s.id AS "order", s.device_id, s.medium_id, s.method, s.tool, s.tool_version, s.passes,
                      s.verification, s.operator, s.started_at, s.ended_at, s.result, s.warnings,
                      m.type AS medium_type, m.capacity_gb, m.serial AS medium_serial
               FROM sanitisations s JOIN media m USING (device_id, medium_id) JOIN devices d ON d.id = s.device_id
               WHERE s.device_id = ANY($1::uuid[]) AND s.id > d.wipe_epoch ORDER BY s.id""",
            list(device_ids),
        )
        return [dict(r) for r in rows]

    async def add_sanitisations(self, device_id: uuid.UUID, records: Sequence[Sanitisation], actor: Actor) -> None:
        await self.add_sanitisations_many([(device_id, r) for r in records], actor)

    async def add_sanitisations_many(self, records: Sequence[tuple[uuid.UUID, Sanitisation]], actor: Actor) -> None:
        """Records of many devices, (device, record) in the order given (their ids, and so their
        place in each device's history, follow it), with COPY: a wiping station's log at once."""
        who = actor_json(actor)
        await cast(Copier, self.db).copy_records_to_table(
            "sanitisations",
            columns=list(SANITISATION_COLUMNS),
            records=[(device_id, *(getattr(r, f) for f in RECORD_FIELDS), who) for device_id, r in records],
        )

    async def set_sanitisations(self, states: Sequence[tuple[uuid.UUID, str]]) -> None:
        """Many devices' sanitisation states, (device, state), in one statement (as ``set_sanitisation``)."""
        await self.db.execute(
            """UPDATE devices d SET sanitisation = v.state, version = d.version + 1, updated_at = now()
               FROM unnest($1::uuid[], $2::text[]) AS v(id, state) WHERE d.id = v.id""",
            [device_id for device_id, _ in states],
            [state for _, state in states],
        )

    async def set_sanitisation(self, device_id: uuid.UUID, state: str) -> None:
        await self.db.execute(
            "UPDATE devices SET sanitisation = $2, version = version + 1, updated_at = now() WHERE id = $1",
            device_id,
            state,
        )

    async def set_condition(
        self, device_id: uuid.UUID, physical: str, grade: str | None, final_spec: dict[str, Any] | None
    ) -> None:
        await self.db.execute(
            # A returned device that is refurbished again goes back to the stock.
            "UPDATE devices SET physical = $2, grade = $3, final_spec = coalesce($4, final_spec), version = version + 1, "
            "allocation = CASE WHEN $2 = 'refurbished' AND allocation = 'returned' THEN 'available' ELSE allocation END, "
            "updated_at = now() WHERE id = $1",
            device_id,
            physical,
            grade,
            final_spec,
        )

    async def set_conditions(self, conditions: Sequence[tuple[uuid.UUID, str, str | None, str, int]]) -> None:
        """Many devices' physical conditions, (device, physical, grade, allocation, steps), in one
        statement: the allocation as the use case decided it (a returned device refurbished again
        is available), the version moved on by the number of steps (as ``set_condition`` once each)."""
        if not conditions:
            return
        await self.db.execute(
            """UPDATE devices d SET physical = v.physical, grade = v.grade, allocation = v.allocation,
                   version = d.version + v.steps, updated_at = now()
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[]) AS v(id, physical, grade, allocation, steps)
               WHERE d.id = v.id""",
            *(list(column) for column in zip(*conditions, strict=True)),
        )

    async def add_history(
        self, device_id: uuid.UUID, action: str, actor: Actor, custodian: str, data: dict[str, Any]
    ) -> None:
        await self.db.execute(
            "INSERT INTO device_history (device_id, action, actor, custodian, data) VALUES ($1, $2, $3, $4, $5)",
            device_id,
            action,
            actor_json(actor),
            custodian,
            data,
        )

    async def add_history_many(self, rows: Sequence[tuple[uuid.UUID, str, str, dict[str, Any]]], actor: Actor) -> None:
        """History rows of many devices, (device, action, custodian, data), in the order given, with COPY."""
        who = actor_json(actor)
        await cast(Copier, self.db).copy_records_to_table(
            "device_history",
            columns=["device_id", "action", "actor", "custodian", "data"],
            records=[(device_id, action, who, custodian, data) for device_id, action, custodian, data in rows],
        )

    # -- certificates and labels ------------------------------------------------------------------
    async def add_certificate(
        self, certificate_id: uuid.UUID, device_id: uuid.UUID, sha256: str, content: bytes, issued_on: date
    ) -> None:
        await self.db.execute(
            "INSERT INTO certificates (id, device_id, sha256, content, issued_on) VALUES ($1, $2, $3, $4, $5)",
            certificate_id,
            device_id,
            sha256,
            content,
            issued_on,
        )

    async def add_certificates(self, certificates: Sequence[tuple[uuid.UUID, uuid.UUID, str, bytes, date]]) -> None:
        """Many certificates, (id, device, sha256, content, issued_on), with COPY (as ``add_certificate``)."""
        await cast(Copier, self.db).copy_records_to_table(
            "certificates", columns=["id", "device_id", "sha256", "content", "issued_on"], records=list(certificates)
        )

    async def certificate(self, certificate_id: uuid.UUID, visible_to: str | None = None) -> Row | None:
        """A certificate's PDF and digest; None if there is none or ``visible_to`` may not read its device."""
        row = await self.db.fetchrow(CERTIFICATE, certificate_id, visible_to)
        return None if row is None else dict(row)

    async def latest_certificate(self, device_id: uuid.UUID) -> Row | None:
        row = await self.db.fetchrow(
            "SELECT content, sha256 FROM certificates WHERE device_id = $1 ORDER BY created_at DESC LIMIT 1", device_id
        )
        return None if row is None else dict(row)

    async def label_rows(
        self, device_ids: Sequence[uuid.UUID] | None, batch_id: uuid.UUID | None, visible_to: str | None = None
    ) -> list[Row]:
        rows = await self.db.fetch(
            LABEL_ROWS,
            None if device_ids is None else list(device_ids),
            batch_id,
            visible_to,
        )
        return [dict(r) for r in rows]

    # -- custody ----------------------------------------------------------------------------------
    async def lock_custody(self, device_ids: Sequence[uuid.UUID]) -> list[Row]:
        """The devices' holders and allocation states, their rows locked (in id order, so two
        transfers cannot deadlock)."""
        rows = await self.db.fetch(
            "SELECT id, custodian, allocation FROM devices WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
            list(device_ids),
        )
        return [dict(r) for r in rows]

    async def open_handovers(self, device_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        """The handovers neither acknowledged nor cancelled that hold any of the devices, in id order."""
        rows = await self.db.fetch(
            """SELECT id FROM handovers WHERE acknowledged_at IS NULL AND cancelled_at IS NULL
                 AND device_ids && $1::uuid[] ORDER BY id""",
            list(device_ids),
        )
        return [r["id"] for r in rows]

    async def in_pending_transfer(self, device_ids: Sequence[uuid.UUID]) -> bool:
        pending = await self.db.fetchval(
            "SELECT count(*) FROM transfers WHERE status = 'proposed' AND device_ids && $1::uuid[]", list(device_ids)
        )
        return bool(pending)

    async def add_transfer(self, from_org: str, to_org: str, device_ids: Sequence[uuid.UUID], actor: Actor) -> Row:
        row = await self.db.fetchrow(
            """INSERT INTO transfers (id, from_org, to_org, device_ids, proposed_by) VALUES ($1, $2, $3, $4, $5)
               RETURNING id, from_org, to_org, device_ids, status, proposed_at""",
            uuid.uuid4(),
            from_org,
            to_org,
            sorted(set(device_ids)),
            actor_json(actor),
        )
        assert row is not None
        return dict(row)

    async def cancel_transfer(self, transfer_id: uuid.UUID, actor: Actor) -> Row:
        """Close a proposed transfer without moving anything: its devices are free again."""
        row = await self.db.fetchrow(
            """UPDATE transfers SET status = 'cancelled', cancelled_at = now(), cancelled_by = $2 WHERE id = $1
               RETURNING *""",
            transfer_id,
            actor_json(actor),
        )
        assert row is not None
        return dict(row)

    async def lock_transfer(self, transfer_id: uuid.UUID) -> Row | None:
        row = await self.db.fetchrow("SELECT * FROM transfers WHERE id = $1 FOR UPDATE", transfer_id)
        return None if row is None else dict(row)

    async def move_custody(
        self, transfer_id: uuid.UUID, device_ids: Sequence[uuid.UUID], from_org: str, to_org: str, actor: Actor
    ) -> list[Row]:
        """Hand the devices still held by ``from_org`` to ``to_org`` (history included) and close
        the transfer; returns the devices moved (id, kind, batch_id)."""
        rows = await self.db.fetch(
            "UPDATE devices SET custodian = $2, version = version + 1, updated_at = now() "
            "WHERE id = ANY($1::uuid[]) AND custodian = $3 RETURNING id, kind, batch_id",
            list(device_ids),
            to_org,
            from_org,
        )
        await self.db.executemany(
            "INSERT INTO device_history (device_id, action, actor, custodian, data) VALUES ($1, 'transferred', $2, $3, $4)",
            [
                (r["id"], actor_json(actor), to_org, {"transfer_id": str(transfer_id), "from": from_org, "to": to_org})
                for r in rows
            ],
        )
        await self.db.execute(
            "UPDATE transfers SET status = 'confirmed', confirmed_at = now() WHERE id = $1", transfer_id
        )
        return [dict(r) for r in rows]

    # -- donors' milestones -----------------------------------------------------------------------
    async def lock_batch(self, batch_id: uuid.UUID) -> Row | None:
        row = await self.db.fetchrow("SELECT * FROM batches WHERE id = $1 FOR UPDATE", batch_id)
        return None if row is None else dict(row)

    async def batch_counts(self, batch_id: uuid.UUID) -> Row:
        """How many devices of the batch were declared, received, wiped, failed, delivered, and
        ``settled`` (delivered, or disposed of / kept for parts)."""
        row = await self.db.fetchrow(
            """SELECT count(*) AS declared, count(*) FILTER (WHERE custodian <> donor) AS received,
                      count(*) FILTER (WHERE sanitisation IN ('wiped', 'destroyed')) AS wiped,
                      count(*) FILTER (WHERE sanitisation = 'failed') AS failed,
                      count(*) FILTER (WHERE allocation = 'delivered') AS delivered,
                      count(*) FILTER (WHERE allocation = 'delivered' OR physical IN ('disposed', 'for_parts')) AS settled
               FROM devices WHERE batch_id = $1""",
            batch_id,
        )
        assert row is not None
        return dict(row)

    async def mark_announced(self, batch_id: uuid.UUID, milestone: str) -> None:
        column = ANNOUNCED[milestone]  # one of three column names, never a caller's text
        await self.db.execute(f"UPDATE batches SET {column} = now() WHERE id = $1", batch_id)  # noqa: S608

    async def batches_of(self, device_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        rows = await self.db.fetch(
            "SELECT DISTINCT batch_id FROM devices WHERE id = ANY($1::uuid[]) ORDER BY batch_id", list(device_ids)
        )
        return [r["batch_id"] for r in rows]
