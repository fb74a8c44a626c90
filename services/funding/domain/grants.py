"""Grants as the register keeps them, and who reads which."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from passerelle_contracts import Actor
from passerelle_contracts.common import BeneficiaryKind, CallKind, Public


@dataclass(frozen=True)
class GrantTerms:
    """What the Coordination decided: the call, the beneficiary, the amount and the day."""

    call_code: str
    call_kind: CallKind
    beneficiary: str
    beneficiary_kind: BeneficiaryKind
    amount_eur: Decimal
    awarded_on: date
    public: Public | None = None

    def as_request(self) -> dict[str, Any]:
        """The terms as the request that carried them: what an Idempotency-Key's digest covers."""
        return {
            "call_code": self.call_code,
            "call_kind": self.call_kind,
            "beneficiary": self.beneficiary,
            "beneficiary_kind": self.beneficiary_kind,
            "public": self.public,
            "amount_eur": self.amount_eur,
            "awarded_on": self.awarded_on,
        }


@dataclass(frozen=True)
class Grant:
    """A grant in the register. ``recorded_at`` is set by the register when it is stored."""

    grant_id: uuid.UUID
    terms: GrantTerms
    recorded_by: Actor
    idempotency_key: str | None = None  # kept for the record; the runtime's key table decides repetitions
    recorded_at: datetime | None = None
    application_id: uuid.UUID | None = None  # the application it was awarded on, if any
    status: str = "awarded"  # awarded -> agreed (its agreement signed) -> closed
    signed_on: date | None = None
    ends_on: date | None = None
    closed_on: date | None = None


READ_ALL_ROLES = ("coordination", "operator")


def reader_scope(actor: Actor) -> str | None:
    """Whose grants a key reads: every organisation's (None) for the Coordination and operators,
    else its own organisation's, as beneficiary."""
    return None if actor.role in READ_ALL_ROLES else actor.organisation
