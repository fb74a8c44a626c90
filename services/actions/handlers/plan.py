"""The plan itself: loaded from the seed on first start, completed on later starts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from passerelle_contracts.common import FieldChange

from services.runtime.logs import get_logger

from .. import domain, events
from .actions import apply_details
from .aggregate import Uow, locked_action, record

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
        _left_to_the_register(await uow.repo.load_reference(plan))


def _left_to_the_register(codes: list[str]) -> None:
    """The seed's organisations kept as the EPN register wrote them (``domain``: organisations
    learned from the EPN register): the seed's reload never undoes the register's names."""
    if codes:
        log.warning("seed organisations kept by the EPN register, left as it wrote them", codes=codes)


@dataclass(frozen=True)
class LoadPlan:
    plan: dict[str, Any]
    indicators: dict[str, Any]


async def load_plan(uow: Uow, command: LoadPlan) -> list[int]:
    """Load the plan on first start; later starts add only what is missing (idempotent).

    Each newly loaded action is announced once with ActionRegistered, each new indicator with
    IndicatorDefined, and so is a retired indicator whose definition the seed changed
    (``_load_indicators``). An action stored without a Dutch title gets the seed's, announced with
    ActionDetailsChanged (``_fill_dutch_titles``). Returns the numbers of the actions added."""
    plan = command.plan
    axis_of = {c["number"]: c["axis"] for c in plan["chantiers"]}
    async with uow:
        await uow.repo.lock_seed()
        _left_to_the_register(await uow.repo.load_reference(plan))
        new = await uow.repo.insert_new_actions(plan["actions"])
        by_number = {a["number"]: a for a in plan["actions"]}
        for number in new:
            action = by_number[number]
            registered = events.registered(action, axis_of[action["chantier"]])
            await record(uow, registered, changes=[{"field": "status", "old": None, "new": "not_started"}])
        translated = await _fill_dutch_titles(uow, plan["actions"])
        for indicator, diff in await _load_indicators(uow, command.indicators):
            await record(uow, events.indicator_defined(indicator, diff))
    if new:
        log.info("plan loaded", actions=len(new))
    if translated:
        log.info("Dutch titles filled in from the seed", actions=len(translated))
    return new


async def _fill_dutch_titles(uow: Uow, actions: list[dict[str, Any]]) -> list[int]:
    """The seed's Dutch title for each action stored without one (loaded before the seed had
    them), set as the Coordination's edits are (``apply_details``: a new version and
    ActionDetailsChanged with the ``title_nl`` change, in the action's history). A Dutch title
    someone wrote is never replaced. Returns the numbers of the actions given one."""
    stored = {a["number"]: a["title_nl"] for a in await uow.repo.list_actions()}
    filled: list[int] = []
    for action in actions:
        number, title_nl = action["number"], action["title_nl"]
        if not title_nl or stored.get(number) != "":
            continue
        await locked_action(uow, number)
        current = await uow.repo.get_action(number)
        if current is not None and current["title_nl"] == "":  # still empty once locked: no edit came between
            await apply_details(uow, number, {"title_nl": title_nl})
            filled.append(number)
    return filled


DEFINITION = ("name_fr", "name_nl", "unit", "baseline", "target", "period")
"""An indicator's definition: what ``upsert_indicator`` writes besides its code and action."""


async def _load_indicators(uow: Uow, doc: dict[str, Any]) -> list[tuple[dict[str, Any], list[FieldChange]]]:
    """Add the seed's indicators not defined yet (later edits come through the API and are kept);
    replace the event -> indicator mappings (checked first: ``domain.IndicatorMapping``,
    ``domain.check_mappings``). Returns the definitions to announce, with what changed.

    An indicator the seed marks ``"retired"`` (with why) is fed by no mapping any more, and is
    never deleted: a database that holds it keeps it with its measurements and history, and takes
    the seed's definition of it (its names say it is retired), announced once like any change of
    definition; a database that never had it does not get it, having no history to keep."""
    present = await uow.repo.indicator_codes()
    seeded = [{"code": i["code"], "action_number": i["action"], **_definition(i)} for i in doc["indicators"]]
    retired = {i["code"] for i in doc["indicators"] if i.get("retired")}
    domain.check_mappings([_mapping(m) for m in doc["mappings"]], retired)  # a bad seed stops the start, not an event
    announced: list[tuple[dict[str, Any], list[FieldChange]]] = []
    for indicator in seeded:
        code = indicator["code"]
        if code not in present and code not in retired:
            await uow.repo.upsert_indicator(indicator)
            diff = events.changes({}, {k: indicator[k] for k in ("name_fr", "unit", "baseline", "target")})
            announced.append((indicator, diff))
        elif code in present and code in retired:
            existing = await uow.repo.get_indicator(code)
            assert existing is not None, "present above; indicators are never deleted"
            await locked_action(uow, existing["action_number"])
            diff = events.changes(existing, {k: indicator[k] for k in DEFINITION})
            if diff:
                await uow.repo.upsert_indicator(indicator)  # its action and current value stay
                announced.append(({**indicator, "action_number": existing["action_number"]}, diff))
    await uow.repo.replace_mappings(doc["mappings"])
    return announced


def _definition(i: dict[str, Any]) -> dict[str, Any]:
    return {
        "name_fr": i["name_fr"],
        "name_nl": i["name_nl"],
        "unit": i["unit"],
        "baseline": _number(i["baseline"]),
        "target": _number(i["target"]),
        "period": i["period"],
    }


def _mapping(m: dict[str, Any]) -> domain.IndicatorMapping:
    return domain.IndicatorMapping(
        m["event_type"], m["conditions"], m["indicator"], m["amount"], m.get("mode", "add"), m.get("order")
    )


def _number(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))
