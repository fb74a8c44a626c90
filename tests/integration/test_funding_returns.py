"""EPN activity returns (action 28) for real: the repository's contract on the fake and on
PostgreSQL (so the fake the use-case tests rely on cannot drift from the SQL), then the service
through HTTP with its database and broker — returns sent, corrected, imported as CSV, read back by
whom may, and the yearly study."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from passerelle_contracts import Actor
from passerelle_contracts.funding_v1 import TOPIC

from services.funding.app import MIGRATIONS
from services.funding.domain import Epn, EpnDetails
from services.funding.domain.returns import ActivityReturn
from services.funding.repository import FundingRepository
from services.runtime import db
from tests.conftest import CreateDatabase
from tests.fakes.funding import FakeFundingRepository
from tests.support import envelopes, eventually, read_topic

pytestmark = pytest.mark.infra

COORDINATION = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k1")
IXELLES = Actor(organisation="commune-ixelles", role="partner", key_id="k2")


def epn(code: str = "epn-ixelles", operator: str = "commune-ixelles") -> Epn:
    details = EpnDetails(
        epn_name=code, operator=operator, commune="Ixelles", hours_per_week=Decimal(24), computers=8, tablets=2,
        accessible=True,
    )  # fmt: skip
    return Epn(epn=code, details=details, label_status="candidate", registered_by=COORDINATION)


def activity(**changed: Any) -> ActivityReturn:
    values: dict[str, Any] = {
        "epn": "epn-ixelles",
        "year": 2025,
        "quarter": 3,
        "visits": 1250,
        "sessions": 42,
        "participants": 310,
        "by_public": {"seniors": 120, "job-seekers": 80},
        "by_age_band": {"65-plus": 120, "18-29": 60},
        "by_gender": {"men": 130, "women": 170},
        "revision": 1,
        "submitted_on": date(2025, 10, 20),
        "first_submitted_on": date(2025, 10, 20),
        "submitted_by": IXELLES,
    }
    return ActivityReturn(**(values | changed))


@pytest.fixture(params=["fake", "postgres"])
async def repo(request: pytest.FixtureRequest, create_database: CreateDatabase) -> AsyncIterator[FundingRepository]:
    if request.param == "fake":
        fake = FakeFundingRepository()
        for e in (epn(), epn("epn-forest", "commune-forest")):
            await fake.add_epn(e)
        yield fake  # type: ignore[misc]  # the fake stands in for the repository
        return
    pool = await db.create_pool(await create_database("funding"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "funding": MIGRATIONS})
        real = FundingRepository(pool)
        for e in (epn(), epn("epn-forest", "commune-forest")):
            await real.add_epn(e)
        yield real
    finally:
        await pool.close()


async def test_a_quarter_keeps_one_current_return_and_every_revision_with_its_breakdowns_in_order(
    repo: FundingRepository,
) -> None:
    first = await repo.add_activity_return(activity())
    again = await repo.add_activity_return(activity(visits=1))
    corrected = await repo.correct_activity_return(
        activity(revision=2, visits=1300, submitted_on=date(2025, 11, 5), submitted_by=COORDINATION)
    )

    assert first is not None and again is None, "a quarter's first return is kept once"
    assert (corrected.revision, corrected.visits, corrected.first_submitted_on) == (2, 1300, date(2025, 10, 20))
    current = await repo.activity_return("epn-ixelles", 2025, 3)
    assert current is not None and current.revision == 2
    assert list(current.by_public.items()) == [("job-seekers", 80), ("seniors", 120)], "the vocabulary's order"
    assert list(current.by_gender) == ["women", "men"]
    revisions = await repo.activity_return_revisions("epn-ixelles", 2025, 3)
    assert [(r.revision, r.visits, r.submitted_on, r.submitted_by) for r in revisions] == [
        (1, 1250, date(2025, 10, 20), IXELLES),
        (2, 1300, date(2025, 11, 5), COORDINATION),
    ]


async def test_returns_are_listed_latest_quarter_first_and_by_the_organisation_that_runs_the_epn(
    repo: FundingRepository,
) -> None:
    for ret in (activity(), activity(quarter=4), activity(epn="epn-forest"), activity(year=2026, quarter=1)):
        await repo.add_activity_return(ret)

    listed = await repo.activity_returns()
    forest = await repo.activity_returns(operator="commune-forest")
    of_2025 = await repo.activity_returns_of_year(2025)

    assert [(r.epn, r.year, r.quarter) for r in listed] == [
        ("epn-ixelles", 2026, 1),
        ("epn-ixelles", 2025, 4),
        ("epn-forest", 2025, 3),
        ("epn-ixelles", 2025, 3),
    ]
    assert [r.epn for r in forest] == ["epn-forest"]
    assert [(r.epn, r.quarter) for r in of_2025] == [("epn-forest", 3), ("epn-ixelles", 3), ("epn-ixelles", 4)]
    assert await repo.returned_quarters() == {
        ("epn-ixelles", 2025, 3),
        ("epn-ixelles", 2025, 4),
        ("epn-forest", 2025, 3),
        ("epn-ixelles", 2026, 1),
    }
    assert await repo.returned_quarters(since_year=2026) == {("epn-ixelles", 2026, 1)}, "only the years still chased"


async def test_the_chase_reads_labelled_epns_with_the_day_of_their_latest_labelling(repo: FundingRepository) -> None:
    await repo.set_label_status("epn-ixelles", "labelled", date(2024, 3, 1))
    await repo.set_label_status("epn-forest", "labelled", date(2024, 5, 1))
    await repo.set_label_status("epn-forest", "suspended", date(2025, 1, 1))

    assert await repo.labelled_epns_since() == [("epn-ixelles", date(2024, 3, 1))]


async def test_the_database_refuses_to_change_or_delete_a_revision(create_database: CreateDatabase) -> None:
    pool = await db.create_pool(await create_database("funding"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "funding": MIGRATIONS})
        repo = FundingRepository(pool)
        await repo.add_epn(epn())
        await repo.add_activity_return(activity())

        for statement in (
            "UPDATE activity_return_revisions SET visits = 0",
            "DELETE FROM activity_return_revisions",
            "TRUNCATE activity_return_revisions CASCADE",
        ):
            with pytest.raises(asyncpg.RaiseError, match="activity_return_revisions is append-only"):
                await pool.execute(statement)
        with pytest.raises(asyncpg.CheckViolationError):
            await repo.add_activity_return(dataclasses.replace(activity(), quarter=1, visits=-1))
    finally:
        await pool.close()


# --- through HTTP -------------------------------------------------------------------------------

EPN = {
    "epn": "epn-ixelles",
    "epn_name": "EPN d'Ixelles",
    "operator": "commune-ixelles",
    "commune": "Ixelles",
    "hours_per_week": 24,
    "computers": 8,
    "tablets": 2,
    "accessible": True,
}
RETURN = {
    "epn": "epn-ixelles",
    "year": 2025,
    "quarter": 3,
    "visits": 1250,
    "sessions": 42,
    "participants": 310,
    "by_public": {"seniors": 120, "job-seekers": 80},
    "by_age_band": {"18-29": 60, "65-plus": 120},
    "by_gender": {"women": 170, "men": 130},
}


async def published(service: Any, kafka_bootstrap: str, event_type: str, count: int) -> list[dict[str, Any]]:
    """The service's events of ``event_type``, once the relay has published ``count`` of them."""

    async def on_topic() -> list[dict[str, Any]]:
        found = envelopes(await read_topic(kafka_bootstrap, service.settings.topic(TOPIC)))
        found = [e for e in found if e["event_type"] == event_type]
        return found if len(found) >= count else []

    return await eventually(on_topic, timeout=20, what=f"{count} {event_type} on {TOPIC}")


async def registered(funding: Any, *epns: dict[str, Any]) -> dict[str, str]:
    """The EPNs registered and labelled; the Coordination's key."""
    coordination: dict[str, str] = await funding.key("coordination-inclusion-numerique", "coordination")
    for body in epns:
        assert (await funding.client.post("/epns", json=body, headers=coordination)).status_code == 201
        decision = {"status": "labelled", "decided_on": "2025-01-15"}
        answer = await funding.client.post(f"/epns/{body['epn']}/label-decisions", json=decision, headers=coordination)
        assert answer.status_code == 201, answer.text
    return coordination


async def test_an_operator_sends_its_epn_s_return_then_a_correction_each_announced_with_the_whole_return(
    funding: Any, kafka_bootstrap: str
) -> None:
    coordination = await registered(funding, EPN)
    ixelles = await funding.key("commune-ixelles", "partner")

    first = await funding.client.post("/activity-returns", json=RETURN, headers=ixelles)
    again = await funding.client.post("/activity-returns", json=RETURN, headers=ixelles)
    corrected = await funding.client.post("/activity-returns", json={**RETURN, "visits": 1300}, headers=coordination)

    assert (first.status_code, again.status_code, corrected.status_code) == (201, 200, 200), first.text
    assert [r.json()["outcome"] for r in (first, again, corrected)] == ["created", "unchanged", "corrected"]
    assert (first.json()["revision"], first.json()["due_on"], first.json()["late"]) == (1, "2025-10-31", True)
    events = await published(funding, kafka_bootstrap, "ActivityReturnSubmitted", 2)
    assert [(e["subject"], e["data"]["revision"], e["data"]["visits"]) for e in events] == [
        ("epn-epn-ixelles", 1, 1250),
        ("epn-epn-ixelles", 2, 1300),
    ]
    assert events[1]["data"]["by_gender"] == {"women": 170, "men": 130}, "a correction carries the whole return"
    history = (await funding.client.get("/activity-returns/epn-ixelles/2025/3", headers=ixelles)).json()
    assert (history["revision"], [r["visits"] for r in history["revisions"]]) == (2, [1250, 1300])
    assert "submitted_by" not in history, "who sent what: the Coordination's and operators' view"


async def test_another_organisation_neither_sends_nor_reads_an_epn_s_returns(funding: Any) -> None:
    await registered(funding, EPN)
    ixelles = await funding.key("commune-ixelles", "partner")
    forest = await funding.key("commune-forest", "partner")
    operator = await funding.key("passerelle-ops", "operator")
    assert (await funding.client.post("/activity-returns", json=RETURN, headers=ixelles)).status_code == 201

    refused = await funding.client.post("/activity-returns", json=RETURN, headers=forest)
    theirs = await funding.client.get("/activity-returns", headers=forest)
    one = await funding.client.get("/activity-returns/epn-ixelles/2025/3", headers=forest)
    study = await funding.client.get("/activity-returns/study?year=2025", headers=forest)

    assert refused.status_code == 403, refused.text
    assert "only the Coordination or commune-ixelles, its operator" in refused.json()["reason"]
    assert (theirs.json(), one.status_code, study.status_code) == ([], 404, 403)
    ours = (await funding.client.get("/activity-returns", headers=ixelles)).json()
    everyone = (await funding.client.get("/activity-returns?year=2025&quarter=3", headers=operator)).json()
    assert [r["epn"] for r in ours] == [r["epn"] for r in everyone] == ["epn-ixelles"]
    assert everyone[0]["submitted_by"]["organisation"] == "commune-ixelles"
    assert (await funding.client.get("/activity-returns")).status_code == 401


@pytest.mark.parametrize(
    ("changed", "reason"),
    [
        ({"by_gender": {"women": 200, "men": 200}}, "by_gender: adds up to 400, more than the 310 participants"),
        ({"by_public": {"seniors": 311}}, "by_public.seniors: 311 is more than the 310 participants"),
        ({"quarter": 5}, "quarter"),
        ({"year": 2019}, "year"),
        ({"visits": -1}, "visits"),
        ({"by_public": {"pensioners": 3}}, "by_public"),
    ],
)
async def test_a_return_that_breaks_a_rule_is_refused_with_its_reason(
    funding: Any, changed: dict[str, Any], reason: str
) -> None:
    coordination = await registered(funding, EPN)

    refused = await funding.client.post("/activity-returns", json={**RETURN, **changed}, headers=coordination)

    assert refused.status_code == 422, refused.text
    assert reason in refused.text


async def test_a_csv_of_returns_is_imported_once_and_the_yearly_study_adds_them_up(funding: Any) -> None:
    coordination = await registered(funding, EPN, {**EPN, "epn": "epn-forest", "operator": "commune-forest"})
    body = (
        b"epn,year,quarter,visits,sessions,participants,public:seniors,age:65-plus,gender:women,gender:men\n"
        b"epn-ixelles,2025,1,1 250,42,310,120,120,170,130\n"
        b"epn-forest,2025,Q1,800,20,200,,,100,\n"
        b"epn-ixelles,2025,2,900,30,250,,,,\n"
        b"epn-forest,2025,2,10,1,5,,,3,3\n"
    )
    csv_headers = {**coordination, "Content-Type": "text/csv"}

    first = await funding.client.post("/activity-returns/import", content=body, headers=csv_headers)
    again = await funding.client.post("/activity-returns/import", content=body, headers=csv_headers)
    wrong_type = await funding.client.post("/activity-returns/import", content=body, headers=coordination)

    assert first.status_code == 200, first.text
    assert (first.json()["created"], again.json()["created"], again.json()["unchanged"]) == (3, 0, 3)
    assert [(e["line"], e["column"]) for e in first.json()["errors"]] == [(5, "gender:*")]
    assert wrong_type.status_code == 422
    study = (await funding.client.get("/activity-returns/study?year=2025", headers=coordination)).json()
    q1, q2 = study["quarters"][:2]
    assert (q1["returns_due"], q1["returns_received"], q1["share_received_pct"]) == (2, 2, "100.0")
    assert (q2["returns_received"], q2["share_received_pct"], q2["participants"]) == (1, "50.0", 250)
    assert (study["year_total"]["returns_due"], study["year_total"]["visits"]) == (8, 1250 + 800 + 900)
    assert study["year_total"]["by_gender"] == {"women": 270, "men": 130, "non-binary": 0, "not-stated": 360}
    exported = await funding.client.get("/activity-returns/study.csv?year=2025", headers=coordination)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["quarter"], r["returns_received"], r["participants"]) for r in rows] == [
        ("1", "2", "510"),
        ("2", "1", "250"),
        ("3", "0", "0"),
        ("4", "0", "0"),
        ("all", "3", "760"),
    ]
    xlsx = await funding.client.get("/activity-returns/export.xlsx?year=2025", headers=coordination)
    back = await funding.client.post(
        "/activity-returns/import",
        content=xlsx.content,
        headers={**coordination, "Content-Type": xlsx.headers["content-type"]},
    )
    assert back.json() == {"created": 0, "corrected": 0, "unchanged": 3, "errors": []}, "its export, imported back"
