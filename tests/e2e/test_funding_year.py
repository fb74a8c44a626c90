"""A year of the funding register, played against the four services: the EPN register (one EPN
labelled, another labelled then withdrawn), the funding cadastre and its totals, an EPN's
activity return, one ESF call tracked and one regional call run from opening to final reports —
a late application refused, the envelope respected, a full reminder sequence ending in an
escalated overdue report told to the grant holder and the Coordination by e-mail — and the
actions service's indicators 11, 28, 36 and 49 (the regional call's action) counted from it all."""

from __future__ import annotations

import asyncio
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.runtime.inputs import brussels_today
from tests.e2e.conftest import Inbox, call
from tests.support import ServiceProcess, eventually

pytestmark = pytest.mark.infra

TODAY = brussels_today()
COORDINATION = "coordination-inclusion-numerique"


def days_ago(n: int) -> str:
    return (TODAY - timedelta(days=n)).isoformat()


def upload(url: str, body: bytes, token: str, content_type: str) -> tuple[int, Any]:
    import json

    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", content_type)
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


async def test_a_year_of_funding_reaches_the_register_the_cadastre_the_reminders_and_the_plan_s_indicators(
    system: dict[str, ServiceProcess], smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    funding, actions, notifications = system["funding"], system["actions"], system["notifications"]
    key = funding.cli("create-api-key", "--organisation", COORDINATION, "--role", "coordination")
    holder = funding.cli("create-api-key", "--organisation", "asbl-seniors-connectes", "--role", "applicant")
    ixelles = funding.cli("create-api-key", "--organisation", "commune-ixelles", "--role", "epn-operator")

    def post(path: str, body: dict[str, Any], token: str = key, expect: tuple[int, ...] = (200, 201)) -> Any:
        status, answer = call(funding.url + path, body, token)
        assert status in expect, (path, status, answer)
        return answer

    # The grant holder and the Coordination read their reminders by e-mail.
    notes = notifications.cli("create-api-key", "--organisation", COORDINATION, "--role", "coordination")
    partner = {"name": "ASBL Seniors connectés", "email": "seniors@asbl.example", "language": "fr"}
    assert call(notifications.url + "/partners/asbl-seniors-connectes", partner, notes, method="PUT")[0] in (200, 201)
    subscribed = {"event_types": ["ReportingReminder"]}
    assert (
        call(notifications.url + "/partners/asbl-seniors-connectes/subscriptions", subscribed, notes, method="PUT")[0]
        == 200
    )
    coordination_address = next(
        p["email"] for p in call(notifications.url + "/partners", token=notes)[1] if p["code"] == COORDINATION
    )

    # The EPN register: two EPNs labelled, one withdrawn.
    for epn, commune in (("epn-ixelles", "Ixelles"), ("epn-schaerbeek", "Schaerbeek")):
        post("/epns", {"epn": epn, "epn_name": f"EPN {commune}", "operator": f"commune-{epn[4:]}", "commune": commune,
                       "hours_per_week": 24, "computers": 8, "tablets": 2, "accessible": True})  # fmt: skip
        post(f"/epns/{epn}/label-decisions", {"status": "labelled", "decided_on": days_ago(100)})
    post("/epns/epn-schaerbeek/label-decisions", {"status": "withdrawn", "decided_on": days_ago(10)})

    # The cadastre: Ixelles's funding for the year, one line complete.
    year = TODAY.year
    cadastre = (
        "beneficiary,beneficiary_kind,funder,funder_name,programme,year,committed_eur,paid_eur,cofinancing_pct\n"
        f"epn-ixelles,epn,region,,Appel EPN {year},{year},12500.50,12500.50,20\n"
        f"epn-ixelles,epn,commune,Ixelles,Subside communal,{year},4000,,\n"
        f"epn-schaerbeek,epn,cocof,,Cohésion sociale,{year},8000,8000,0\n"
    ).encode()
    status, report = upload(funding.url + "/cadastre/import", cadastre, key, "text/csv")
    assert (status, report["created"], report["errors"]) == (200, 3, [])
    totals = call(f"{funding.url}/cadastre/totals?by=beneficiary&year={year}", token=key)[1]
    assert [(g["key"], g["committed_eur"]) for g in totals["groups"]] == [
        ("epn-ixelles", "16500.50"),
        ("epn-schaerbeek", "8000.00"),
    ]

    # Ixelles's operator sends the return of the quarter that has ended.
    quarter, returns_year = ((TODAY.month - 1) // 3) or 4, TODAY.year if TODAY.month > 3 else TODAY.year - 1
    post("/activity-returns", {"epn": "epn-ixelles", "year": returns_year, "quarter": quarter, "visits": 900, "sessions": 40,
                               "participants": 300, "by_gender": {"women": 170, "men": 120}}, ixelles)  # fmt: skip

    # An ESF call, tracked: the Coordination records when partners applied to the funder.
    esf = {"call_code": f"FSE-{year}-INCLUSION", "management": "tracked", "call_kind": "esf", "funder": "esf",
           "programme": "FSE+ Bruxelles", "title_fr": "FSE+ inclusion numérique", "title_nl": "ESF+ digitale inclusie",
           "opens_on": days_ago(120), "closes_at": f"{days_ago(90)}T12:00:00+01:00", "action_number": 35,
           "eligible_kinds": ["non-profit", "epn"]}  # fmt: skip
    post("/calls", esf)
    in_time = post(f"/calls/{esf['call_code']}/applications", {"applicant": "asbl-seniors-connectes",
                   "applicant_kind": "non-profit", "requested_eur": 80000, "applied_at": f"{days_ago(95)}T10:00:00+01:00"})  # fmt: skip
    late = post(f"/calls/{esf['call_code']}/applications", {"applicant": "asbl-retardataire", "applicant_kind": "non-profit",
                "requested_eur": 5000, "applied_at": f"{days_ago(89)}T10:00:00+01:00"}, expect=(409,))  # fmt: skip
    assert "late and refused" in late["reason"]
    esf_grant = post(f"/applications/{in_time['application_id']}/decision",
                     {"decision": "granted", "amount_eur": 80000, "decided_on": days_ago(80)})["grant_id"]  # fmt: skip
    due = TODAY - timedelta(days=2)
    agreement = {"signed_on": days_ago(70), "ends_on": due.isoformat(),
                 "tranches": [{"amount_eur": 48000, "due_on": days_ago(60)}, {"amount_eur": 32000, "due_on": days_ago(1)}],
                 "duties": [{"kind": "final", "due_on": due.isoformat()}]}  # fmt: skip
    duty = post(f"/grants/{esf_grant}/agreement", agreement)["reports"][0]["duty_id"]
    for as_of in (
        due - timedelta(days=14),
        due - timedelta(days=7),
        due,
        due + timedelta(days=1),
        due + timedelta(days=1),
    ):
        post("/deadlines/check", {"as_of": as_of.isoformat()})
    post(f"/grants/{esf_grant}/payments", {"amount_eur": 48000, "paid_on": days_ago(60), "tranche": 1})

    # A regional call, run by the Coordination for seniors (action 49): 50,000 € to share.
    closes = datetime.now(UTC) + timedelta(seconds=4)
    seniors = {"call_code": f"AAP-SENIORS-{year}", "management": "run", "call_kind": "regional-call", "funder": "region",
               "programme": "Inclusion numérique des seniors", "title_fr": "Les seniors et le numérique",
               "title_nl": "Senioren en digitaal", "opens_on": days_ago(30), "closes_at": closes.isoformat(),
               "budget_eur": 50000, "action_number": 49, "public": "seniors", "eligible_kinds": ["epn", "non-profit"]}  # fmt: skip
    post("/calls", seniors)
    first = post(
        f"/calls/{seniors['call_code']}/applications", {"applicant_kind": "non-profit", "requested_eur": 30000}, holder
    )
    second = post(f"/calls/{seniors['call_code']}/applications", {"applicant": "epn-ixelles", "applicant_kind": "epn",
                                                                  "requested_eur": 30000})  # fmt: skip
    await asyncio.sleep(max(0.0, (closes - datetime.now(UTC)).total_seconds()) + 0.5)
    refused = post(f"/calls/{seniors['call_code']}/applications", {"applicant": "asbl-trop-tard", "applicant_kind": "non-profit",
                   "requested_eur": 1000}, expect=(409,))  # fmt: skip
    assert "late and refused" in refused["reason"]
    run_grant = post(f"/applications/{first['application_id']}/decision",
                     {"decision": "granted", "amount_eur": 30000, "decided_on": TODAY.isoformat()})["grant_id"]  # fmt: skip
    beyond = post(f"/applications/{second['application_id']}/decision",
                  {"decision": "granted", "amount_eur": 30000, "decided_on": TODAY.isoformat()}, expect=(409,))  # fmt: skip
    assert "envelope" in beyond["reason"]
    post(f"/applications/{second['application_id']}/decision",
         {"decision": "partially-granted", "amount_eur": 20000, "decided_on": TODAY.isoformat()})  # fmt: skip
    final_due = TODAY + timedelta(days=300)
    run_duty = post(f"/grants/{run_grant}/agreement", {"signed_on": TODAY.isoformat(), "ends_on": final_due.isoformat(),
                    "tranches": [{"amount_eur": 30000, "due_on": TODAY.isoformat()}],
                    "duties": [{"kind": "final", "due_on": final_due.isoformat()}]})["reports"][0]["duty_id"]  # fmt: skip

    # Final reports: both submitted by the holder (participants as counts), approved, grants closed.
    counts = {"total": 60, "by_gender": {"women": 35, "men": 25}, "by_age_band": {"55-64": 20, "65-plus": 40}}
    for grant, report_id in ((esf_grant, duty), (run_grant, run_duty)):
        post(f"/reports/{report_id}", {"submitted_on": TODAY.isoformat(), "participants": counts}, holder)
        post(f"/reports/{report_id}/review", {"outcome": "approved", "reviewed_on": TODAY.isoformat()})
        assert post(f"/grants/{grant}/close", {"closed_on": TODAY.isoformat()})["status"] == "closed"
    post("/deadlines/check", {})
    ledger = call(f"{funding.url}/grants/{esf_grant}/ledger", token=holder)[1]
    assert (ledger["status"], ledger["paid_total_eur"]) == ("closed", "48000.00")

    # The reminders: each stage once, the overdue one told to the holder and the Coordination. The
    # holder hears of its application and grant too (its own business), without subscribing.
    stages = ("à remettre dans 14 jours", "à remettre dans 7 jours", "à remettre aujourd'hui", "en retard")

    def reminders() -> list[str]:
        subjects = [m["Subject"] for m in inbox.to("seniors@asbl.example")]
        return sorted(
            stage for s in subjects for stage in stages if s.startswith(f"[Passerelle] Rapport final {stage}")
        )

    await eventually(lambda: len(reminders()) >= 4, timeout=40, what="four reminders to the holder")
    assert reminders() == sorted(stages), "each stage once"
    assert any(
        m["Subject"].startswith("[Passerelle] Candidature de asbl-seniors-connectes")
        for m in inbox.to("seniors@asbl.example")
    )
    await eventually(
        lambda: any("en retard" in m["Subject"] for m in inbox.to(coordination_address)), timeout=30,
        what="the escalation told to the Coordination",
    )  # fmt: skip

    # The plan's indicators, counted by the actions service from the funding events.
    def indicator(number: int, code: str) -> float:
        detail = call(f"{actions.url}/actions/{number}")[1]
        return float(next(i["current_value"] for i in detail["indicators"] if i["code"] == code))

    await eventually(lambda: indicator(11, "a11-epn-labelled") == 1, what="one EPN labelled (the other withdrawn)")
    await eventually(lambda: indicator(36, "a36-epn-cadastre-complete") == 1, what="Ixelles's cadastre complete")
    await eventually(lambda: indicator(49, "a49-grants-seniors") == 2, what="the seniors call's two grants")
    await eventually(lambda: indicator(28, "a28-epn-returns") == 1, what="one activity return")
    await asyncio.sleep(1)
    assert len(reminders()) == 4, "no reminder told twice"

    # The dashboard, built from the same events, shows the funding service's own figures: the
    # cadastre's totals (GET /cadastre/totals) and the calls (GET /calls).
    dashboard = system["dashboard"]
    viewer = dashboard.cli("keys", "create", "--organisation", COORDINATION, "--role", "operator")

    def shown() -> dict[str, Any]:
        return call(f"{dashboard.url}/api/funding", token=viewer)[1]

    def same_totals(by: str, api: dict[str, Any]) -> bool:
        mine = shown()["cadastre"][by]
        return bool(mine["groups"] == api["groups"] and mine["total"] == api["total"])

    for by in ("funder", "year"):
        api = call(f"{funding.url}/cadastre/totals?by={by}", token=key)[1]
        await eventually(
            lambda by=by, api=api: same_totals(by, api),  # type: ignore[misc] # bound per loop turn
            timeout=30,
            what=f"the dashboard's cadastre by {by} equal to GET /cadastre/totals",
        )
    calls = call(f"{funding.url}/calls")[1]
    assert sorted(c["call_code"] for c in shown()["calls"]) == sorted(c["call_code"] for c in calls)
