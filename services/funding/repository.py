"""All of the funding service's SQL: the register of grants and of EPN labels."""

from __future__ import annotations

import uuid

import asyncpg
from passerelle_contracts import Actor

from services.runtime.db import Executor

from .domain import EpnLabel, Grant, GrantTerms


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

    # -- EPN labels ---------------------------------------------------------------------------
    async def add_epn_label(self, label: EpnLabel) -> EpnLabel | None:
        """Store the EPN's label; None if the EPN already has one (that one stays)."""
        row = await self.db.fetchrow(
            """INSERT INTO epn_labels (epn, commune, labelled_on, recorded_by) VALUES ($1, $2, $3, $4)
               ON CONFLICT (epn) DO NOTHING RETURNING *""",
            label.epn,
            label.commune,
            label.labelled_on,
            label.recorded_by.model_dump(mode="json"),
        )
        return _label(row) if row is not None else None

    async def epn_label(self, epn: str) -> EpnLabel | None:
        row = await self.db.fetchrow("SELECT * FROM epn_labels WHERE epn = $1", epn)
        return _label(row) if row is not None else None

    async def epn_labels(self, *, commune: str | None = None) -> list[EpnLabel]:
        """The labelled EPNs, by code."""
        rows = await self.db.fetch(
            "SELECT * FROM epn_labels WHERE $1::text IS NULL OR commune = $1 ORDER BY epn", commune
        )
        return [_label(row) for row in rows]


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


def _label(row: asyncpg.Record) -> EpnLabel:
    return EpnLabel(
        epn=row["epn"],
        commune=row["commune"],
        labelled_on=row["labelled_on"],
        recorded_by=Actor.model_validate(row["recorded_by"]),
        recorded_at=row["recorded_at"],
    )
