"""The funding cadastre: a line, its key and completeness, a year's coverage."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from passerelle_contracts import Actor
from passerelle_contracts.common import BeneficiaryKind, FunderKind

# --- the funding cadastre ------------------------------------------------------------------------

LINE_FIELDS = ("beneficiary_kind", "commune", "committed_eur", "paid_eur", "cofinancing_pct")
"""What an import or a command may change of a line; the rest is its key (``FundingLine.key``)."""


@dataclass(frozen=True)
class FundingLine:
    """One line of the funding cadastre. Its key is who is funded, by whom, in which programme
    and year: a spreadsheet imported twice finds its lines again instead of doubling them."""

    beneficiary: str
    beneficiary_kind: BeneficiaryKind
    funder: FunderKind
    programme: str
    year: int
    committed_eur: Decimal
    funder_name: str = ""  # the commune or foundation, when the funder kind is not enough
    commune: str | None = None
    paid_eur: Decimal | None = None
    cofinancing_pct: Decimal | None = None
    line_id: uuid.UUID | None = None
    recorded_by: Actor | None = None
    recorded_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str, str, int]:
        return (self.beneficiary, self.funder, self.funder_name, self.programme, self.year)

    @property
    def complete(self) -> bool:
        """Everything the cadastre asks is known: the amount paid and the co-financing share."""
        return self.paid_eur is not None and self.cofinancing_pct is not None

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in LINE_FIELDS}


def line_changes(before: FundingLine, after: FundingLine) -> list[tuple[str, Any, Any]]:
    """(field, old, new) for each of ``LINE_FIELDS`` that differs (amounts compared as numbers)."""
    old, new = before.values(), after.values()
    return [(name, old[name], new[name]) for name in LINE_FIELDS if old[name] != new[name]]


@dataclass(frozen=True)
class Coverage:
    """A year's coverage: labelled EPNs, and those of them with a complete line for the year."""

    year: int
    labelled_epns: int
    complete_epns: int
