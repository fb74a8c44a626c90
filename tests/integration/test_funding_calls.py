"""A call for projects through the funding service's HTTP API, on the real database and broker:
a late application refused, the envelope held, an agreement, a payment, the reminders of a
report announced once each, and a grant closed after its final report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from passerelle_contracts.funding_v1 import TOPIC

from services.runtime.inputs import brussels_today
from tests.support import envelopes, eventually, read_topic

pytestmark = pytest.mark.infra

TODAY = brussels_today()


def days_ago(n: int) -> str:
    return (TODAY - timedelta(days=n)).isoformat()


def a_call(code: str, closes_at: datetime, budget: int = 50000) -> dict[str, Any]:
    return {
        "call_code": code, "management": "run", "call_kind": "regional-call", "funder": "region",
        "programme": "Inclusion numérique des seniors", "title_fr": "Les seniors et le numérique",
        "title_nl": "Senioren en digitaal", "opens_on": (TODAY - timedelta(days=60)).isoformat(),
        "closes_at": closes_at.isoformat(), "budget_eur": budget, "action_number": 49, "public": "seniors",
        "eligible_kinds": ["epn", "non-profit"],
    }  # fmt: skip


async def test_a_run_call_from_opening_to_closure_over_http(funding: Any, kafka_bootstrap: str) -> None:
    coordination = await funding.key("coordination-inclusion-numerique", "coordination")
    asbl = await funding.key("asbl-seniors-connectes", "applicant")
    reader = await funding.key("caban", "reader")
    post = funding.client.post

    assert (
        await post("/calls", json=a_call("AAP-OPEN", datetime.now(UTC) + timedelta(days=5)), headers=coordination)
    ).status_code == 201
    closed = a_call("AAP-CLOSED", datetime.now(UTC) - timedelta(minutes=1))
    assert (await post("/calls", json=closed, headers=coordination)).status_code == 201

    late = await post(
        "/calls/AAP-CLOSED/applications", json={"applicant_kind": "non-profit", "requested_eur": 1000}, headers=asbl
    )
    applied = await post(
        "/calls/AAP-OPEN/applications", json={"applicant_kind": "non-profit", "requested_eur": 60000}, headers=asbl
    )
    as_reader = await post(
        "/calls/AAP-OPEN/applications", json={"applicant_kind": "non-profit", "requested_eur": 1}, headers=reader
    )
    assert late.status_code == 409 and "late and refused" in late.json()["reason"]
    assert applied.status_code == 201, applied.text
    assert as_reader.status_code == 403
    application = applied.json()["application_id"]

    too_much = await post(f"/applications/{application}/decision",
                          json={"decision": "partially-granted", "amount_eur": 55000, "decided_on": TODAY.isoformat()},
                          headers=coordination)  # fmt: skip
    decided = await post(f"/applications/{application}/decision",
                         json={"decision": "partially-granted", "amount_eur": 50000, "decided_on": TODAY.isoformat()},
                         headers=coordination)  # fmt: skip
    assert too_much.status_code == 409 and "envelope" in too_much.json()["reason"]
    grant = decided.json()["grant_id"]

    due = TODAY  # the checks run as of days that have happened: 14 and 7 days ago, today
    agreement = {"signed_on": TODAY.isoformat(), "ends_on": due.isoformat(),
                 "tranches": [{"amount_eur": 30000, "due_on": TODAY.isoformat()}, {"amount_eur": 20000, "due_on": due.isoformat()}],
                 "duties": [{"kind": "final", "due_on": due.isoformat()}]}  # fmt: skip
    signed = await post(f"/grants/{grant}/agreement", json=agreement, headers=coordination)
    assert signed.status_code == 201, signed.text
    duty = signed.json()["reports"][0]["duty_id"]
    assert (await post(f"/grants/{grant}/payments", json={"amount_eur": 30000, "paid_on": TODAY.isoformat(), "tranche": 1},
                       headers=coordination)).status_code == 201  # fmt: skip

    for days_before in (14, 14, 7, 0, 0):
        check = await post(
            "/deadlines/check", json={"as_of": (due - timedelta(days=days_before)).isoformat()}, headers=coordination
        )
        assert check.status_code == 200, check.text
    report = {"submitted_on": TODAY.isoformat(), "participants": {"total": 40, "by_gender": {"women": 25, "men": 15}}}
    assert (await post(f"/reports/{duty}", json=report, headers=asbl)).status_code == 200
    early = await post(f"/grants/{grant}/close", json={"closed_on": TODAY.isoformat()}, headers=coordination)
    await post(
        f"/reports/{duty}/review", json={"outcome": "approved", "reviewed_on": TODAY.isoformat()}, headers=coordination
    )
    closed_grant = await post(f"/grants/{grant}/close", json={"closed_on": TODAY.isoformat()}, headers=coordination)
    ledger = (await funding.client.get(f"/grants/{grant}/ledger", headers=asbl)).json()

    assert early.status_code == 409 and closed_grant.json()["status"] == "closed"
    assert (ledger["paid_total_eur"], [r["status"] for r in ledger["reports"]]) == ("30000.00", ["approved"])

    async def on_topic() -> list[dict[str, Any]]:
        found = envelopes(await read_topic(kafka_bootstrap, funding.settings.topic(TOPIC)))
        return found if any(e["event_type"] == "GrantClosed" for e in found) else []

    events = await eventually(on_topic, timeout=20, what="the grant closed on the topic")
    stages = [e["data"]["stage"] for e in events if e["event_type"] == "ReportingReminder"]
    assert stages == ["t-14", "t-7", "due"], "each stage once, whatever the re-runs (overdue: the end-to-end test)"
    assert [e["event_type"] for e in events if e["subject"] == f"grant-{grant}"] == [
        "GrantAwarded", "GrantAgreementSigned", "PaymentMade", "ReportingReminder", "ReportingReminder",
        "ReportingReminder", "GrantReportSubmitted", "GrantReportReviewed", "GrantClosed",
    ]  # fmt: skip


async def test_calls_are_imported_from_a_spreadsheet_and_exported_publicly_in_the_same_format(funding: Any) -> None:
    coordination = await funding.key("coordination-inclusion-numerique", "coordination")
    header = "call_code,management,call_kind,funder,programme,title_fr,title_nl,opens_on,closes_at,budget_eur,action_number,public"
    body = (
        f"{header}\n"
        "AAP-JEUNES-2027,run,regional-call,region,Jeunes et numérique,Les jeunes,Jongeren,2027-01-15,"
        "2027-03-15T12:00:00+01:00,80000,45,young-people\n"
        "AAP-SANS-ENVELOPPE,run,regional-call,region,Programme,Titre,Titel,2027-01-15,2027-03-15T12:00:00+01:00,,,\n"
    ).encode()

    imported = await funding.client.post(
        "/import/calls", content=body, headers={**coordination, "Content-Type": "text/csv"}
    )
    exported = await funding.client.get("/calls/export.xlsx")
    back = await funding.client.post(
        "/import/calls",
        content=exported.content,
        headers={**coordination, "Content-Type": exported.headers["content-type"]},
    )

    assert imported.status_code == 200, imported.text
    assert (imported.json()["created"], [e["line"] for e in imported.json()["errors"]]) == (1, [3])
    assert (await funding.client.get("/calls/AAP-JEUNES-2027")).json()["action_number"] == 45
    assert back.json() == {"created": 0, "unchanged": 1, "errors": []}
