"""A year of the plan, played against the services running as processes: status changes,
milestones, a delivery of devices from the equipment service and two Working Group meetings;
then the annual report's figures are checked in a preview as of today, and the report published
as of yesterday (the latest day that has ended) is shown to exclude them."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, timedelta
from pathlib import Path

import pytest

from services.runtime.inputs import brussels_today
from tests.e2e.conftest import call, fetch
from tests.support import ServiceProcess, eventually

pytestmark = pytest.mark.infra

TODAY = brussels_today()  # the services count days in Brussels (the report's cut-off is the end of one)
YEAR = TODAY.year


def days_ago(n: int) -> str:
    """A date n days back, but inside this year (the report covers one calendar year)."""
    return max(date(YEAR, 1, 1), TODAY - timedelta(days=n)).isoformat()


async def test_a_year_of_the_plan_ends_in_an_annual_report_with_the_right_figures(
    system: dict[str, ServiceProcess], tmp_path: Path
) -> None:
    actions, equipment = system["actions"], system["equipment"]
    coordination = actions.cli(
        "create-api-key", "--organisation", "coordination-inclusion-numerique", "--role", "coordination"
    )
    refurbisher = equipment.cli("create-api-key", "--organisation", "caban", "--role", "refurbisher")
    api = actions.url

    def post(path: str, body: dict, method: str | None = None) -> dict:
        status, answer = call(api + path, body, coordination, method=method)
        assert status in (200, 201), (path, answer)
        return answer

    # Statuses through the year.
    for number, status in [
        (46, "planned"),
        (46, "in_progress"),
        (21, "in_progress"),
        (20, "planned"),
        (5, "abandoned"),
    ]:
        post(f"/actions/{number}/status", {"status": status, "traffic_light": "on_track"})
    post("/actions/38/status", {"status": "in_progress", "traffic_light": "at_risk", "note": "Recrutement en cours"})
    post("/actions/38/status", {"status": "completed", "traffic_light": "on_track"})

    # Milestones of action 46, its progress derived from them.
    signed = post("/actions/46/milestones", {"title_fr": "Convention signée", "planned_on": days_ago(20)})
    post(
        "/actions/46/milestones",
        {"title_fr": "Premier lot livré", "planned_on": (TODAY - timedelta(days=1)).isoformat()},
    )
    post("/actions/46/milestones", {"title_fr": "Bilan", "planned_on": (TODAY + timedelta(days=30)).isoformat()})
    post(f"/actions/46/milestones/{signed['id']}/reached", {"reached_on": days_ago(22)})
    post("/actions/46/progress", {"mode": "milestones"})
    post("/actions/21/progress", {"progress": 50})

    # A delivery of devices, recorded by the refurbisher in the equipment service.
    delivery = {
        "recipient": "asbl-devoirs-exemple",  # a pupils association of the seed (recipients are registered)
        "recipient_kind": "pupils-association",
        "devices": {"laptop": 30, "tablet": 10},
        "delivered_on": TODAY.isoformat(),
        "donor": "cirb-paradigm",
        "donor_kind": "regional-public-body",
    }
    delivered, _ = call(equipment.url + "/deliveries", delivery, refurbisher)
    assert delivered == 201

    # Two EPNs registered and labelled in the funding service's register, one label withdrawn.
    funding = system["funding"]
    funding_key = funding.cli(
        "create-api-key", "--organisation", "coordination-inclusion-numerique", "--role", "coordination"
    )
    for epn, commune in (("epn-ixelles", "Ixelles"), ("epn-forest", "Forest")):
        register = {"epn": epn, "epn_name": f"EPN {commune}", "operator": f"commune-{epn[4:]}", "commune": commune,
                    "hours_per_week": 20, "computers": 6, "tablets": 2, "accessible": True}  # fmt: skip
        assert call(funding.url + "/epns", register, funding_key)[0] == 201
        assert call(funding.url + "/epns", register, funding_key)[0] == 200, "registered once"
        decision = {"status": "labelled", "decided_on": days_ago(45)}
        assert call(f"{funding.url}/epns/{epn}/label-decisions", decision, funding_key)[0] == 201

    # Two Working Group meetings (and a COPIL, which does not count for action 21).
    attendees = ["coordination-inclusion-numerique", "easy-brussels", "caban", "actiris"]
    for held_on in (days_ago(60), days_ago(30)):
        post(
            "/meetings",
            {
                "kind": "working_group",
                "held_on": held_on,
                "attendees": attendees,
                "decisions": [{"action_number": 46, "decision": f"Suivi du déclassement ({held_on})"}],
            },
        )
    post("/meetings", {"kind": "copil", "held_on": days_ago(5), "attendees": attendees})

    def indicator(number: int, code: str) -> float:
        detail = call(f"{api}/actions/{number}")[1]
        return next(i["current_value"] for i in detail["indicators"] if i["code"] == code)

    await eventually(lambda: indicator(46, "a46-devices-pupils") == 40, what="the delivery counted for action 46")
    assert indicator(57, "a57-devices-public-donations") == 40
    await eventually(lambda: indicator(11, "a11-epn-labelled") == 2, what="two labels counted for action 11")
    withdrawal = {"status": "withdrawn", "decided_on": days_ago(10)}
    assert call(funding.url + "/epns/epn-forest/label-decisions", withdrawal, funding_key)[0] == 201
    await eventually(lambda: indicator(11, "a11-epn-labelled") == 1, what="a withdrawal lowers action 11")
    overdue = call(api + "/milestones/check-overdue", {}, coordination)[1]["announced"]
    assert len(overdue) == 1, "yesterday's milestone, announced once"
    assert call(api + "/milestones/check-overdue", {}, coordination)[1]["announced"] == []

    # Today's events are in a preview as of today (rendered, nothing stored): the figures.
    preview = tmp_path / "preview"
    actions.cli("annual-report", "--year", str(YEAR), "--as-of", TODAY.isoformat(), "--out", str(preview))

    def preview_csv(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO((preview / f"rapport-annuel-{YEAR}-{name}.csv").read_text("utf-8"))))

    table = {int(r["action"]): r for r in preview_csv("actions")}
    assert len(table) == 66
    by_status = {"not_started": 61, "planned": 1, "in_progress": 2, "on_hold": 0, "completed": 1, "abandoned": 1}
    assert {status: sum(r["status"] == status for r in table.values()) for status in by_status} == by_status
    assert table[46]["status"] == "in_progress"
    assert float(table[46]["progress"]) == pytest.approx(33.33, abs=0.01)
    assert (table[46]["milestones_reached"], table[46]["milestones_overdue"], table[46]["milestones_planned"]) == (
        "1",
        "1",
        "1",
    )
    assert (table[38]["status"], table[5]["status"]) == ("completed", "abandoned")
    indicators = {r["indicator_code"]: r for r in preview_csv("indicateurs")}
    assert float(indicators["a46-devices-pupils"]["value"]) == 40
    assert float(indicators["a21-working-group-meetings"]["value"]) == 2
    assert float(indicators["a21-working-group-meetings"]["percent_of_target"]) == 50.0
    assert float(indicators["a11-epn-labelled"]["value"]) == 1
    html = (preview / f"rapport-annuel-{YEAR}-fr.html").read_text("utf-8")
    assert "Suivi du déclassement" in html and "Groupe de travail" in html
    assert (preview / f"jaarverslag-{YEAR}-nl.pdf").read_bytes().startswith(b"%PDF")

    # Published only as of a day that has ended: today's cut-off is refused (a report published
    # now would differ from the same report rebuilt after today's later events); yesterday's
    # shows none of today's events, and rendered again from the same history and cut-off every
    # file is byte-identical; the same cut-off cannot be published twice.
    refused, answer = call(api + "/annual-reports", {"year": YEAR, "as_of": TODAY.isoformat()}, coordination)
    assert refused == 422 and "has not ended" in answer["reason"], answer
    yesterday = TODAY - timedelta(days=1)
    published = post("/annual-reports", {"year": yesterday.year, "as_of": yesterday.isoformat()})
    report_id = published["report_id"]
    assert published["by_status"]["not_started"] == 66
    files = published["files"]
    for name, sha in files.items():
        assert hashlib.sha256(fetch(f"{api}/annual-reports/{report_id}/{name}")).hexdigest() == sha
    again = tmp_path / "again"
    actions.cli("annual-report", "--year", str(yesterday.year), "--as-of", yesterday.isoformat(), "--out", str(again))
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in again.iterdir()} == files
    second, _ = call(api + "/annual-reports", {"year": yesterday.year, "as_of": yesterday.isoformat()}, coordination)
    assert second == 409
