"""The plan itself: loaded from the seed on first start, completed on later starts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.runtime.logs import get_logger

from .. import domain, events
from .aggregate import Uow, record

log = get_logger(__name__)

SEED_DIR = Path(__file__).resolve().parent.parent / "seed"


def read_seed() -> tuple[dict[str, Any], dict[str, Any]]:
    """The plan (``plan.json``) and the indicators with their event mappings (``indicators.json``)."""
    plan = json.loads((SEED_DIR / "plan.json").read_text(encoding="utf-8"))
    indicators = json.loads((SEED_DIR / "indicators.json").read_text(encoding="utf-8"))
    return plan, indicators


async def load_structure(uow: Uow, plan: dict[str, Any]) -> None:
    """The plan's axes, chantiers and organisations, without its actions (for a CSV import)."""
    async with uow:
        await uow.repo.lock_seed()
        await uow.repo.load_reference(plan)


@dataclass(frozen=True)
class LoadPlan:
    plan: dict[str, Any]
    indicators: dict[str, Any]


async def load_plan(uow: Uow, command: LoadPlan) -> list[int]:
    """Load the plan on first start; later starts add only what is missing (idempotent).

    Each newly loaded action is announced once with ActionRegistered, each new indicator with
    IndicatorDefined. Returns the numbers of the actions added."""
    plan = command.plan
    axis_of = {c["number"]: c["axis"] for c in plan["chantiers"]}
    async with uow:
        await uow.repo.lock_seed()
        await uow.repo.load_reference(plan)
        new = await uow.repo.insert_new_actions(plan["actions"])
        by_number = {a["number"]: a for a in plan["actions"]}
        for number in new:
            action = by_number[number]
            registered = events.registered(action, axis_of[action["chantier"]])
            await record(uow, registered, changes=[{"field": "status", "old": None, "new": "not_started"}])
        for indicator in await _load_indicators(uow, command.indicators):
            diff = events.changes({}, {k: indicator[k] for k in ("name_fr", "unit", "baseline", "target")})
            await record(uow, events.indicator_defined(indicator, diff))
    if new:
        log.info("plan loaded", actions=len(new))
    return new


async def _load_indicators(uow: Uow, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Add the seed's indicators not defined yet (later edits come through the API and are kept);
    replace the event -> indicator mappings (checked first: ``domain.IndicatorMapping``,
    ``domain.check_mappings``). Returns the indicators added."""
    present = await uow.repo.indicator_codes()
    new = [
        {
            "code": i["code"],
            "action_number": i["action"],
            "name_fr": i["name_fr"],
            "name_nl": i["name_nl"],
            "unit": i["unit"],
            "baseline": _number(i["baseline"]),
            "target": _number(i["target"]),
            "period": i["period"],
        }
        for i in doc["indicators"]
        if i["code"] not in present
    ]
    domain.check_mappings([_mapping(m) for m in doc["mappings"]])  # a bad seed stops the start, not an event
    for indicator in new:
        await uow.repo.upsert_indicator(indicator)
    await uow.repo.replace_mappings(doc["mappings"])
    return new


def _mapping(m: dict[str, Any]) -> domain.IndicatorMapping:
    return domain.IndicatorMapping(
        m["event_type"], m["conditions"], m["indicator"], m["amount"], m.get("mode", "add"), m.get("order")
    )


def _number(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))
