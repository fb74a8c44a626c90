"""The funding register in memory: what ``FundingRepository`` does, without PostgreSQL.

``tests/integration/test_funding_repository.py`` runs one suite against both."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.funding.domain import DETAIL_FIELDS, Criterion, Epn, Grant, HistoryEntry

CENT = Decimal("0.01")
TENTH = Decimal("0.1")
CHARTER = (  # what migration 0004 seeds
    Criterion("devices", "devices", Decimal(6), "Au moins 6 appareils (ordinateurs et tablettes) pour le public",
              "Minstens 6 toestellen (computers en tablets) voor het publiek"),
    Criterion("open-hours", "hours_per_week", Decimal(15), "Ouvert à tous au moins 15 heures par semaine",
              "Minstens 15 uur per week open voor iedereen"),
)  # fmt: skip


class FakeFundingRepository:
    def __init__(self) -> None:
        self.by_id: dict[uuid.UUID, Grant] = {}
        self.epns_by_code: dict[str, Epn] = {}
        self.entries: list[HistoryEntry] = []
        self.register_version = 0
        self.charter: dict[str, Criterion] = {c.code: c for c in CHARTER}

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

    async def grant(self, grant_id: uuid.UUID) -> Grant | None:
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
