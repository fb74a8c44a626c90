"""The funding register in memory: what ``FundingRepository`` does, without PostgreSQL.

``tests/integration/test_funding_repository.py`` runs one suite against both."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from services.funding.domain import EpnLabel, Grant

CENT = Decimal("0.01")


class FakeFundingRepository:
    def __init__(self) -> None:
        self.by_id: dict[uuid.UUID, Grant] = {}
        self.labels: dict[str, EpnLabel] = {}

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

    async def add_epn_label(self, label: EpnLabel) -> EpnLabel | None:
        if label.epn in self.labels:
            return None
        stored = dataclasses.replace(label, recorded_at=datetime.now(UTC))
        self.labels[label.epn] = stored
        return stored

    async def epn_label(self, epn: str) -> EpnLabel | None:
        return self.labels.get(epn)

    async def epn_labels(self, *, commune: str | None = None) -> list[EpnLabel]:
        return sorted(
            (lab for lab in self.labels.values() if commune is None or lab.commune == commune), key=lambda lab: lab.epn
        )
