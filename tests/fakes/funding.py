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
        self.grants: dict[uuid.UUID, Grant] = {}
        self.labels: dict[str, EpnLabel] = {}

    async def add_grant(self, grant: Grant) -> Grant:
        if grant.grant_id in self.grants:
            raise ValueError(f"duplicate grant {grant.grant_id}")  # the primary key refuses it too
        if grant.terms.amount_eur <= 0:
            raise ValueError("amount_eur must be positive")  # the table's CHECK
        # numeric(12, 2): the register keeps cents, whatever scale the amount came with.
        terms = dataclasses.replace(grant.terms, amount_eur=grant.terms.amount_eur.quantize(CENT))
        stored = dataclasses.replace(grant, terms=terms, recorded_at=datetime.now(UTC))
        self.grants[grant.grant_id] = stored
        return stored

    async def grant(self, grant_id: uuid.UUID) -> Grant | None:
        return self.grants.get(grant_id)

    async def add_epn_label(self, label: EpnLabel) -> EpnLabel | None:
        if label.epn in self.labels:
            return None
        stored = dataclasses.replace(label, recorded_at=datetime.now(UTC))
        self.labels[label.epn] = stored
        return stored

    async def epn_label(self, epn: str) -> EpnLabel | None:
        return self.labels.get(epn)
