"""Where the funding service's facts become contract events (``passerelle.funding.v1``): one
place, outbound. The unit of work wraps them in envelopes."""

from __future__ import annotations

import uuid

from passerelle_contracts.funding_v1 import EpnLabelled, GrantAwarded

from .domain import EpnLabel, Grant


def grant_subject(grant_id: uuid.UUID) -> str:
    return f"grant-{grant_id}"


def epn_subject(epn: str) -> str:
    return f"epn-{epn}"


def grant_awarded(grant: Grant) -> GrantAwarded:
    t = grant.terms
    return GrantAwarded(
        grant_id=str(grant.grant_id),
        call_code=t.call_code,
        call_kind=t.call_kind,
        beneficiary=t.beneficiary,
        beneficiary_kind=t.beneficiary_kind,
        public=t.public,
        amount_eur=t.amount_eur,
        awarded_on=t.awarded_on,
    )


def epn_labelled(label: EpnLabel) -> EpnLabelled:
    return EpnLabelled(epn=label.epn, commune=label.commune, labelled_on=label.labelled_on)
