"""EPN activity returns in memory: what ``ReturnsRepository`` does, without PostgreSQL
(``tests/integration/test_funding_returns.py`` runs one suite on both)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

from services.funding.domain import Epn
from services.funding.domain.returns import FIRST_YEAR, ActivityReturn, normalised

Key = tuple[str, int, int]


class FakeReturns:
    """A mixin of ``FakeFundingRepository``: its tables are made on first use (so its
    ``__init__`` stays the register's), inside the unit of work's snapshot like the others."""

    epns_by_code: dict[str, Epn]

    def _returns_tables(self) -> dict[str, Any]:
        tables: dict[str, Any] | None = getattr(self, "_activity_returns", None)
        if tables is None:
            tables = {"current": {}, "revisions": {}}
            self._activity_returns = tables
        return tables

    @property
    def _current(self) -> dict[Key, ActivityReturn]:
        current: dict[Key, ActivityReturn] = self._returns_tables()["current"]
        return current

    @property
    def _revisions(self) -> dict[Key, list[ActivityReturn]]:
        revisions: dict[Key, list[ActivityReturn]] = self._returns_tables()["revisions"]
        return revisions

    async def activity_return(self, epn: str, year: int, quarter: int, *, lock: bool = False) -> ActivityReturn | None:
        return self._current.get((epn, year, quarter))

    async def add_activity_return(self, ret: ActivityReturn) -> ActivityReturn | None:
        if ret.epn not in self.epns_by_code:
            raise ValueError(f"no EPN {ret.epn}")  # the foreign key refuses it too
        if ret.key in self._current:
            return None
        stored = normalised(dataclasses.replace(ret, submitted_at=datetime.now(UTC)))
        self._current[ret.key] = stored
        self._revisions[ret.key] = [stored]
        return stored

    async def correct_activity_return(self, ret: ActivityReturn) -> ActivityReturn:
        current = self._current[ret.key]
        assert current.revision == ret.revision - 1, "the caller locked the current revision, the one before this"
        stored = normalised(
            dataclasses.replace(ret, first_submitted_on=current.first_submitted_on, submitted_at=datetime.now(UTC))
        )
        self._current[ret.key] = stored
        self._revisions[ret.key].append(stored)
        return stored

    async def activity_return_revisions(self, epn: str, year: int, quarter: int) -> list[ActivityReturn]:
        return list(self._revisions.get((epn, year, quarter), []))

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
        found = [
            r
            for r in self._current.values()
            if (epn is None or r.epn == epn)
            and (operator is None or self.epns_by_code[r.epn].details.operator == operator)
            and (year is None or r.year == year)
            and (quarter is None or r.quarter == quarter)
        ]
        found.sort(key=lambda r: r.epn)
        found.sort(key=lambda r: (r.year, r.quarter), reverse=True)
        return found[offset : offset + limit]

    async def activity_returns_of_year(self, year: int) -> list[ActivityReturn]:
        return sorted((r for r in self._current.values() if r.year == year), key=lambda r: (r.quarter, r.epn))

    async def labelled_epns_since(self) -> list[tuple[str, date]]:
        return [
            (code, epn.labelled_on)
            for code, epn in sorted(self.epns_by_code.items())
            if epn.label_status == "labelled" and epn.labelled_on is not None
        ]

    async def returned_quarters(self, since_year: int = FIRST_YEAR) -> set[Key]:
        return {key for key in self._current if key[1] >= since_year}
