"""Where the funding service's facts become contract events (``passerelle.funding.v1``): one
place, outbound. The unit of work wraps them in envelopes."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from passerelle_contracts.common import FieldChange
from passerelle_contracts.funding_v1 import (
    CadastreCoverageChanged,
    EpnDetailsChanged,
    EpnLabelled,
    EpnLabelStatusChanged,
    EpnRegistered,
    FundingLineChanged,
    FundingLineRecorded,
    GrantAwarded,
)

from .domain import Coverage, CriterionResult, Epn, FundingLine, Grant, plain


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


def epn_registered(epn: Epn) -> EpnRegistered:
    d = epn.details
    assert d.commune is not None, "a registration names the commune (only EPNs migrated from labels may lack one)"
    return EpnRegistered(
        epn=epn.epn,
        epn_name=d.epn_name,
        operator=d.operator,
        address=d.address,
        postcode=d.postcode,
        commune=d.commune,
        hours_per_week=d.hours_per_week,
        computers=d.computers,
        tablets=d.tablets,
        publics=list(d.publics),
        languages=list(d.languages),
        accessible=d.accessible,
        label_status=epn.label_status,
    )


def change_value(value: Any) -> str | int | float | bool | None:
    """A detail as a ``FieldChange`` carries it: amounts as exact text, lists as comma-separated codes."""
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, tuple | list):
        return ",".join(value)
    return value


def field_changes(changes: list[tuple[str, Any, Any]]) -> list[FieldChange]:
    return [FieldChange(field=f, old=change_value(old), new=change_value(new)) for f, old, new in changes]


def epn_details_changed(epn: str, changes: list[FieldChange]) -> EpnDetailsChanged:
    return EpnDetailsChanged(epn=epn, changes=changes)


def epn_label_status_changed(
    before: Epn, after: Epn, decided_on: date, results: list[CriterionResult], labelled: int, version: int
) -> EpnLabelStatusChanged:
    return EpnLabelStatusChanged(
        epn=after.epn,
        commune=after.details.commune,
        previous_status=before.label_status,
        status=after.label_status,
        decided_on=decided_on,
        criteria_unmet=[r.code for r in results if not r.met],
        labelled_epns=labelled,
        register_version=version,
    )


def epn_labelled(epn: Epn, labelled_on: date) -> EpnLabelled:
    return EpnLabelled(epn=epn.epn, commune=epn.details.commune, labelled_on=labelled_on)


def line_subject(line: FundingLine) -> str:
    return f"funding-line-{line.line_id}"


def funding_line_recorded(line: FundingLine) -> FundingLineRecorded:
    return FundingLineRecorded(
        line_id=str(line.line_id),
        beneficiary=line.beneficiary,
        beneficiary_kind=line.beneficiary_kind,
        commune=line.commune,
        funder=line.funder,
        funder_name=line.funder_name or None,
        programme=line.programme,
        year=line.year,
        committed_eur=line.committed_eur,
        paid_eur=line.paid_eur,
        cofinancing_pct=line.cofinancing_pct,
        complete=line.complete,
    )


def funding_line_changed(line: FundingLine, changes: list[FieldChange]) -> FundingLineChanged:
    return FundingLineChanged(
        line_id=str(line.line_id), beneficiary=line.beneficiary, year=line.year, changes=changes, complete=line.complete
    )


def cadastre_coverage_changed(coverage: Coverage, version: int) -> CadastreCoverageChanged:
    return CadastreCoverageChanged(
        year=coverage.year,
        labelled_epns=coverage.labelled_epns,
        complete_epns=coverage.complete_epns,
        coverage_version=version,
    )
