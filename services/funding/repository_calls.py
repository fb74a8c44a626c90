"""The SQL of calls for projects and what follows a decision: applications, reviews, agreements
(tranches and reporting duties), amendments, claims, payments, reclaims and reports. A mixin of
``FundingRepository``: one repository, one connection, one transaction per unit of work."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
from passerelle_contracts import Actor

from services.runtime.db import Executor

from .domain.calls import Application, Call, Duty, Tranche

GRANT_FIELDS = ("amount_eur", "ends_on", "status", "signed_on", "closed_on")


class CallsRepository:
    db: Executor

    # -- calls ---------------------------------------------------------------------------------
    async def add_call(self, call: Call) -> Call | None:
        """Store a new call; None if its code is taken."""
        row = await self.db.fetchrow(
            """INSERT INTO calls (call_code, management, call_kind, funder, programme, title_fr, title_nl, opens_on,
                   closes_at, budget_eur, cofinancing_pct, cost_option, action_number, public, eligible_kinds, opened_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
               ON CONFLICT (call_code) DO NOTHING RETURNING *""",
            call.call_code,
            call.management,
            call.call_kind,
            call.funder,
            call.programme,
            call.title_fr,
            call.title_nl,
            call.opens_on,
            call.closes_at,
            call.budget_eur,
            call.cofinancing_pct,
            call.cost_option,
            call.action_number,
            call.public,
            list(call.eligible_kinds),
            _json(call.opened_by),
        )
        return _call(row) if row is not None else None

    async def call(self, code: str, *, lock: bool = False) -> Call | None:
        query = locking("SELECT * FROM calls WHERE call_code = $1", lock)
        row = await self.db.fetchrow(query, code)
        return _call(row) if row is not None else None

    async def calls(
        self,
        *,
        management: str | None = None,
        open_on: date | None = None,
        action_number: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Call]:
        """Calls, the nearest deadline first; ``open_on``: those open that Brussels day."""
        rows = await self.db.fetch(
            """SELECT * FROM calls
               WHERE ($1::text IS NULL OR management = $1)
                 AND ($2::date IS NULL OR (opens_on <= $2 AND (closes_at AT TIME ZONE 'Europe/Brussels')::date >= $2))
                 AND ($3::int IS NULL OR action_number = $3)
               ORDER BY closes_at, call_code LIMIT $4 OFFSET $5""",
            management,
            open_on,
            action_number,
            limit,
            offset,
        )
        return [_call(row) for row in rows]

    async def calls_closing(self, today: date, horizon_days: int) -> list[Call]:
        """Calls whose deadline (a Brussels day) is from ``today`` to ``horizon_days`` after it."""
        rows = await self.db.fetch(
            """SELECT * FROM calls
               WHERE (closes_at AT TIME ZONE 'Europe/Brussels')::date BETWEEN $1 AND $1 + $2::int
               ORDER BY closes_at, call_code""",
            today,
            horizon_days,
        )
        return [_call(row) for row in rows]

    # -- applications and reviews --------------------------------------------------------------
    async def add_application(self, application: Application) -> Application | None:
        """Store a new application; None if the organisation applied to this call already."""
        row = await self.db.fetchrow(
            """INSERT INTO applications (application_id, call_code, applicant, applicant_kind, requested_eur,
                   submitted_at, submitted_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (call_code, applicant) DO NOTHING RETURNING *""",
            application.application_id,
            application.call_code,
            application.applicant,
            application.applicant_kind,
            application.requested_eur,
            application.submitted_at,
            _json(application.submitted_by),
        )
        return _application(row) if row is not None else None

    async def application(self, application_id: uuid.UUID, *, lock: bool = False) -> Application | None:
        query = locking("SELECT * FROM applications WHERE application_id = $1", lock)
        row = await self.db.fetchrow(query, application_id)
        return _application(row) if row is not None else None

    async def application_of(self, call_code: str, applicant: str) -> Application | None:
        row = await self.db.fetchrow(
            "SELECT * FROM applications WHERE call_code = $1 AND applicant = $2", call_code, applicant
        )
        return _application(row) if row is not None else None

    async def applications(
        self, *, call_code: str | None = None, applicant: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Application]:
        rows = await self.db.fetch(
            """SELECT * FROM applications WHERE ($1::text IS NULL OR call_code = $1)
                 AND ($2::text IS NULL OR applicant = $2)
               ORDER BY submitted_at, application_id LIMIT $3 OFFSET $4""",
            call_code,
            applicant,
            limit,
            offset,
        )
        return [_application(row) for row in rows]

    async def committed_on_call(self, call_code: str) -> Decimal:
        """What the call's decisions awarded so far, net of budget revisions of its grants."""
        value = await self.db.fetchval(
            "SELECT coalesce(sum(amount_eur), 0) FROM grants WHERE call_code = $1 AND application_id IS NOT NULL",
            call_code,
        )
        return Decimal(value)

    async def decide_application(
        self, application_id: uuid.UUID, status: str, amount: Decimal, decided_on: date, grant_id: uuid.UUID | None
    ) -> Application:
        row = await self.db.fetchrow(
            """UPDATE applications SET status = $2, amount_eur = $3, decided_on = $4, grant_id = $5
               WHERE application_id = $1 RETURNING *""",
            application_id,
            status,
            amount,
            decided_on,
            grant_id,
        )
        assert row is not None, "the caller locked the application"
        return _application(row)

    async def put_review(self, application_id: uuid.UUID, reviewer: str, score: int, comment: str | None) -> bool:
        """Keep a reviewer's score (a second review by the same organisation replaces its first);
        whether anything changed."""
        row = await self.db.fetchrow(
            """INSERT INTO reviews (application_id, reviewer, score, comment) VALUES ($1, $2, $3, $4)
               ON CONFLICT (application_id, reviewer) DO UPDATE SET score = $3, comment = $4, reviewed_at = now()
               WHERE reviews.score IS DISTINCT FROM $3 OR reviews.comment IS DISTINCT FROM $4
               RETURNING 1""",
            application_id,
            reviewer,
            score,
            comment,
        )
        return row is not None

    async def reviews(self, application_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            "SELECT reviewer, score, comment, reviewed_at FROM reviews WHERE application_id = $1 ORDER BY reviewer",
            application_id,
        )
        return [dict(row) for row in rows]

    # -- agreements, amendments ----------------------------------------------------------------
    async def sign_agreement(
        self, grant_id: uuid.UUID, signed_on: date, ends_on: date, tranches: list[Tranche], duties: list[Duty]
    ) -> None:
        await self.db.execute(
            "UPDATE grants SET status = 'agreed', signed_on = $2, ends_on = $3 WHERE grant_id = $1",
            grant_id,
            signed_on,
            ends_on,
        )
        await self.db.executemany(
            "INSERT INTO tranches (grant_id, number, amount_eur, due_on) VALUES ($1, $2, $3, $4)",
            [(grant_id, t.number, t.amount_eur, t.due_on) for t in tranches],
        )
        await self.db.executemany(
            "INSERT INTO reporting_duties (duty_id, grant_id, kind, due_on) VALUES ($1, $2, $3, $4)",
            [(d.duty_id, grant_id, d.kind, d.due_on) for d in duties],
        )

    async def update_grant(self, grant_id: uuid.UUID, values: dict[str, Any]) -> None:
        names = [name for name in GRANT_FIELDS if name in values]
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
        await self.db.execute(
            f"UPDATE grants SET {assignments} WHERE grant_id = $1",  # noqa: S608 names from GRANT_FIELDS
            grant_id,
            *(values[n] for n in names),
        )

    async def tranches(self, grant_id: uuid.UUID) -> list[Tranche]:
        rows = await self.db.fetch("SELECT * FROM tranches WHERE grant_id = $1 ORDER BY number", grant_id)
        return [Tranche(row["number"], row["amount_eur"], row["due_on"]) for row in rows]

    async def set_tranche_amount(self, grant_id: uuid.UUID, number: int, amount: Decimal) -> None:
        await self.db.execute(
            "UPDATE tranches SET amount_eur = $3 WHERE grant_id = $1 AND number = $2", grant_id, number, amount
        )

    async def add_amendment(
        self, grant_id: uuid.UUID, kind: str, amended_on: date, changes: list[dict[str, Any]], actor: Actor
    ) -> None:
        await self.db.execute(
            """INSERT INTO grant_amendments (amendment_id, grant_id, kind, amended_on, changes, actor)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            uuid.uuid4(),
            grant_id,
            kind,
            amended_on,
            changes,
            actor.model_dump(mode="json"),
        )

    async def amendments(self, grant_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            "SELECT kind, amended_on, changes, recorded_at FROM grant_amendments WHERE grant_id = $1 ORDER BY recorded_at",
            grant_id,
        )
        return [dict(row) for row in rows]

    # -- reporting duties ----------------------------------------------------------------------
    async def duties(self, grant_id: uuid.UUID) -> list[Duty]:
        rows = await self.db.fetch(
            "SELECT * FROM reporting_duties WHERE grant_id = $1 ORDER BY due_on, kind DESC", grant_id
        )
        return [_duty(row) for row in rows]

    async def duty(self, duty_id: uuid.UUID, *, lock: bool = False) -> Duty | None:
        query = locking("SELECT * FROM reporting_duties WHERE duty_id = $1", lock)
        row = await self.db.fetchrow(query, duty_id)
        return _duty(row) if row is not None else None

    async def update_duty(self, duty_id: uuid.UUID, values: dict[str, Any]) -> Duty:
        allowed = ("due_on", "status", "submitted_on", "participants", "reviewed_on", "note")
        names = [name for name in allowed if name in values]
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
        row = await self.db.fetchrow(
            f"UPDATE reporting_duties SET {assignments} WHERE duty_id = $1 RETURNING *",  # noqa: S608 names from a constant
            duty_id,
            *(values[n] for n in names),
        )
        assert row is not None, "the caller locked the duty"
        return _duty(row)

    async def open_duties(self, until: date) -> list[tuple[Duty, str]]:
        """Reports not submitted (or returned) due on or before ``until``, with their beneficiary."""
        rows = await self.db.fetch(
            """SELECT d.*, g.beneficiary FROM reporting_duties d JOIN grants g ON g.grant_id = d.grant_id
               WHERE d.status IN ('pending', 'returned') AND d.due_on <= $1 AND g.status <> 'closed'
               ORDER BY d.due_on, d.duty_id""",
            until,
        )
        return [(_duty(row), row["beneficiary"]) for row in rows]

    # -- claims, payments, reclaims ------------------------------------------------------------
    async def add_claim(self, claim_id: uuid.UUID, grant_id: uuid.UUID, claimed: Decimal, submitted_on: date) -> None:
        await self.db.execute(
            "INSERT INTO payment_claims (claim_id, grant_id, claimed_eur, submitted_on) VALUES ($1, $2, $3, $4)",
            claim_id,
            grant_id,
            claimed,
            submitted_on,
        )

    async def claim(self, claim_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
        query = locking("SELECT * FROM payment_claims WHERE claim_id = $1", lock)
        row = await self.db.fetchrow(query, claim_id)
        return dict(row) if row is not None else None

    async def update_claim(
        self, claim_id: uuid.UUID, status: str, accepted: Decimal | None, checked_on: date | None
    ) -> None:
        await self.db.execute(
            """UPDATE payment_claims SET status = $2, accepted_eur = coalesce($3, accepted_eur),
                   checked_on = coalesce($4, checked_on) WHERE claim_id = $1""",
            claim_id,
            status,
            accepted,
            checked_on,
        )

    async def claims(self, grant_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            "SELECT * FROM payment_claims WHERE grant_id = $1 ORDER BY submitted_on, claim_id", grant_id
        )
        return [dict(row) for row in rows]

    async def add_payment(
        self,
        payment_id: uuid.UUID,
        grant_id: uuid.UUID,
        amount: Decimal,
        paid_on: date,
        claim_id: uuid.UUID | None,
        tranche: int | None,
        actor: Actor,
    ) -> None:
        await self.db.execute(
            """INSERT INTO payments (payment_id, grant_id, amount_eur, paid_on, claim_id, tranche, actor)
               VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            payment_id,
            grant_id,
            amount,
            paid_on,
            claim_id,
            tranche,
            actor.model_dump(mode="json"),
        )

    async def payments(self, grant_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            "SELECT payment_id, amount_eur, paid_on, claim_id, tranche FROM payments WHERE grant_id = $1 ORDER BY paid_on, payment_id",
            grant_id,
        )
        return [dict(row) for row in rows]

    async def add_reclaim(
        self, reclaim_id: uuid.UUID, grant_id: uuid.UUID, amount: Decimal, reason: str, issued_on: date, actor: Actor
    ) -> None:
        await self.db.execute(
            """INSERT INTO reclaims (reclaim_id, grant_id, amount_eur, reason, issued_on, actor)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            reclaim_id,
            grant_id,
            amount,
            reason,
            issued_on,
            actor.model_dump(mode="json"),
        )

    async def reclaims(self, grant_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            "SELECT reclaim_id, amount_eur, reason, issued_on FROM reclaims WHERE grant_id = $1 ORDER BY issued_on, reclaim_id",
            grant_id,
        )
        return [dict(row) for row in rows]

    async def paid_total(self, grant_id: uuid.UUID) -> Decimal:
        """Paid on a grant, net of reclaims."""
        value = await self.db.fetchval(
            """SELECT coalesce((SELECT sum(amount_eur) FROM payments WHERE grant_id = $1), 0)
                    - coalesce((SELECT sum(amount_eur) FROM reclaims WHERE grant_id = $1), 0)""",
            grant_id,
        )
        return Decimal(value)


def locking(query: str, lock: bool) -> str:
    """``query`` holding the rows it reads until the transaction ends, if ``lock``."""
    return f"{query} FOR UPDATE" if lock else query


def _json(actor: Actor | None) -> dict[str, Any]:
    assert actor is not None, "a stored record names who made it"
    return actor.model_dump(mode="json")


def _call(row: asyncpg.Record) -> Call:
    return Call(
        call_code=row["call_code"],
        management=row["management"],
        call_kind=row["call_kind"],
        funder=row["funder"],
        programme=row["programme"],
        title_fr=row["title_fr"],
        title_nl=row["title_nl"],
        opens_on=row["opens_on"],
        closes_at=row["closes_at"],
        budget_eur=row["budget_eur"],
        cofinancing_pct=row["cofinancing_pct"],
        cost_option=row["cost_option"],
        action_number=row["action_number"],
        public=row["public"],
        eligible_kinds=tuple(row["eligible_kinds"]),
        opened_by=Actor.model_validate(row["opened_by"]),
        created_at=row["created_at"],
    )


def _application(row: asyncpg.Record) -> Application:
    return Application(
        application_id=row["application_id"],
        call_code=row["call_code"],
        applicant=row["applicant"],
        applicant_kind=row["applicant_kind"],
        requested_eur=row["requested_eur"],
        submitted_at=row["submitted_at"],
        status=row["status"],
        amount_eur=row["amount_eur"],
        decided_on=row["decided_on"],
        grant_id=row["grant_id"],
        submitted_by=Actor.model_validate(row["submitted_by"]),
    )


def _duty(row: asyncpg.Record) -> Duty:
    return Duty(
        duty_id=row["duty_id"],
        grant_id=row["grant_id"],
        kind=row["kind"],
        due_on=row["due_on"],
        status=row["status"],
        submitted_on=row["submitted_on"],
        participants=row["participants"],
        reviewed_on=row["reviewed_on"],
        note=row["note"],
    )
