"""Calls for projects and what follows a decision, in memory: what ``CallsRepository`` does,
without PostgreSQL (``tests/integration/test_funding_calls_repository.py`` runs one suite on both)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from passerelle_contracts import Actor

from services.funding.domain import Grant
from services.funding.domain.calls import Application, Call, Duty, Tranche

BRUSSELS = ZoneInfo("Europe/Brussels")
CENT = Decimal("0.01")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _maybe_cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else _cents(value)


class FakeCalls:
    """A mixin of ``FakeFundingRepository``: its tables are made on first use."""

    by_id: dict[uuid.UUID, Grant]

    def _tables(self) -> dict[str, Any]:
        tables: dict[str, Any] | None = getattr(self, "_calls_tables", None)
        if tables is None:
            tables = {"calls": {}, "applications": {}, "reviews": {}, "tranches": {}, "duties": {}, "amendments": [],
                      "claims": {}, "payments": [], "reclaims": []}  # fmt: skip
            self._calls_tables = tables
        return tables

    # -- calls ---------------------------------------------------------------------------------
    async def add_call(self, call: Call) -> Call | None:
        calls = self._tables()["calls"]
        if call.call_code in calls:
            return None
        stored = dataclasses.replace(call, budget_eur=_maybe_cents(call.budget_eur), created_at=datetime.now(UTC))
        calls[call.call_code] = stored
        return stored

    async def call(self, code: str, *, lock: bool = False) -> Call | None:
        return self._tables()["calls"].get(code)

    async def calls(
        self,
        *,
        management: str | None = None,
        open_on: date | None = None,
        action_number: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Call]:
        found = [
            c
            for c in self._tables()["calls"].values()
            if (management is None or c.management == management)
            and (open_on is None or c.opens_on <= open_on <= c.closes_at.astimezone(BRUSSELS).date())
            and (action_number is None or c.action_number == action_number)
        ]
        found.sort(key=lambda c: (c.closes_at, c.call_code))
        return found[offset : offset + limit]

    async def calls_closing(self, today: date, horizon_days: int) -> list[Call]:
        last = today + timedelta(days=horizon_days)
        found = [
            c for c in self._tables()["calls"].values() if today <= c.closes_at.astimezone(BRUSSELS).date() <= last
        ]
        return sorted(found, key=lambda c: (c.closes_at, c.call_code))

    # -- applications and reviews --------------------------------------------------------------
    async def add_application(self, application: Application) -> Application | None:
        if await self.application_of(application.call_code, application.applicant) is not None:
            return None
        if application.call_code not in self._tables()["calls"]:
            raise ValueError(f"no call {application.call_code}")  # the foreign key
        stored = dataclasses.replace(application, requested_eur=_cents(application.requested_eur))
        self._tables()["applications"][application.application_id] = stored
        return stored

    async def application(self, application_id: uuid.UUID, *, lock: bool = False) -> Application | None:
        return self._tables()["applications"].get(application_id)

    async def application_of(self, call_code: str, applicant: str) -> Application | None:
        return next(
            (
                a
                for a in self._tables()["applications"].values()
                if (a.call_code, a.applicant) == (call_code, applicant)
            ),
            None,
        )

    async def applications(
        self, *, call_code: str | None = None, applicant: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Application]:
        found = [
            a
            for a in self._tables()["applications"].values()
            if (call_code is None or a.call_code == call_code) and (applicant is None or a.applicant == applicant)
        ]
        found.sort(key=lambda a: (a.submitted_at, str(a.application_id)))
        return found[offset : offset + limit]

    async def committed_on_call(self, call_code: str) -> Decimal:
        return sum(
            (g.terms.amount_eur for g in self.by_id.values() if g.terms.call_code == call_code and g.application_id),
            Decimal(0),
        )

    async def decide_application(
        self, application_id: uuid.UUID, status: str, amount: Decimal, decided_on: date, grant_id: uuid.UUID | None
    ) -> Application:
        applications = self._tables()["applications"]
        decided = dataclasses.replace(
            applications[application_id],
            status=status,
            amount_eur=_cents(amount),
            decided_on=decided_on,
            grant_id=grant_id,
        )
        applications[application_id] = decided
        return decided

    async def put_review(self, application_id: uuid.UUID, reviewer: str, score: int, comment: str | None) -> bool:
        reviews = self._tables()["reviews"]
        before = reviews.get((application_id, reviewer))
        if before is not None and (before["score"], before["comment"]) == (score, comment):
            return False
        reviews[(application_id, reviewer)] = {"reviewer": reviewer, "score": score, "comment": comment,
                                               "reviewed_at": datetime.now(UTC)}  # fmt: skip
        return True

    async def reviews(self, application_id: uuid.UUID) -> list[dict[str, Any]]:
        found = [dict(r) for (a, _), r in self._tables()["reviews"].items() if a == application_id]
        return sorted(found, key=lambda r: r["reviewer"])

    # -- agreements, amendments ----------------------------------------------------------------
    async def sign_agreement(
        self, grant_id: uuid.UUID, signed_on: date, ends_on: date, tranches: list[Tranche], duties: list[Duty]
    ) -> None:
        await self.update_grant(grant_id, {"status": "agreed", "signed_on": signed_on, "ends_on": ends_on})
        for t in tranches:
            self._tables()["tranches"][(grant_id, t.number)] = dataclasses.replace(t, amount_eur=_cents(t.amount_eur))
        for d in duties:
            self._tables()["duties"][d.duty_id] = dataclasses.replace(d, grant_id=grant_id)

    async def update_grant(self, grant_id: uuid.UUID, values: dict[str, Any]) -> None:
        grant = self.by_id[grant_id]
        changed = {k: v for k, v in values.items() if k in ("status", "signed_on", "ends_on", "closed_on")}
        if "amount_eur" in values:
            grant = dataclasses.replace(
                grant, terms=dataclasses.replace(grant.terms, amount_eur=_cents(values["amount_eur"]))
            )
        self.by_id[grant_id] = dataclasses.replace(grant, **changed)

    async def tranches(self, grant_id: uuid.UUID) -> list[Tranche]:
        return [t for (g, _), t in sorted(self._tables()["tranches"].items(), key=lambda i: i[0][1]) if g == grant_id]

    async def set_tranche_amount(self, grant_id: uuid.UUID, number: int, amount: Decimal) -> None:
        tranches = self._tables()["tranches"]
        tranches[(grant_id, number)] = dataclasses.replace(tranches[(grant_id, number)], amount_eur=_cents(amount))

    async def add_amendment(
        self, grant_id: uuid.UUID, kind: str, amended_on: date, changes: list[dict[str, Any]], actor: Actor
    ) -> None:
        self._tables()["amendments"].append(
            {"grant_id": grant_id, "kind": kind, "amended_on": amended_on, "changes": changes,
             "recorded_at": datetime.now(UTC)}
        )  # fmt: skip

    async def amendments(self, grant_id: uuid.UUID) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in a.items() if k != "grant_id"}
            for a in self._tables()["amendments"]
            if a["grant_id"] == grant_id
        ]

    # -- reporting duties ----------------------------------------------------------------------
    async def duties(self, grant_id: uuid.UUID) -> list[Duty]:
        found = [d for d in self._tables()["duties"].values() if d.grant_id == grant_id]
        return sorted(found, key=lambda d: (d.due_on, d.kind != "interim"))

    async def duty(self, duty_id: uuid.UUID, *, lock: bool = False) -> Duty | None:
        return self._tables()["duties"].get(duty_id)

    async def update_duty(self, duty_id: uuid.UUID, values: dict[str, Any]) -> Duty:
        duties = self._tables()["duties"]
        updated = dataclasses.replace(duties[duty_id], **values)
        duties[duty_id] = updated
        return updated

    async def open_duties(self, until: date) -> list[tuple[Duty, str]]:
        found = [
            (d, self.by_id[d.grant_id].terms.beneficiary)
            for d in self._tables()["duties"].values()
            if d.status in ("pending", "returned") and d.due_on <= until and self.by_id[d.grant_id].status != "closed"
        ]
        return sorted(found, key=lambda pair: (pair[0].due_on, str(pair[0].duty_id)))

    # -- claims, payments, reclaims ------------------------------------------------------------
    async def add_claim(self, claim_id: uuid.UUID, grant_id: uuid.UUID, claimed: Decimal, submitted_on: date) -> None:
        self._tables()["claims"][claim_id] = {
            "claim_id": claim_id, "grant_id": grant_id, "claimed_eur": _cents(claimed), "submitted_on": submitted_on,
            "status": "submitted", "accepted_eur": None, "checked_on": None,
        }  # fmt: skip

    async def claim(self, claim_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
        found = self._tables()["claims"].get(claim_id)
        return dict(found) if found is not None else None

    async def update_claim(
        self, claim_id: uuid.UUID, status: str, accepted: Decimal | None, checked_on: date | None
    ) -> None:
        claim = self._tables()["claims"][claim_id]
        claim["status"] = status
        if accepted is not None:
            claim["accepted_eur"] = _cents(accepted)
        if checked_on is not None:
            claim["checked_on"] = checked_on

    async def claims(self, grant_id: uuid.UUID) -> list[dict[str, Any]]:
        found = [dict(c) for c in self._tables()["claims"].values() if c["grant_id"] == grant_id]
        return sorted(found, key=lambda c: (c["submitted_on"], str(c["claim_id"])))

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
        self._tables()["payments"].append(
            {"payment_id": payment_id, "grant_id": grant_id, "amount_eur": _cents(amount), "paid_on": paid_on,
             "claim_id": claim_id, "tranche": tranche}
        )  # fmt: skip

    async def payments(self, grant_id: uuid.UUID) -> list[dict[str, Any]]:
        found = [
            {k: v for k, v in p.items() if k != "grant_id"}
            for p in self._tables()["payments"]
            if p["grant_id"] == grant_id
        ]
        return sorted(found, key=lambda p: (p["paid_on"], str(p["payment_id"])))

    async def add_reclaim(
        self, reclaim_id: uuid.UUID, grant_id: uuid.UUID, amount: Decimal, reason: str, issued_on: date, actor: Actor
    ) -> None:
        self._tables()["reclaims"].append(
            {"reclaim_id": reclaim_id, "grant_id": grant_id, "amount_eur": _cents(amount), "reason": reason,
             "issued_on": issued_on}
        )  # fmt: skip

    async def reclaims(self, grant_id: uuid.UUID) -> list[dict[str, Any]]:
        found = [
            {k: v for k, v in r.items() if k != "grant_id"}
            for r in self._tables()["reclaims"]
            if r["grant_id"] == grant_id
        ]
        return sorted(found, key=lambda r: (r["issued_on"], str(r["reclaim_id"])))

    async def paid_total(self, grant_id: uuid.UUID) -> Decimal:
        paid = sum((p["amount_eur"] for p in self._tables()["payments"] if p["grant_id"] == grant_id), Decimal(0))
        back = sum((r["amount_eur"] for r in self._tables()["reclaims"] if r["grant_id"] == grant_id), Decimal(0))
        return Decimal(paid - back)
