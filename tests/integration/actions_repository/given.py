"""What the suite's tests share: the organisations, the rows and the steps that set a storage up."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from passerelle_contracts import Actor, Envelope, EventData

COORDINATION = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k1")
PLAN: dict[str, Any] = {
    "organisations": [
        {
            "code": "coordination",
            "name": "Coordination",
            "kind": "regional-administration",
            "working_group": True,
            "copil": True,
        },
        {"code": "caban", "name": "CABAN", "kind": "non-profit", "working_group": True, "copil": True},
        {"code": "actiris", "name": "Actiris", "kind": "regional-public-body", "working_group": True, "copil": False},
    ],
    "axes": [
        {"number": 1, "title_fr": "Axe un", "title_nl": "As een"},
        {"number": 2, "title_fr": "Axe deux", "title_nl": ""},
    ],
    "chantiers": [
        {"number": 1, "axis": 1, "title_fr": "Chantier un", "title_nl": ""},
        {"number": 2, "axis": 1, "title_fr": "Chantier deux", "title_nl": ""},
        {"number": 3, "axis": 2, "title_fr": "Chantier trois", "title_nl": "Werf drie"},
    ],
}


def action(number: int, chantier: int, lead: str, partners: list[str], publics: list[str]) -> dict[str, Any]:
    return {
        "number": number,
        "chantier": chantier,
        "title_fr": f"Action {number}",
        "title_nl": "",
        "text_fr": "…",
        "lead": lead,
        "partners": partners,
        "publics": publics,
    }


ACTIONS = [
    action(1, 1, "coordination", ["caban"], ["seniors"]),
    action(2, 1, "caban", [], ["young-people", "seniors"]),
    action(3, 2, "actiris", ["caban", "epn"], []),  # "epn": a partner the plan names but does not list
    action(4, 3, "coordination", [], ["job-seekers"]),
]


def wrap(event: EventData, *, at: datetime | None = None, actor: Actor = COORDINATION) -> Envelope:
    return Envelope.wrap(event, source="actions", subject="s", actor=actor, occurred_at=at)


async def add_indicator(repo: Any, code: str, number: int, *, baseline: str = "0", period: str = "") -> None:
    await repo.upsert_indicator(
        {
            "code": code,
            "action_number": number,
            "name_fr": f"Indicateur {code}",
            "name_nl": "",
            "unit": "devices",
            "baseline": Decimal(baseline),
            "target": Decimal(100),
            "period": period,
        }
    )
