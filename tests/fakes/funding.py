"""The funding register in memory: what ``FundingRepository`` does, without PostgreSQL.

``tests/integration/test_funding_repository.py`` runs one suite against both."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.funding.domain import (
    DETAIL_FIELDS,
    LINE_FIELDS,
    Coverage,
    Criterion,
    Epn,
    FundingLine,
    Grant,
    HistoryEntry,
)
from tests.fakes.funding_calls import FakeCalls
from tests.fakes.funding_returns import FakeReturns

CENT = Decimal("0.01")
TENTH = Decimal("0.1")
CHARTER = (  # what migration 0004 seeds
    Criterion("devices", "devices", Decimal(6), "Au moins 6 appareils (ordinateurs et tablettes) pour le public",
              "Minstens 6 toestellen (computers en tablets) voor het publiek"),
    Criterion("open-hours", "hours_per_week", Decimal(15), "Ouvert à tous au moins 15 heures par semaine",
              "Minstens 15 uur per week open voor iedereen"),
)  # fmt: skip


class FakeFundingRepository(FakeCalls, FakeReturns):
    def __init__(self) -> None:
        self.by_id: dict[uuid.UUID, Grant] = {}
        self.epns_by_code: dict[str, Epn] = {}
        self.entries: list[HistoryEntry] = []
        self.register_version = 0
        self.charter: dict[str, Criterion] = {c.code: c for c in CHARTER}
        self.lines: dict[uuid.UUID, FundingLine] = {}
        self.coverage: dict[int, Coverage] = {}
        self.coverage_version = 0
        self.reminders: set[tuple[str, str, str, date]] = set()

    async def add_grant(self, grant: Grant) -> Grant:
        if grant.grant_id in self.by_id:
            raise ValueError(f"duplicate grant {grant.grant_id}")  # the primary key refuses it too
        if grant.terms.amount_eur <= 0:
            raise ValueError("amount_eur must be positive")  # the table's CHECK
        # numeric(12, 2): the register keeps cents, whatever scale the amount came with.
        terms = dataclasses.replace(grant.terms, amount_eur=grant.terms.amount_eur.quantize(CENT))
        stored = dataclasses.replace(grant, terms=terms, recorded_at=datetime.now(UTC))
        self.by_id[grant.grant_id] = stored
        return stored

    async def grant(self, grant_id: uuid.UUID, *, lock: bool = False) -> Grant | None:
        return self.by_id.get(grant_id)

    async def grants(
        self,
        *,
        beneficiary: str | None = None,
        call_code: str | None = None,
        year: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Grant]:
        found = [
            g
            for g in self.by_id.values()
            if (beneficiary is None or g.terms.beneficiary == beneficiary)
            and (call_code is None or g.terms.call_code == call_code)
            and (year is None or g.terms.awarded_on.year == year)
        ]
        # newest award first, then the latest recorded (recorded_at is increasing here)
        found.sort(key=lambda g: (g.terms.awarded_on, g.recorded_at or datetime.min.replace(tzinfo=UTC)), reverse=True)
        return found[offset : offset + limit]

    # -- the EPN register ----------------------------------------------------------------------
    async def add_epn(self, epn: Epn) -> Epn | None:
        if epn.epn in self.epns_by_code:
            return None
        now = datetime.now(UTC)
        hours = epn.details.hours_per_week.quantize(TENTH, ROUND_HALF_UP)  # numeric(4, 1) rounds half up
        stored = dataclasses.replace(
            epn, details=dataclasses.replace(epn.details, hours_per_week=hours), registered_at=now, updated_at=now
        )
        self.epns_by_code[epn.epn] = stored
        return stored

    async def epn(self, code: str, *, lock: bool = False) -> Epn | None:
        return self.epns_by_code.get(code)

    async def epns(
        self,
        *,
        commune: str | None = None,
        status: str | None = None,
        operator: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Epn]:
        found = sorted(
            (
                e
                for e in self.epns_by_code.values()
                if (commune is None or e.details.commune == commune)
                and (status is None or e.label_status == status)
                and (operator is None or e.details.operator == operator)
            ),
            key=lambda e: e.epn,
        )
        return found[offset : offset + limit]

    async def update_epn(self, code: str, values: dict[str, Any]) -> Epn:
        epn = self.epns_by_code[code]
        changed = {name: values[name] for name in DETAIL_FIELDS if name in values}
        if "hours_per_week" in changed:
            changed["hours_per_week"] = changed["hours_per_week"].quantize(TENTH, ROUND_HALF_UP)
        updated = dataclasses.replace(
            epn, details=dataclasses.replace(epn.details, **changed), updated_at=datetime.now(UTC)
        )
        self.epns_by_code[code] = updated
        return updated

    async def next_register_version(self) -> int:
        self.register_version += 1
        return self.register_version

    async def set_label_status(self, code: str, status: str, decided_on: date) -> Epn:
        epn = self.epns_by_code[code]
        updated = dataclasses.replace(
            epn,
            label_status=status,  # type: ignore[arg-type]  # the table's CHECK is the SQL side's guard
            labelled_on=decided_on if status == "labelled" else epn.labelled_on,
            updated_at=datetime.now(UTC),
        )
        self.epns_by_code[code] = updated
        return updated

    async def count_labelled(self) -> int:
        return sum(1 for e in self.epns_by_code.values() if e.label_status == "labelled")

    async def add_history(self, entry: HistoryEntry) -> None:
        if entry.epn not in self.epns_by_code:
            raise ValueError(f"no EPN {entry.epn}")  # the foreign key refuses it too
        self.entries.append(dataclasses.replace(entry, recorded_at=datetime.now(UTC)))

    async def history(self, code: str) -> list[HistoryEntry]:
        return [e for e in self.entries if e.epn == code]

    async def criteria(self) -> list[Criterion]:
        return sorted(self.charter.values(), key=lambda c: c.code)

    async def put_criterion(self, criterion: Criterion) -> None:
        self.charter[criterion.code] = criterion

    # -- the funding cadastre ------------------------------------------------------------------
    async def funding_line_by_key(self, key: tuple[str, str, str, str, int]) -> FundingLine | None:
        return next((line for line in self.lines.values() if line.key == key), None)

    async def add_funding_line(self, line: FundingLine) -> FundingLine | None:
        if await self.funding_line_by_key(line.key) is not None:
            return None
        assert line.line_id is not None and line.committed_eur > 0, "the primary key and the CHECK"
        now = datetime.now(UTC)
        stored = dataclasses.replace(line, recorded_at=now, updated_at=now, **_cents(line.values()))
        self.lines[line.line_id] = stored
        return stored

    async def update_funding_line(self, line_id: uuid.UUID, values: dict[str, Any]) -> FundingLine:
        line = self.lines[line_id]
        changed = {name: values[name] for name in LINE_FIELDS if name in values}
        updated = dataclasses.replace(line, **(changed | _cents(changed)), updated_at=datetime.now(UTC))
        self.lines[line_id] = updated
        return updated

    async def funding_line(self, line_id: uuid.UUID) -> FundingLine | None:
        return self.lines.get(line_id)

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
        found = [
            line
            for line in self.lines.values()
            if (beneficiary is None or line.beneficiary == beneficiary)
            and (funder is None or line.funder == funder)
            and (year is None or line.year == year)
            and (commune is None or line.commune == commune)
        ]
        found.sort(key=lambda line: (-line.year, line.beneficiary, line.funder, line.funder_name, line.programme))
        return found[offset : offset + limit]

    async def cadastre_totals(self, by: str, *, year: int | None = None) -> list[dict[str, Any]]:
        groups: dict[Any, dict[str, Any]] = {}
        for line in self.lines.values():
            if year is not None and line.year != year:
                continue
            key = getattr(line, by)
            group = groups.setdefault(
                key, {"key": key, "lines": 0, "committed_eur": Decimal(0), "paid_eur": Decimal(0), "complete_lines": 0}
            )
            group["lines"] += 1
            group["committed_eur"] += line.committed_eur
            group["paid_eur"] += line.paid_eur or Decimal(0)
            group["complete_lines"] += 1 if line.complete else 0
        # the largest committed first, then by key (PostgreSQL sorts NULL last)
        return sorted(groups.values(), key=lambda g: (-g["committed_eur"], g["key"] is None, g["key"] or 0))

    async def completeness(self, year: int) -> list[dict[str, Any]]:
        out = []
        for epn in sorted(self.epns_by_code.values(), key=lambda e: e.epn):
            if epn.label_status != "labelled":
                continue
            lines = [line for line in self.lines.values() if line.beneficiary == epn.epn and line.year == year]
            out.append(
                {
                    "epn": epn.epn,
                    "commune": epn.details.commune,
                    "lines": len(lines),
                    "complete_lines": sum(1 for line in lines if line.complete),
                }
            )
        return out

    async def lock_coverage(self) -> int:
        return self.coverage_version

    async def measure_coverage(self, year: int) -> Coverage:
        labelled = {e.epn for e in self.epns_by_code.values() if e.label_status == "labelled"}
        complete = {
            line.beneficiary
            for line in self.lines.values()
            if line.year == year and line.complete and line.beneficiary in labelled
        }
        return Coverage(year=year, labelled_epns=len(labelled), complete_epns=len(complete))

    async def announced_coverage(self, year: int) -> Coverage | None:
        return self.coverage.get(year)

    async def save_coverage(self, coverage: Coverage, version: int) -> None:
        self.coverage[coverage.year] = coverage
        self.coverage_version = version

    async def line_years(self, beneficiary: str) -> list[int]:
        return sorted({line.year for line in self.lines.values() if line.beneficiary == beneficiary})

    # -- reminders of deadlines ----------------------------------------------------------------
    async def record_reminder(self, subject_kind: str, subject_id: str, stage: str, due_on: date) -> bool:
        key = (subject_kind, subject_id, stage, due_on)
        if key in self.reminders:
            return False
        self.reminders.add(key)
        return True


def _cents(values: dict[str, Any]) -> dict[str, Any]:
    """numeric(12, 2) and numeric(5, 2): amounts and shares kept to the cent, as PostgreSQL keeps them."""
    return {
        name: values[name].quantize(CENT, ROUND_HALF_UP)
        for name in ("committed_eur", "paid_eur", "cofinancing_pct")
        if values.get(name) is not None
    }
