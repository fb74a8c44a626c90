"""The funding page shows a partner what the funding service's own API lets it read, no more."""

from __future__ import annotations

from typing import Any

from services.dashboard.pages.funding import seen_by
from services.dashboard.viewers import Viewer


def figures() -> dict[str, Any]:
    duty = {"duty_id": "d", "grant_id": "g", "kind": "final", "due_on": "2026-12-01", "status": "pending"}
    return {
        "calls": [{"call_code": "C1"}],
        "applications": {"by_status": {"granted": {"applications": 2, "requested_eur": "100", "amount_eur": "80"}}},
        "cadastre": {"funder": {"groups": [{"key": "region", "committed_eur": "80"}]}},
        "reports": {
            "overdue": [{**duty, "beneficiary": "epn-a"}, {**duty, "beneficiary": "epn-b"}],
            "due": [{**duty, "beneficiary": "epn-b"}],
        },
    }


def test_the_coordination_and_operators_see_every_figure() -> None:
    assert seen_by(figures(), Viewer("coordination-inclusion-numerique", "coordination", "k")) == figures()


def test_a_partner_sees_counts_but_no_cadastre_no_amounts_and_only_its_own_duties() -> None:
    seen = seen_by(figures(), Viewer("epn-a", "partner", "k"))

    assert seen["cadastre"] == {}
    assert seen["applications"]["by_status"]["granted"] == {
        "applications": 2,
        "requested_eur": None,
        "amount_eur": None,
    }
    assert [r["beneficiary"] for r in seen["reports"]["overdue"]] == ["epn-a"]
    assert seen["reports"]["due"] == []
    assert seen["calls"] == [{"call_code": "C1"}]


def test_caban_reads_the_cadastre_as_its_api_lets_it() -> None:
    assert seen_by(figures(), Viewer("caban", "caban", "k"))["cadastre"] == figures()["cadastre"]
