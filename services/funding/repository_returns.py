"""The SQL of EPN activity returns (action 28), a part of ``FundingRepository`` (a mixin on its
``db``): the current return of each EPN and quarter, its append-only revisions, what the chase
and the yearly study read."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg
from passerelle_contracts import Actor

from services.runtime.db import Executor

from .domain.returns import FIRST_YEAR, ActivityReturn, normalised

_COLUMNS = "epn, year, quarter, revision, visits, sessions, participants, by_public, by_age_band, by_gender"


class ReturnsRepository:
    db: Executor

    async def activity_return(self, epn: str, year: int, quarter: int, *, lock: bool = False) -> ActivityReturn | None:
        """The current return of a quarter; ``lock`` holds it until the transaction ends (a
        correction reads it, then numbers the next revision)."""
        query = "SELECT * FROM activity_returns WHERE epn = $1 AND year = $2 AND quarter = $3"
        row = await self.db.fetchrow(query + (" FOR UPDATE" if lock else ""), epn, year, quarter)
        return _return(row) if row is not None else None

    async def add_activity_return(self, ret: ActivityReturn) -> ActivityReturn | None:
        """Keep a quarter's first return (and its revision 1); None if the quarter has one already
        (a concurrent submission stored it: the caller locks that one and corrects it)."""
        row = await self.db.fetchrow(
            f"""INSERT INTO activity_returns ({_COLUMNS}, first_submitted_on, submitted_on, submitted_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                ON CONFLICT (epn, year, quarter) DO NOTHING RETURNING *""",  # noqa: S608 a constant list of columns
            *_values(ret),
            ret.first_submitted_on,
            ret.submitted_on,
            _actor(ret.submitted_by),
        )
        if row is None:
            return None
        await self._add_revision(ret)
        return _return(row)

    async def correct_activity_return(self, ret: ActivityReturn) -> ActivityReturn:
        """Replace a quarter's current return (the caller locked it) by its next revision, kept in
        the history too."""
        row = await self.db.fetchrow(
            """UPDATE activity_returns SET revision = $4, visits = $5, sessions = $6, participants = $7,
                   by_public = $8, by_age_band = $9, by_gender = $10, submitted_on = $11, submitted_by = $12,
                   submitted_at = now()
               WHERE epn = $1 AND year = $2 AND quarter = $3 AND revision = $4 - 1 RETURNING *""",
            *_values(ret),
            ret.submitted_on,
            _actor(ret.submitted_by),
        )
        assert row is not None, "the caller locked the current revision, the one before this"
        await self._add_revision(ret)
        return _return(row)

    async def _add_revision(self, ret: ActivityReturn) -> None:
        await self.db.execute(
            f"""INSERT INTO activity_return_revisions ({_COLUMNS}, submitted_on, submitted_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",  # noqa: S608 a constant list of columns
            *_values(ret),
            ret.submitted_on,
            _actor(ret.submitted_by),
        )

    async def activity_return_revisions(self, epn: str, year: int, quarter: int) -> list[ActivityReturn]:
        """Every revision of a quarter's return, the first first."""
        rows = await self.db.fetch(
            """SELECT r.*, c.first_submitted_on FROM activity_return_revisions r
               JOIN activity_returns c USING (epn, year, quarter)
               WHERE epn = $1 AND year = $2 AND quarter = $3 ORDER BY revision""",
            epn,
            year,
            quarter,
        )
        return [_return(row) for row in rows]

    async def activity_returns(
        self,
        *,
        epn: str | None = None,
        operator: str | None = None,
        year: int | None = None,
        quarter: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ActivityReturn]:
        """Current returns, the latest quarter first, then by EPN; ``operator`` keeps those of the
        EPNs that organisation runs."""
        rows = await self.db.fetch(
            """SELECT r.* FROM activity_returns r JOIN epns e USING (epn)
               WHERE ($1::text IS NULL OR r.epn = $1) AND ($2::text IS NULL OR e.operator = $2)
                 AND ($3::int IS NULL OR r.year = $3) AND ($4::int IS NULL OR r.quarter = $4)
               ORDER BY r.year DESC, r.quarter DESC, r.epn LIMIT $5 OFFSET $6""",
            epn,
            operator,
            year,
            quarter,
            limit,
            offset,
        )
        return [_return(row) for row in rows]

    async def activity_returns_of_year(self, year: int) -> list[ActivityReturn]:
        """Every current return of ``year`` (the study's input: a few hundred rows a year)."""
        rows = await self.db.fetch("SELECT * FROM activity_returns WHERE year = $1 ORDER BY quarter, epn", year)
        return [_return(row) for row in rows]

    async def labelled_epns_since(self) -> list[tuple[str, date]]:
        """Each EPN labelled now, with the day of its latest labelling, by code."""
        rows = await self.db.fetch(
            """SELECT epn, labelled_on FROM epns WHERE label_status = 'labelled' AND labelled_on IS NOT NULL
               ORDER BY epn"""
        )
        return [(row["epn"], row["labelled_on"]) for row in rows]

    async def returned_quarters(self, since_year: int = FIRST_YEAR) -> set[tuple[str, int, int]]:
        """(EPN, year, quarter) of every return kept from ``since_year`` on (what the chase does not
        ask for again: it needs only the years it still chases, not every year since 2020)."""
        rows = await self.db.fetch("SELECT epn, year, quarter FROM activity_returns WHERE year >= $1", since_year)
        return {(row["epn"], row["year"], row["quarter"]) for row in rows}


def _values(ret: ActivityReturn) -> tuple[Any, ...]:
    return (
        ret.epn,
        ret.year,
        ret.quarter,
        ret.revision,
        ret.visits,
        ret.sessions,
        ret.participants,
        dict(ret.by_public),
        dict(ret.by_age_band),
        dict(ret.by_gender),
    )


def _actor(actor: Actor | None) -> dict[str, Any]:
    assert actor is not None, "a return kept names who sent it"
    return actor.model_dump(mode="json")


def _return(row: asyncpg.Record) -> ActivityReturn:
    return normalised(  # jsonb keeps keys in its own order; the vocabulary's is the one shown
        ActivityReturn(
            epn=row["epn"],
            year=row["year"],
            quarter=row["quarter"],
            revision=row["revision"],
            visits=row["visits"],
            sessions=row["sessions"],
            participants=row["participants"],
            by_public=row["by_public"],
            by_age_band=row["by_age_band"],
            by_gender=row["by_gender"],
            submitted_on=row["submitted_on"],
            first_submitted_on=row["first_submitted_on"],
            submitted_by=Actor.model_validate(row["submitted_by"]),
            submitted_at=row["submitted_at"],
        )
    )
