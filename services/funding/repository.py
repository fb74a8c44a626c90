"""All of the funding service's SQL: the register of grants and the register of the EPNs."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
from passerelle_contracts import Actor

from services.runtime.db import Executor

from .domain import (
    DETAIL_FIELDS,
    LINE_FIELDS,
    Coverage,
    Criterion,
    Epn,
    EpnDetails,
    FundingLine,
    Grant,
    GrantTerms,
    HistoryEntry,
)
from .repository_calls import CallsRepository, locking
from .repository_returns import ReturnsRepository


class FundingRepository(CallsRepository, ReturnsRepository):
    def __init__(self, executor: Executor) -> None:
        self.db = executor

    # -- grants -------------------------------------------------------------------------------
    async def add_grant(self, grant: Grant) -> Grant:
        """Store a new grant; returns it as stored (amount in cents, the time it was recorded)."""
        t = grant.terms
        row = await self.db.fetchrow(
            """INSERT INTO grants (grant_id, idempotency_key, call_code, call_kind, beneficiary, beneficiary_kind, public,
                   amount_eur, awarded_on, recorded_by, application_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *""",
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
            grant.application_id,
        )
        assert row is not None  # INSERT … RETURNING without ON CONFLICT returns its row or raises
        return _grant(row)

    async def grant(self, grant_id: uuid.UUID, *, lock: bool = False) -> Grant | None:
        """One grant; ``lock`` holds its row until the transaction ends (its payments, amendments
        and closure are decided one at a time)."""
        query = locking("SELECT * FROM grants WHERE grant_id = $1", lock)
        row = await self.db.fetchrow(query, grant_id)
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

    # -- the funding cadastre ------------------------------------------------------------------
    async def funding_line_by_key(self, key: tuple[str, str, str, str, int]) -> FundingLine | None:
        """The line with this key, locked until the transaction ends (an import reads, then writes)."""
        row = await self.db.fetchrow(
            """SELECT * FROM funding_lines WHERE beneficiary = $1 AND funder = $2 AND funder_name = $3
                   AND programme = $4 AND year = $5 FOR UPDATE""",
            *key,
        )
        return _line(row) if row is not None else None

    async def add_funding_line(self, line: FundingLine) -> FundingLine | None:
        """Store a new line; None if a line with its key exists (a concurrent import stored it)."""
        row = await self.db.fetchrow(
            """INSERT INTO funding_lines (line_id, beneficiary, beneficiary_kind, commune, funder, funder_name,
                   programme, year, committed_eur, paid_eur, cofinancing_pct, recorded_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
               ON CONFLICT (beneficiary, funder, funder_name, programme, year) DO NOTHING RETURNING *""",
            line.line_id,
            line.beneficiary,
            line.beneficiary_kind,
            line.commune,
            line.funder,
            line.funder_name,
            line.programme,
            line.year,
            line.committed_eur,
            line.paid_eur,
            line.cofinancing_pct,
            _actor(line.recorded_by),
        )
        return _line(row) if row is not None else None

    async def update_funding_line(self, line_id: uuid.UUID, values: dict[str, Any]) -> FundingLine:
        """Set the given fields (names from ``LINE_FIELDS``) of a line the caller has locked."""
        names = [name for name in LINE_FIELDS if name in values]
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
        row = await self.db.fetchrow(
            f"UPDATE funding_lines SET {assignments}, updated_at = now() WHERE line_id = $1 RETURNING *",  # noqa: S608 names from LINE_FIELDS
            line_id,
            *(values[n] for n in names),
        )
        assert row is not None, "the caller locked the line, and lines are never deleted"
        return _line(row)

    async def funding_line(self, line_id: uuid.UUID) -> FundingLine | None:
        row = await self.db.fetchrow("SELECT * FROM funding_lines WHERE line_id = $1", line_id)
        return _line(row) if row is not None else None

    async def funding_lines(
        self,
        *,
        beneficiary: str | None = None,
        funder: str | None = None,
        year: int | None = None,
        commune: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[FundingLine]:
        """Lines by year (latest first), then beneficiary, funder and programme."""
        rows = await self.db.fetch(
            """SELECT * FROM funding_lines
               WHERE ($1::text IS NULL OR beneficiary = $1) AND ($2::text IS NULL OR funder = $2)
                 AND ($3::int IS NULL OR year = $3) AND ($4::text IS NULL OR commune = $4)
               ORDER BY year DESC, beneficiary, funder, funder_name, programme LIMIT $5 OFFSET $6""",
            beneficiary,
            funder,
            year,
            commune,
            limit,
            offset,
        )
        return [_line(row) for row in rows]

    async def cadastre_totals(self, by: str, *, year: int | None = None) -> list[dict[str, Any]]:
        """Lines, committed and paid per ``by`` (funder, commune, beneficiary or year), the
        largest committed first."""
        column = {"funder": "funder", "commune": "commune", "beneficiary": "beneficiary", "year": "year"}[by]
        rows = await self.db.fetch(
            f"""SELECT {column} AS key, count(*) AS lines, sum(committed_eur) AS committed_eur,
                       coalesce(sum(paid_eur), 0) AS paid_eur, count(*) FILTER (WHERE complete) AS complete_lines
                FROM funding_lines WHERE $1::int IS NULL OR year = $1
                GROUP BY {column} ORDER BY sum(committed_eur) DESC, {column}""",  # noqa: S608 a column from the map
            year,
        )
        return [dict(row) for row in rows]

    async def completeness(self, year: int) -> list[dict[str, Any]]:
        """Each labelled EPN with its lines for ``year`` and how many are complete, by code."""
        rows = await self.db.fetch(
            """SELECT e.epn, e.commune, count(l.line_id) AS lines,
                      count(l.line_id) FILTER (WHERE l.complete) AS complete_lines
               FROM epns e LEFT JOIN funding_lines l ON l.beneficiary = e.epn AND l.year = $1
               WHERE e.label_status = 'labelled' GROUP BY e.epn, e.commune ORDER BY e.epn""",
            year,
        )
        return [dict(row) for row in rows]

    async def lock_coverage(self) -> int:
        """Take the coverage register's lock (until commit); returns its version."""
        version = await self.db.fetchval("SELECT version FROM coverage_register FOR UPDATE")
        if version is None:
            version = await self.db.fetchval("INSERT INTO coverage_register (version) VALUES (0) RETURNING version")
        return int(version)

    async def measure_coverage(self, year: int) -> Coverage:
        row = await self.db.fetchrow(
            """SELECT (SELECT count(*) FROM epns WHERE label_status = 'labelled') AS labelled,
                      (SELECT count(DISTINCT l.beneficiary) FROM funding_lines l JOIN epns e ON e.epn = l.beneficiary
                        WHERE e.label_status = 'labelled' AND l.year = $1 AND l.complete) AS complete""",
            year,
        )
        assert row is not None
        return Coverage(year=year, labelled_epns=row["labelled"], complete_epns=row["complete"])

    async def announced_coverage(self, year: int) -> Coverage | None:
        row = await self.db.fetchrow("SELECT * FROM cadastre_coverage WHERE year = $1", year)
        return Coverage(row["year"], row["labelled_epns"], row["complete_epns"]) if row is not None else None

    async def save_coverage(self, coverage: Coverage, version: int) -> None:
        """Keep a year's announced coverage and move the register to ``version``."""
        await self.db.execute(
            """INSERT INTO cadastre_coverage (year, labelled_epns, complete_epns, coverage_version)
               VALUES ($1, $2, $3, $4) ON CONFLICT (year) DO UPDATE
               SET labelled_epns = $2, complete_epns = $3, coverage_version = $4""",
            coverage.year,
            coverage.labelled_epns,
            coverage.complete_epns,
            version,
        )
        await self.db.execute("UPDATE coverage_register SET version = $1", version)

    async def line_years(self, beneficiary: str) -> list[int]:
        """The years in which ``beneficiary`` has lines."""
        rows = await self.db.fetch(
            "SELECT DISTINCT year FROM funding_lines WHERE beneficiary = $1 ORDER BY year", beneficiary
        )
        return [row["year"] for row in rows]

    # -- reminders of deadlines ----------------------------------------------------------------
    async def record_reminder(self, subject_kind: str, subject_id: str, stage: str, due_on: date) -> bool:
        """Whether this reminder is new: each (subject, stage, due day) is announced once, whoever
        checks (two replicas, a re-run); a deadline moved by an amendment is a new due day."""
        row = await self.db.fetchval(
            """INSERT INTO reminders (subject_kind, subject_id, stage, due_on) VALUES ($1, $2, $3, $4)
               ON CONFLICT DO NOTHING RETURNING 1""",
            subject_kind,
            subject_id,
            stage,
            due_on,
        )
        return row is not None


def _actor(actor: Actor | None) -> dict[str, Any]:
    assert actor is not None, "a stored line names who recorded it"
    return actor.model_dump(mode="json")


def _line(row: asyncpg.Record) -> FundingLine:
    return FundingLine(
        line_id=row["line_id"],
        beneficiary=row["beneficiary"],
        beneficiary_kind=row["beneficiary_kind"],
        commune=row["commune"],
        funder=row["funder"],
        funder_name=row["funder_name"],
        programme=row["programme"],
        year=row["year"],
        committed_eur=row["committed_eur"],
        paid_eur=row["paid_eur"],
        cofinancing_pct=row["cofinancing_pct"],
        recorded_by=Actor.model_validate(row["recorded_by"]),
        recorded_at=row["recorded_at"],
        updated_at=row["updated_at"],
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
        application_id=row["application_id"],
        status=row["status"],
        signed_on=row["signed_on"],
        ends_on=row["ends_on"],
        closed_on=row["closed_on"],
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
