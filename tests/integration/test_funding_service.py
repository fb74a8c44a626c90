"""The funding service in process, through HTTP, with the real database and broker: grants
under an Idempotency-Key, and the EPN register with its label decisions, as partners and the actions
service see them."""

from __future__ import annotations

from typing import Any

import pytest
from passerelle_contracts.funding_v1 import TOPIC

from tests.support import envelopes, eventually, read_topic

pytestmark = pytest.mark.infra

GRANT = {
    "call_code": "AAP-SENIORS-2026",
    "call_kind": "regional-call",
    "beneficiary": "epn-ixelles",
    "beneficiary_kind": "epn",
    "public": "seniors",
    "amount_eur": 15000,
    "awarded_on": "2026-03-02",
}


async def published(service: Any, kafka_bootstrap: str, count: int) -> list[dict[str, Any]]:
    """The service's events on its topic, once the relay has published ``count`` of them."""

    async def on_topic() -> list[dict[str, Any]]:
        found = envelopes(await read_topic(kafka_bootstrap, service.settings.topic(TOPIC)))
        return found if len(found) >= count else []

    return await eventually(on_topic, timeout=20, what=f"{count} events on {TOPIC}")


async def test_a_grant_repeated_with_its_idempotency_key_is_recorded_and_announced_once(
    funding: Any, kafka_bootstrap: str
) -> None:
    coordination = {
        **await funding.key("coordination-inclusion-numerique", "coordination"),
        "Idempotency-Key": "grant-1",
    }

    first = await funding.client.post("/grants", json=GRANT, headers=coordination)
    again = await funding.client.post("/grants", json=GRANT, headers=coordination)

    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()) == (200, first.json()), "the first grant, nothing recorded again"
    grant = first.json()
    assert (grant["amount_eur"], grant["recorded_by"]["organisation"]) == (
        "15000.00",
        "coordination-inclusion-numerique",
    )
    [event] = await published(funding, kafka_bootstrap, 1)
    assert (event["event_type"], event["subject"]) == ("GrantAwarded", f"grant-{grant['grant_id']}")
    assert event["data"]["amount_eur"] == "15000"


async def test_the_same_idempotency_key_with_another_body_is_refused_with_a_reason(funding: Any) -> None:
    coordination = {
        **await funding.key("coordination-inclusion-numerique", "coordination"),
        "Idempotency-Key": "grant-1",
    }
    assert (await funding.client.post("/grants", json=GRANT, headers=coordination)).status_code == 201

    refused = await funding.client.post("/grants", json={**GRANT, "amount_eur": 20000}, headers=coordination)

    assert refused.status_code == 422
    assert refused.json()["error"] == "invalid-request"
    assert "'grant-1' was already used by coordination-inclusion-numerique" in refused.json()["reason"]


async def test_the_same_idempotency_key_from_another_organisation_is_a_new_grant(
    funding: Any, kafka_bootstrap: str
) -> None:
    ours = {**await funding.key("coordination-inclusion-numerique", "coordination"), "Idempotency-Key": "grant-1"}
    theirs = {**await funding.key("easy-brussels", "coordination"), "Idempotency-Key": "grant-1"}

    first = await funding.client.post("/grants", json=GRANT, headers=ours)
    other = await funding.client.post("/grants", json=GRANT, headers=theirs)

    assert (first.status_code, other.status_code) == (201, 201), other.text
    assert other.json()["grant_id"] != first.json()["grant_id"]
    events = await published(funding, kafka_bootstrap, 2)
    assert sorted(e["actor"]["organisation"] for e in events) == ["coordination-inclusion-numerique", "easy-brussels"]


EPN = {
    "epn": "epn-ixelles",
    "epn_name": "EPN d'Ixelles",
    "operator": "commune-ixelles",
    "address": "Rue Mercelis 19",
    "postcode": "1050",
    "commune": "Ixelles",
    "hours_per_week": 24,
    "computers": 8,
    "tablets": 2,
    "publics": ["general-public", "seniors"],
    "languages": ["fr", "nl"],
    "accessible": True,
}


async def test_an_epn_registered_labelled_and_withdrawn_is_announced_at_each_step_with_the_count(
    funding: Any, kafka_bootstrap: str
) -> None:
    coordination = await funding.key("coordination-inclusion-numerique", "coordination")

    first = await funding.client.post("/epns", json=EPN, headers=coordination)
    again = await funding.client.post("/epns", json=EPN, headers=coordination)
    labelled = await funding.client.post(
        "/epns/epn-ixelles/label-decisions",
        json={"status": "labelled", "decided_on": "2026-02-01"},
        headers=coordination,
    )
    withdrawn = await funding.client.post(
        "/epns/epn-ixelles/label-decisions",
        json={"status": "withdrawn", "decided_on": "2026-09-01", "note": "EPN fermé"},
        headers=coordination,
    )

    assert (first.status_code, again.status_code) == (201, 200), first.text
    assert (labelled.status_code, withdrawn.status_code) == (201, 201), labelled.text
    events = await published(funding, kafka_bootstrap, 4)
    assert [(e["event_type"], e["subject"]) for e in events] == [
        ("EpnRegistered", "epn-epn-ixelles"),
        ("EpnLabelStatusChanged", "epn-epn-ixelles"),
        ("EpnLabelled", "epn-epn-ixelles"),
        ("EpnLabelStatusChanged", "epn-epn-ixelles"),
    ]
    assert [(e["data"]["status"], e["data"]["labelled_epns"]) for e in events if "labelled_epns" in e["data"]] == [
        ("labelled", 1),
        ("withdrawn", 0),
    ]
    history = (await funding.client.get("/epns/epn-ixelles/history", headers=coordination)).json()
    assert [(h["kind"], h["status"], h["note"]) for h in history] == [
        ("registered", "candidate", None),
        ("label", "labelled", None),
        ("label", "withdrawn", "EPN fermé"),
    ]


async def test_labelling_an_epn_short_of_the_charter_is_refused_with_each_unmet_criterion(funding: Any) -> None:
    coordination = await funding.key("coordination-inclusion-numerique", "coordination")
    await funding.client.post("/epns", json={**EPN, "hours_per_week": 10, "tablets": 0}, headers=coordination)

    refused = await funding.client.post(
        "/epns/epn-ixelles/label-decisions",
        json={"status": "labelled", "decided_on": "2026-02-01"},
        headers=coordination,
    )

    assert refused.status_code == 409
    assert "open-hours: hours_per_week is 10, at least 15 needed" in refused.json()["reason"]
    assert (await funding.client.get("/epns/epn-ixelles")).json()["label_status"] == "candidate"


async def test_an_epn_s_operator_changes_its_details_and_another_organisation_is_refused(funding: Any) -> None:
    coordination = await funding.key("coordination-inclusion-numerique", "coordination")
    operator = await funding.key("commune-ixelles", "partner")
    stranger = await funding.key("cpas-forest", "partner")
    await funding.client.post("/epns", json=EPN, headers=coordination)

    changed = await funding.client.patch("/epns/epn-ixelles", json={"hours_per_week": 30.5}, headers=operator)
    refused = await funding.client.patch("/epns/epn-ixelles", json={"computers": 0}, headers=stranger)
    emptied = await funding.client.patch("/epns/epn-ixelles", json={"epn_name": None}, headers=operator)
    nothing = await funding.client.patch("/epns/epn-ixelles", json={}, headers=operator)

    assert (changed.status_code, changed.json()["hours_per_week"]) == (200, 30.5)
    assert refused.status_code == 403
    assert emptied.status_code == 422 and "epn_name cannot be empty" in emptied.text
    assert nothing.status_code == 422 and "at least one detail" in nothing.text


async def test_grants_need_a_coordination_key(funding: Any) -> None:
    refurbisher = await funding.key("caban", "refurbisher")
    assert (await funding.client.post("/grants", json=GRANT)).status_code == 401
    assert (await funding.client.post("/grants", json=GRANT, headers=refurbisher)).status_code == 403


async def test_a_value_the_database_cannot_store_is_refused_with_a_reason_not_a_server_error(
    funding: Any, equipment: Any
) -> None:
    """Issue 10: a NUL character, or an integer beyond what its column holds, gave 500. They are
    refused at the edge now (the field's limits), with a 422 naming the field, and nothing is
    recorded."""
    coordination = await funding.key("coordination-inclusion-numerique", "coordination")
    nul = await funding.client.post("/grants", json={**GRANT, "beneficiary": "epn-\u0000ixelles"}, headers=coordination)
    assert nul.status_code == 422, nul.text
    assert "body.beneficiary" in nul.json()["reason"]
    assert await funding.runtime.pool.fetchval("SELECT count(*) FROM grants") == 0

    refurbisher = await equipment.key("caban", "refurbisher")
    delivery = {"recipient": "asbl-devoirs", "recipient_kind": "pupils-association", "delivered_on": "2026-01-15"}
    huge = await equipment.client.post(
        "/deliveries", json={**delivery, "devices": {"laptop": 3_000_000_000}}, headers=refurbisher
    )
    assert huge.status_code == 422, huge.text
    assert "devices" in huge.json()["reason"]


async def test_the_coordination_reads_every_grant_and_a_beneficiary_only_its_own(funding: Any) -> None:
    coordination = await funding.key("coordination-inclusion-numerique", "coordination")
    for beneficiary in ("epn-ixelles", "epn-forest"):
        answer = await funding.client.post("/grants", json={**GRANT, "beneficiary": beneficiary}, headers=coordination)
        assert answer.status_code == 201, answer.text
    ixelles = await funding.key("epn-ixelles", "partner")

    everything = (await funding.client.get("/grants", headers=coordination)).json()
    own = (await funding.client.get("/grants", headers=ixelles)).json()
    asked_for_another = (await funding.client.get("/grants?beneficiary=epn-forest", headers=ixelles)).json()
    forest_id = next(g["grant_id"] for g in everything if g["beneficiary"] == "epn-forest")
    another = await funding.client.get(f"/grants/{forest_id}", headers=ixelles)

    assert sorted(g["beneficiary"] for g in everything) == ["epn-forest", "epn-ixelles"]
    assert "recorded_by" in everything[0]
    assert [g["beneficiary"] for g in own] == ["epn-ixelles"]
    assert "recorded_by" not in own[0] and "idempotency_key" not in own[0], "who keyed it in is the Coordination's"
    assert asked_for_another == []
    assert another.status_code == 404
    assert (await funding.client.get("/grants")).status_code == 401


async def test_the_register_and_the_labelled_epns_are_public_and_the_history_needs_a_key(funding: Any) -> None:
    coordination = await funding.key("coordination-inclusion-numerique", "coordination")
    await funding.client.post("/epns", json=EPN, headers=coordination)
    await funding.client.post("/epns", json={**EPN, "epn": "epn-forest", "commune": "Forest"}, headers=coordination)
    await funding.client.post(
        "/epns/epn-ixelles/label-decisions",
        json={"status": "labelled", "decided_on": "2026-02-01"},
        headers=coordination,
    )

    register = (await funding.client.get("/epns?commune=Ixelles")).json()
    one = (await funding.client.get("/epns/epn-forest")).json()
    labels = (await funding.client.get("/epn-labels")).json()
    criteria = (await funding.client.get("/label-criteria")).json()

    assert [(e["epn"], e["label_status"], e["hours_per_week"]) for e in register] == [("epn-ixelles", "labelled", 24)]
    assert "registered_by" not in one and one["label_status"] == "candidate"
    assert labels == [{"epn": "epn-ixelles", "commune": "Ixelles", "labelled_on": "2026-02-01"}]
    assert (await funding.client.get("/epn-labels/epn-forest")).status_code == 404, "registered, not labelled"
    assert [(c["code"], c["minimum"]) for c in criteria] == [("devices", 6), ("open-hours", 15)]
    assert (await funding.client.get("/epns/epn-ixelles/history")).status_code == 401
    assert (await funding.client.get("/epns/epn-nowhere")).status_code == 404


CADASTRE = (
    "beneficiary,beneficiary_kind,commune,funder,funder_name,programme,year,committed_eur,paid_eur,cofinancing_pct\n"
    "epn-ixelles,epn,,region,,Appel EPN 2026,2026,12500.50,12500.50,40\n"
    "epn-ixelles,epn,,esf,,FSE+ inclusion numérique,2026,30000,,\n"
    "asbl-lire-ecrire,non-profit,Schaerbeek,foundation,Fondation X,Digital for all,2026,8000,8000,0\n"
    "epn-forest,epn,Forest,lottery,,Appel EPN 2026,2026,1000,,\n"
)


async def test_a_cadastre_spreadsheet_is_imported_once_totalled_and_exported_in_both_formats(
    funding: Any, kafka_bootstrap: str
) -> None:
    coordination = await funding.key("coordination-inclusion-numerique", "coordination")
    await funding.client.post("/epns", json=EPN, headers=coordination)
    await funding.client.post(
        "/epns/epn-ixelles/label-decisions",
        json={"status": "labelled", "decided_on": "2026-02-01"},
        headers=coordination,
    )
    as_csv = {**coordination, "Content-Type": "text/csv"}

    first = await funding.client.post("/cadastre/import", content=CADASTRE.encode(), headers=as_csv)
    again = await funding.client.post("/cadastre/import", content=CADASTRE.encode(), headers=as_csv)
    totals = (await funding.client.get("/cadastre/totals?by=beneficiary&year=2026", headers=coordination)).json()
    completeness = (await funding.client.get("/cadastre/completeness?year=2026", headers=coordination)).json()
    xlsx = await funding.client.get("/cadastre/export.xlsx?year=2026", headers=coordination)
    from_xlsx = await funding.client.post(
        "/cadastre/import", content=xlsx.content, headers={**coordination, "Content-Type": xlsx.headers["content-type"]}
    )

    assert first.status_code == 200, first.text
    assert (first.json()["created"], [(e["line"], e["column"]) for e in first.json()["errors"]]) == (3, [(5, "funder")])
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 3)
    assert [(g["key"], g["lines"], g["committed_eur"]) for g in totals["groups"]] == [
        ("epn-ixelles", 2, "42500.50"),
        ("asbl-lire-ecrire", 1, "8000.00"),
    ]
    assert (totals["total"]["lines"], totals["total"]["committed_eur"]) == (3, "50500.50")
    assert (completeness["labelled_epns"], completeness["complete_epns"]) == (1, 1)
    assert from_xlsx.json() == {"created": 0, "changed": 0, "unchanged": 3, "errors": []}
    events = await published(funding, kafka_bootstrap, 7)
    coverage = [e for e in events if e["event_type"] == "CadastreCoverageChanged"]
    assert [(e["subject"], e["data"]["complete_epns"]) for e in coverage] == [("cadastre-2026", 1)]
    assert sum(e["event_type"] == "FundingLineRecorded" for e in events) == 3


async def test_a_beneficiary_reads_its_own_funding_lines_and_not_the_totals(funding: Any) -> None:
    coordination = await funding.key("coordination-inclusion-numerique", "coordination")
    ixelles = await funding.key("epn-ixelles", "partner")
    await funding.client.post(
        "/cadastre/import", content=CADASTRE.encode(), headers={**coordination, "Content-Type": "text/csv"}
    )

    own = (await funding.client.get("/funding-lines", headers=ixelles)).json()
    another = (await funding.client.get("/funding-lines?beneficiary=asbl-lire-ecrire", headers=ixelles)).json()
    totals = await funding.client.get("/cadastre/totals", headers=ixelles)

    assert sorted(line["funder"] for line in own) == ["esf", "region"]
    assert all("recorded_by" not in line for line in own)
    assert another == []
    assert totals.status_code == 403


async def test_a_cadastre_import_in_another_format_is_refused_with_the_formats_it_takes(funding: Any) -> None:
    coordination = await funding.key("coordination-inclusion-numerique", "coordination")

    refused = await funding.client.post(
        "/cadastre/import", content=b"{}", headers={**coordination, "Content-Type": "application/json"}
    )
    one = await funding.client.post(
        "/funding-lines",
        json={"beneficiary": "epn-ixelles", "beneficiary_kind": "epn", "funder": "vgc", "programme": "Digitale inclusie",
              "year": 2026, "committed_eur": 5000},
        headers=coordination,
    )  # fmt: skip

    assert refused.status_code == 422 and "text/csv" in refused.json()["reason"]
    assert (one.status_code, one.json()["outcome"], one.json()["complete"]) == (201, "created", False)


async def test_caban_reads_the_whole_cadastre_and_its_totals_but_records_nothing(funding: Any) -> None:
    coordination = await funding.key("coordination-inclusion-numerique", "coordination")
    caban = await funding.key("caban", "caban")
    await funding.client.post(
        "/cadastre/import", content=CADASTRE.encode(), headers={**coordination, "Content-Type": "text/csv"}
    )

    lines = (await funding.client.get("/funding-lines", headers=caban)).json()
    totals = await funding.client.get("/cadastre/totals?by=funder", headers=caban)
    write = await funding.client.post(
        "/cadastre/import", content=CADASTRE.encode(), headers={**caban, "Content-Type": "text/csv"}
    )

    assert sorted(line["beneficiary"] for line in lines) == ["asbl-lire-ecrire", "epn-ixelles", "epn-ixelles"]
    assert totals.status_code == 200 and totals.json()["total"]["lines"] == 3
    assert write.status_code == 403
