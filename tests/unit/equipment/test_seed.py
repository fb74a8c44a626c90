"""The organisations the equipment service is seeded with: their kinds decide which donations
count for action 57 ("un don de matériel recyclé des OIP régionaux")."""

from __future__ import annotations

import json

from services.equipment import events
from services.equipment.api.devices import OrganisationIn
from services.equipment.app import SEED


def seeded() -> dict[str, dict[str, object]]:
    return {o["code"]: o for o in json.loads(SEED.read_text(encoding="utf-8"))["organisations"]}


def test_the_community_commissions_the_federation_and_the_parliament_are_not_regional_public_bodies() -> None:
    organisations = seeded()
    assert organisations["cocof"]["kind"] == "community-body"
    assert organisations["fwb"]["kind"] == "community-body"
    assert organisations["parlement-bruxellois"]["kind"] == "parliament"
    assert {events.donor_kind(str(organisations[c]["kind"])) for c in ("cocof", "fwb", "parlement-bruxellois")} == {
        "other"
    }, "their donations do not count for action 57"


def test_every_seeded_kind_can_be_registered_over_http() -> None:
    for organisation in seeded().values():
        OrganisationIn.model_validate({k: v for k, v in organisation.items() if k != "code"})
