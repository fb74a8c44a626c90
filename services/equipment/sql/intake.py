"""Intake's SQL: organisations, donors' batches, and their devices written with COPY."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import cast

from passerelle_contracts import Actor

from ..domain import DeclaredDevice
from .base import Copier, Queries, Row, actor_json

SEED_LOCK_KEY = 7_231_118_102  # actions' is ...101; the relay's lock has its own key
ORGANISATION = "code, name, kind, commune"  # an organisation as one is read (the listing adds its source)


class IntakeQueries(Queries):
    # -- organisations ----------------------------------------------------------------------------
    # Each row says where it comes from (``source``, migration 0006), which only the listing shows;
    # one organisation is read as before (code, name, kind, commune). Who may change a row is
    # ``domain.organisations``'s rule, which the two writes below also keep in their conflict
    # clause: neither writer can lock a row that does not exist yet, so a check before an upsert
    # would let a concurrent insert of the other writer be overwritten.
    async def organisation(self, code: str) -> Row | None:
        row = await self.db.fetchrow(f"SELECT {ORGANISATION} FROM organisations WHERE code = $1", code)  # noqa: S608
        return None if row is None else dict(row)

    async def lock_organisation(self, code: str) -> Row | None:
        """The organisation, its row locked until the transaction ends (none: nothing locked)."""
        row = await self.db.fetchrow(
            f"SELECT {ORGANISATION} FROM organisations WHERE code = $1 FOR UPDATE",  # noqa: S608
            code,
        )
        return None if row is None else dict(row)

    async def organisations(self) -> list[Row]:
        """Every organisation with where it comes from (``source``: seed, http, register; none for a
        row from before migration 0006), by code."""
        return [dict(r) for r in await self.db.fetch("SELECT * FROM organisations ORDER BY code")]

    async def put_organisation(self, code: str, name: str, kind: str, commune: str | None) -> Row | None:
        """``PUT /organisations/{code}``: the row inserted or replaced, from source ``http``; none if
        the EPN register keeps it (left as it is: the use case decides what to answer)."""
        row = await self.db.fetchrow(
            f"""INSERT INTO organisations (code, name, kind, commune, source) VALUES ($1, $2, $3, $4, 'http')
               ON CONFLICT (code) DO UPDATE
               SET name = EXCLUDED.name, kind = EXCLUDED.kind, commune = EXCLUDED.commune, source = 'http'
               WHERE organisations.source IS DISTINCT FROM 'register'
               RETURNING {ORGANISATION}""",  # noqa: S608
            code,
            name,
            kind,
            commune,
        )
        return None if row is None else dict(row)

    async def register_epn(self, code: str, name: str, commune: str | None) -> Row | None:
        """The EPN register's EPN: inserted, or updated if the row is an EPN's (whoever wrote it: the
        register adopts an EPN typed by hand), from source ``register``; none if the code is another
        kind of organisation (left as it is: the use case refuses the event)."""
        row = await self.db.fetchrow(
            f"""INSERT INTO organisations (code, name, kind, commune, source) VALUES ($1, $2, 'epn', $3, 'register')
               ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, commune = EXCLUDED.commune, source = 'register'
               WHERE organisations.kind = 'epn'
               RETURNING {ORGANISATION}""",  # noqa: S608
            code,
            name,
            commune,
        )
        return None if row is None else dict(row)

    async def lock_seed(self) -> None:
        """Held until the transaction ends: replicas starting together on a new database seed it
        one at a time, and the later ones find the organisations there."""
        await self.db.execute("SELECT pg_advisory_xact_lock($1)", SEED_LOCK_KEY)

    async def any_organisation(self) -> bool:
        return bool(await self.db.fetchval("SELECT EXISTS (SELECT 1 FROM organisations)"))

    async def add_organisations(self, organisations: Sequence[Row]) -> None:
        await self.db.executemany(
            "INSERT INTO organisations (code, name, kind, commune, source) VALUES ($1, $2, $3, $4, 'seed')",
            [(o["code"], o["name"], o["kind"], o["commune"]) for o in organisations],
        )

    # -- intake -----------------------------------------------------------------------------------
    async def upsert_batch(self, donor: str, reference: str) -> uuid.UUID:
        """The batch of ``donor`` + ``reference``, created if new; its row stays locked until commit."""
        batch_id = await self.db.fetchval(
            """INSERT INTO batches (id, donor, reference) VALUES ($1, $2, $3)
               ON CONFLICT (donor, reference) DO UPDATE SET reference = EXCLUDED.reference RETURNING id""",
            uuid.uuid4(),
            donor,
            reference,
        )
        return cast(uuid.UUID, batch_id)

    async def known_asset_tags(self, donor: str, asset_tags: Sequence[str]) -> set[str]:
        rows = await self.db.fetch(
            "SELECT asset_tag FROM devices WHERE donor = $1 AND asset_tag = ANY($2::text[])", donor, list(asset_tags)
        )
        return {r["asset_tag"] for r in rows}

    async def add_devices(
        self, batch_id: uuid.UUID, donor: str, reference: str, devices: Sequence[DeclaredDevice], actor: Actor
    ) -> None:
        """The devices, their media and their first history row, with COPY: thousands of rows a
        second (``benchmarks/equipment.py``) where INSERTs would take ten times longer."""
        copier = cast(Copier, self.db)
        await copier.copy_records_to_table(
            "devices",
            columns=[
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
                "sanitisation",
                "media_known",
            ],
            records=[
                (
                    d.id,
                    d.short_code,
                    batch_id,
                    donor,
                    r.asset_tag,
                    r.serial,
                    r.kind,
                    r.make,
                    r.model,
                    r.cpu,
                    r.ram_gb,
                    r.year,
                    donor,
                    d.sanitisation,
                    d.media_known,
                )
                for d in devices
                for r in (d.row,)
            ],
        )
        await copier.copy_records_to_table(
            "media",
            columns=["device_id", "medium_id", "type", "capacity_gb", "serial"],
            records=[
                (d.id, f"m{n}", kind, capacity, serial)
                for d in devices
                for n, (kind, capacity, serial) in enumerate(d.row.storage, start=1)
            ],
        )
        who = actor_json(actor)
        await copier.copy_records_to_table(
            "device_history",
            columns=["device_id", "action", "actor", "custodian", "data"],
            records=[
                (d.id, "declared", who, donor, {"batch_id": str(batch_id), "reference": reference}) for d in devices
            ],
        )
