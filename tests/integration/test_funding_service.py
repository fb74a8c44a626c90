"""The funding service in process, through HTTP, with the real database and broker: grants
under an Idempotency-Key, and EPN labels recorded once, as partners and the actions service see them."""

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


async def test_an_epn_label_is_recorded_and_announced_once(funding: Any, kafka_bootstrap: str) -> None:
    coordination = await funding.key("coordination-inclusion-numerique", "coordination")
    label = {"epn": "epn-ixelles", "commune": "Ixelles", "labelled_on": "2026-02-01"}

    first = await funding.client.post("/epn-labels", json=label, headers=coordination)
    again = await funding.client.post("/epn-labels", json={**label, "labelled_on": "2026-09-01"}, headers=coordination)

    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()) == (200, first.json()), "the first label stands"
    assert first.json()["labelled_on"] == "2026-02-01"
    [event] = await published(funding, kafka_bootstrap, 1)
    assert (event["event_type"], event["subject"], event["data"]["epn"]) == (
        "EpnLabelled",
        "epn-epn-ixelles",
        "epn-ixelles",
    )


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


async def test_the_labelled_epns_are_a_public_register(funding: Any) -> None:
    coordination = await funding.key("coordination-inclusion-numerique", "coordination")
    label = {"epn": "epn-ixelles", "commune": "Ixelles", "labelled_on": "2026-02-01"}
    assert (await funding.client.post("/epn-labels", json=label, headers=coordination)).status_code == 201

    register = await funding.client.get("/epn-labels")
    one = await funding.client.get("/epn-labels/epn-ixelles")
    unknown = await funding.client.get("/epn-labels/epn-nowhere")

    assert register.json() == [label]
    assert one.json() == label, "the EPN, its commune, the day: not who recorded it"
    assert unknown.status_code == 404
