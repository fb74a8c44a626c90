"""Events published by the funding service (topic ``passerelle.funding.v1``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import Field

from .common import BeneficiaryKind, CallKind, Public
from .envelope import EventData

TOPIC = "passerelle.funding.v1"


class GrantAwarded(EventData):
    """A grant was awarded to an EPN or a non-profit, in a call for projects or the ESF."""

    event_type = "GrantAwarded"
    topic = TOPIC

    grant_id: str
    call_code: str = Field(description="The call for projects, e.g. 'AAP-SENIORS-2024'.")
    call_kind: CallKind
    beneficiary: str = Field(description="Beneficiary organisation code.")
    beneficiary_kind: BeneficiaryKind
    public: Public | None = None
    amount_eur: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    awarded_on: date


class EpnLabelled(EventData):
    """A public digital space (EPN) received the regional label."""

    event_type = "EpnLabelled"
    topic = TOPIC

    epn: str = Field(description="The EPN's organisation code.")
    commune: str | None = None
    labelled_on: date


EVENTS: tuple[type[EventData], ...] = (GrantAwarded, EpnLabelled)
