"""The funding's read model (topic ``passerelle.funding.v1``): calls, applications, the funding
cadastre's lines, grants and the reports they ask.

The latest word on each, by its key: a call's terms never change once opened, an application is
submitted then decided, a cadastre line is recorded then changed field by field (the new values of
``FundingLineChanged``), a report is asked by its grant's agreement, moved by an extension,
submitted, then approved or returned. One grant's events (its agreement, amendments, reports,
reminders) share a subject, hence their order; so do one line's and one call's. The EPN register,
payments, claims, reclaims and activity returns are not kept: no figure of the page needs them.
"""

from __future__ import annotations

from typing import Any

from passerelle_contracts import Envelope
from passerelle_contracts.funding_v1 import (
    ApplicationDecided,
    ApplicationSubmitted,
    CallClosingSoon,
    CallOpened,
    FundingLineChanged,
    FundingLineRecorded,
    GrantAgreementSigned,
    GrantAmended,
    GrantAwarded,
    GrantClosed,
    GrantReportReviewed,
    GrantReportSubmitted,
    ReportingReminder,
)

from services.runtime.db import Executor

from . import Projections

# The fields of FundingLineChanged's changes, and their columns (``LINE_FIELDS`` of the funding
# service: what a line may change; the rest is its key).
_LINE_FIELDS = {
    "beneficiary_kind": "beneficiary_kind",
    "commune": "commune",
    "committed_eur": "committed_eur",
    "paid_eur": "paid_eur",
    "cofinancing_pct": "cofinancing_pct",
}
_AMOUNTS = {"committed_eur", "paid_eur", "cofinancing_pct"}


async def call_opened(db: Executor, envelope: Envelope, data: CallOpened) -> None:
    await db.execute(
        """INSERT INTO fu_calls (call_code, management, call_kind, funder, programme, title_fr, title_nl, opens_on,
                                 closes_at, budget_eur, action_number)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (call_code) DO UPDATE SET management = EXCLUDED.management, call_kind = EXCLUDED.call_kind,
               funder = EXCLUDED.funder, programme = EXCLUDED.programme, title_fr = EXCLUDED.title_fr,
               title_nl = EXCLUDED.title_nl, opens_on = EXCLUDED.opens_on, closes_at = EXCLUDED.closes_at,
               budget_eur = EXCLUDED.budget_eur, action_number = EXCLUDED.action_number""",
        data.call_code,
        data.management,
        data.call_kind,
        data.funder,
        data.programme,
        data.title_fr,
        data.title_nl,
        data.opens_on,
        data.closes_at,
        data.budget_eur,
        data.action_number,
    )


async def call_closing_soon(db: Executor, envelope: Envelope, data: CallClosingSoon) -> None:
    await db.execute("UPDATE fu_calls SET last_reminder = $2 WHERE call_code = $1", data.call_code, data.stage)


async def application_submitted(db: Executor, envelope: Envelope, data: ApplicationSubmitted) -> None:
    await db.execute(
        """INSERT INTO fu_applications (application_id, call_code, applicant, applicant_kind, requested_eur,
                                        submitted_at, status)
           VALUES ($1, $2, $3, $4, $5, $6, 'submitted')
           ON CONFLICT (application_id) DO UPDATE SET applicant_kind = EXCLUDED.applicant_kind,
               requested_eur = EXCLUDED.requested_eur, submitted_at = EXCLUDED.submitted_at""",
        data.application_id,
        data.call_code,
        data.applicant,
        data.applicant_kind,
        data.requested_eur,
        data.submitted_at,
    )


async def application_decided(db: Executor, envelope: Envelope, data: ApplicationDecided) -> None:
    await db.execute(
        """INSERT INTO fu_applications (application_id, call_code, applicant, status, amount_eur, decided_on)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (application_id) DO UPDATE SET status = EXCLUDED.status, amount_eur = EXCLUDED.amount_eur,
               decided_on = EXCLUDED.decided_on""",
        data.application_id,
        data.call_code,
        data.applicant,
        data.decision,
        data.amount_eur,
        data.decided_on,
    )


async def funding_line_recorded(db: Executor, envelope: Envelope, data: FundingLineRecorded) -> None:
    await db.execute(
        """INSERT INTO fu_lines (line_id, beneficiary, beneficiary_kind, commune, funder, funder_name, programme,
                                 year, committed_eur, paid_eur, cofinancing_pct, complete)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (line_id) DO NOTHING""",
        data.line_id,
        data.beneficiary,
        data.beneficiary_kind,
        data.commune,
        data.funder,
        data.funder_name or "",
        data.programme,
        data.year,
        data.committed_eur,
        data.paid_eur,
        data.cofinancing_pct,
        data.complete,
    )


async def funding_line_changed(db: Executor, envelope: Envelope, data: FundingLineChanged) -> None:
    # Each change sets a field to its new value: applying the event again sets the same values.
    for change in data.changes:
        column = _LINE_FIELDS.get(change.field)
        if column is None:
            continue
        value: Any = change.new
        cast = "::text::numeric" if column in _AMOUNTS else "::text"
        await db.execute(
            f"UPDATE fu_lines SET {column} = $2{cast} WHERE line_id = $1",  # noqa: S608 - a name of _LINE_FIELDS
            data.line_id,
            None if value is None else str(value),
        )
    await db.execute("UPDATE fu_lines SET complete = $2 WHERE line_id = $1", data.line_id, data.complete)


async def grant_awarded(db: Executor, envelope: Envelope, data: GrantAwarded) -> None:
    await db.execute(
        """INSERT INTO fu_grants (grant_id, call_code, beneficiary) VALUES ($1, $2, $3)
           ON CONFLICT (grant_id) DO NOTHING""",
        data.grant_id,
        data.call_code,
        data.beneficiary,
    )


async def agreement_signed(db: Executor, envelope: Envelope, data: GrantAgreementSigned) -> None:
    await db.execute(
        """INSERT INTO fu_grants (grant_id, call_code, beneficiary) VALUES ($1, $2, $3)
           ON CONFLICT (grant_id) DO NOTHING""",
        data.grant_id,
        data.call_code,
        data.beneficiary,
    )
    for duty in data.duties:
        await db.execute(
            """INSERT INTO fu_duties (duty_id, grant_id, beneficiary, kind, due_on) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (duty_id) DO NOTHING""",
            duty.duty_id,
            data.grant_id,
            data.beneficiary,
            duty.kind,
            duty.due_on,
        )


async def grant_amended(db: Executor, envelope: Envelope, data: GrantAmended) -> None:
    # An extension moves the final report when it is still to be submitted (pending or returned):
    # the change ``final_report_due_on`` says to when (a grant asks one final report).
    for change in data.changes:
        if change.field == "final_report_due_on" and isinstance(change.new, str):
            await db.execute(
                "UPDATE fu_duties SET due_on = $2::text::date WHERE grant_id = $1 AND kind = 'final'",
                data.grant_id,
                change.new,
            )


async def report_submitted(db: Executor, envelope: Envelope, data: GrantReportSubmitted) -> None:
    await db.execute(
        "UPDATE fu_duties SET status = 'submitted', submitted_on = $2 WHERE duty_id = $1",
        data.duty_id,
        data.submitted_on,
    )


async def report_reviewed(db: Executor, envelope: Envelope, data: GrantReportReviewed) -> None:
    await db.execute(
        "UPDATE fu_duties SET status = $2, reviewed_on = $3 WHERE duty_id = $1",
        data.duty_id,
        data.outcome,
        data.reviewed_on,
    )


async def reporting_reminder(db: Executor, envelope: Envelope, data: ReportingReminder) -> None:
    # The reminder states the duty as the funding service has it: its due day, its beneficiary.
    await db.execute(
        """INSERT INTO fu_duties (duty_id, grant_id, beneficiary, kind, due_on, last_reminder)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (duty_id) DO UPDATE SET due_on = EXCLUDED.due_on, last_reminder = EXCLUDED.last_reminder""",
        data.duty_id,
        data.grant_id,
        data.beneficiary,
        data.kind,
        data.due_on,
        data.stage,
    )


async def grant_closed(db: Executor, envelope: Envelope, data: GrantClosed) -> None:
    await db.execute(
        """INSERT INTO fu_grants (grant_id, call_code, beneficiary, closed_on) VALUES ($1, '', $2, $3)
           ON CONFLICT (grant_id) DO UPDATE SET closed_on = EXCLUDED.closed_on""",
        data.grant_id,
        data.beneficiary,
        data.closed_on,
    )


TABLES = ("fu_calls", "fu_applications", "fu_lines", "fu_grants", "fu_duties")

PROJECTIONS: Projections = {
    "CallOpened": (call_opened,),
    "CallClosingSoon": (call_closing_soon,),
    "ApplicationSubmitted": (application_submitted,),
    "ApplicationDecided": (application_decided,),
    "FundingLineRecorded": (funding_line_recorded,),
    "FundingLineChanged": (funding_line_changed,),
    "GrantAwarded": (grant_awarded,),
    "GrantAgreementSigned": (agreement_signed,),
    "GrantAmended": (grant_amended,),
    "GrantReportSubmitted": (report_submitted,),
    "GrantReportReviewed": (report_reviewed,),
    "ReportingReminder": (reporting_reminder,),
    "GrantClosed": (grant_closed,),
}
