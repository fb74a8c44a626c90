"""All of the funding service's SQL: the register of grants and the register of the EPNs."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
from passerelle_contracts import Actor

from services.runtime.db import Executor

from .domain import DETAIL_FIELDS, Criterion, Epn, EpnDetails, Grant, GrantTerms, HistoryEntry


class FundingRepository:
    def __init__(self, executor: Executor) -> None:
        self.db = executor

    # -- grants -------------------------------------------------------------------------------
    async def add_grant(self, grant: Grant) -> Grant:
        """Store a new grant; returns it as stored (amount in cents, the time it was recorded)."""
        t = grant.terms
        row = await self.db.fetchrow(
            """INSERT INTO grants (grant_id, idempotency_key, call_code, call_kind, beneficiary, beneficiary_kind, public,
                   amount_eur, awarded_on, recorded_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *""",
            grant.grant_id,
            grant.idempotency_key,
            t.call_code,
            t.call_kind,
            t.beneficiary,
            t.beneficiary_kind,
            t.public,
            t.amount_eur,
            t.awarded_on,
            grant.recorded_by.model_dump(mode="json"),
        )
        assert row is not None  # INSERT … RETURNING without ON CONFLICT returns its row or raises
        return _grant(row)

    async def grant(self, grant_id: uuid.UUID) -> Grant | None:
        row = await self.db.fetchrow("SELECT * FROM grants WHERE grant_id = $1", grant_id)
        return _grant(row) if row is not None else None

    async def grants(
        self,
        *,
        beneficiary: str | None = None,
        call_code: str | None = None,
        year: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Grant]:
        """Grants, the latest award first (then the latest recorded), filtered as asked."""
        rows = await self.db.fetch(
            """SELECT * FROM grants
               WHERE ($1::text IS NULL OR beneficiary = $1) AND ($2::text IS NULL OR call_code = $2)
                 AND ($3::int IS NULL OR extract(year FROM awarded_on) = $3)
               ORDER BY awarded_on DESC, recorded_at DESC, grant_id LIMIT $4 OFFSET $5""",
            beneficiary,
            call_code,
            year,
            limit,
            offset,
        )
        return [_grant(row) for row in rows]

    # -- the EPN register ----------------------------------------------------------------------
    async def add_epn(self, epn: Epn) -> Epn | None:
        """Register a new EPN; None if its code is registered already (that one stays)."""
        d = epn.details
        row = await self.db.fetchrow(
            """INSERT INTO epns (epn, epn_name, operator, address, postcode, commune, hours_per_week, computers,
                   tablets, publics, languages, accessible, label_status, registered_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
               ON CONFLICT (epn) DO NOTHING RETURNING *""",
            epn.epn,
            d.epn_name,
            d.operator,
            d.address,
            d.postcode,
            d.commune,
            d.hours_per_week,
            d.computers,
            d.tablets,
            list(d.publics),
            list(d.languages),
            d.accessible,
            epn.label_status,
            epn.registered_by.model_dump(mode="json"),
        )
        return _epn(row) if row is not None else None

    async def epn(self, code: str, *, lock: bool = False) -> Epn | None:
        """One EPN; ``lock`` holds its row until the transaction ends (a change reads, then writes)."""
        query = "SELECT * FROM epns WHERE epn = $1 FOR UPDATE" if lock else "SELECT * FROM epns WHERE epn = $1"
        row = await self.db.fetchrow(query, code)
        return _epn(row) if row is not None else None

    async def epns(
        self,
        *,
        commune: str | None = None,
        status: str | None = None,
        operator: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Epn]:
        """EPNs by code, filtered as asked."""
        rows = await self.db.fetch(
            """SELECT * FROM epns
               WHERE ($1::text IS NULL OR commune = $1) AND ($2::text IS NULL OR label_status = $2)
                 AND ($3::text IS NULL OR operator = $3)
               ORDER BY epn LIMIT $4 OFFSET $5""",
            commune,
            status,
            operator,
            limit,
            offset,
        )
        return [_epn(row) for row in rows]

    async def update_epn(self, code: str, values: dict[str, Any]) -> Epn:
        """Set the given details (names from ``DETAIL_FIELDS``) of an EPN the caller has locked."""
        names = [name for name in DETAIL_FIELDS if name in values]
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
        args = [list(values[n]) if n in ("publics", "languages") else values[n] for n in names]
        row = await self.db.fetchrow(
            f"UPDATE epns SET {assignments}, updated_at = now() WHERE epn = $1 RETURNING *",  # noqa: S608 names from DETAIL_FIELDS
            code,
            *args,
        )
        assert row is not None, "the caller locked the EPN, and EPNs are never deleted"
        return _epn(row)

    async def next_register_version(self) -> int:
        """The next label decision's number. Its row lock serialises label decisions until commit."""
        version = await self.db.fetchval("UPDATE label_register SET version = version + 1 RETURNING version")
        if version is None:  # a register created by a migration always has its row; a restore might not
            version = await self.db.fetchval("INSERT INTO label_register (version) VALUES (1) RETURNING version")
        return int(version)

    async def set_label_status(self, code: str, status: str, decided_on: date) -> Epn:
        row = await self.db.fetchrow(
            """UPDATE epns SET label_status = $2, updated_at = now(),
                   labelled_on = CASE WHEN $2 = 'labelled' THEN $3 ELSE labelled_on END
               WHERE epn = $1 RETURNING *""",
            code,
            status,
            decided_on,
        )
        assert row is not None, "the caller locked the EPN, and EPNs are never deleted"
        return _epn(row)

    async def count_labelled(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM epns WHERE label_status = 'labelled'"))

    async def add_history(self, entry: HistoryEntry) -> None:
        await self.db.execute(
            """INSERT INTO epn_history (epn, kind, previous_status, status, decided_on, criteria, changes, note,
                   register_version, actor)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
            entry.epn,
            entry.kind,
            entry.previous_status,
            entry.status,
            entry.decided_on,
            list(entry.criteria),
            list(entry.changes),
            entry.note,
            entry.register_version,
            entry.actor.model_dump(mode="json"),
        )

    async def history(self, code: str) -> list[HistoryEntry]:
        """An EPN's history, the oldest entry first."""
        rows = await self.db.fetch("SELECT * FROM epn_history WHERE epn = $1 ORDER BY entry_id", code)
        return [
            HistoryEntry(
                epn=row["epn"],
                kind=row["kind"],
                actor=Actor.model_validate(row["actor"]),
                previous_status=row["previous_status"],
                status=row["status"],
                decided_on=row["decided_on"],
                criteria=tuple(row["criteria"]),
                changes=tuple(row["changes"]),
                note=row["note"],
                register_version=row["register_version"],
                recorded_at=row["recorded_at"],
            )
            for row in rows
        ]

    async def criteria(self) -> list[Criterion]:
        """The label charter's criteria, by code."""
        rows = await self.db.fetch("SELECT * FROM label_criteria ORDER BY code")
        return [Criterion(r["code"], r["measure"], r["minimum"], r["label_fr"], r["label_nl"]) for r in rows]

    async def put_criterion(self, criterion: Criterion) -> None:
        await self.db.execute(
            """INSERT INTO label_criteria (code, measure, minimum, label_fr, label_nl) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (code) DO UPDATE SET measure = $2, minimum = $3, label_fr = $4, label_nl = $5,
                   updated_at = now()""",
            criterion.code,
            criterion.measure,
            criterion.minimum,
            criterion.label_fr,
            criterion.label_nl,
        )


def _grant(row: asyncpg.Record) -> Grant:
    terms = GrantTerms(
        call_code=row["call_code"],
        call_kind=row["call_kind"],
        beneficiary=row["beneficiary"],
        beneficiary_kind=row["beneficiary_kind"],
        public=row["public"],
        amount_eur=row["amount_eur"],
        awarded_on=row["awarded_on"],
    )
    return Grant(
        grant_id=row["grant_id"],
        terms=terms,
        recorded_by=Actor.model_validate(row["recorded_by"]),
        idempotency_key=row["idempotency_key"],
        recorded_at=row["recorded_at"],
    )


def _epn(row: asyncpg.Record) -> Epn:
    details = EpnDetails(
        epn_name=row["epn_name"],
        operator=row["operator"],
        commune=row["commune"],
        hours_per_week=row["hours_per_week"],
        computers=row["computers"],
        tablets=row["tablets"],
        accessible=row["accessible"],
        address=row["address"],
        postcode=row["postcode"],
        publics=tuple(row["publics"]),
        languages=tuple(row["languages"]),
    )
    return Epn(
        epn=row["epn"],
        details=details,
        label_status=row["label_status"],
        registered_by=Actor.model_validate(row["registered_by"]),
        labelled_on=row["labelled_on"],
        registered_at=row["registered_at"],
        updated_at=row["updated_at"],
    )
