"""Use cases of the actions service. Each runs in one transaction: state, history and outbox."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from passerelle_contracts import SYSTEM_ACTOR, Actor, Envelope

from services.runtime.errors import Conflict, Forbidden, NotFound
from services.runtime.logs import get_logger
from services.runtime.outbox import enqueue, enqueue_many

from . import domain, events, repository

log = get_logger(__name__)

SEED_DIR = Path(__file__).resolve().parent / "seed"
SEED_LOCK_KEY = 7_231_118_101


def read_seed() -> tuple[dict[str, Any], dict[str, Any]]:
    plan = json.loads((SEED_DIR / "plan.json").read_text(encoding="utf-8"))
    indicators = json.loads((SEED_DIR / "indicators.json").read_text(encoding="utf-8"))
    return plan, indicators


async def load_structure(pool: asyncpg.Pool, plan: dict[str, Any]) -> None:
    """The plan's axes, chantiers and organisations, without its actions (for a CSV import)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SEED_LOCK_KEY)
        await repository.load_reference(conn, plan)


async def load_plan(pool: asyncpg.Pool, topic: str, plan: dict[str, Any], indicators: dict[str, Any]) -> list[int]:
    """Load the plan on first start; later starts add only what is missing (idempotent).

    Each newly loaded action is announced once with ActionRegistered.
    """
    axis_of = {c["number"]: c["axis"] for c in plan["chantiers"]}
    correlation_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SEED_LOCK_KEY)
        await repository.load_reference(conn, plan)
        new = await repository.insert_new_actions(conn, plan["actions"])
        by_number = {a["number"]: a for a in plan["actions"]}
        envelopes = [events.registered(by_number[n], axis_of[by_number[n]["chantier"]], SYSTEM_ACTOR, correlation_id) for n in new]
        for number, envelope in zip(new, envelopes, strict=True):
            await repository.add_history(conn, number, envelope, [{"field": "status", "old": None, "new": "not_started"}])
        await enqueue_many(conn, [(topic, e) for e in envelopes])
        for indicator in await repository.load_indicators(conn, indicators):
            diff = events.changes({}, {k: indicator[k] for k in ("name_fr", "unit", "baseline", "target")})
            await emit(conn, topic, events.indicator_defined(indicator, diff, SYSTEM_ACTOR, correlation_id))
    if new:
        log.info("plan loaded", actions=len(new))
    return new


async def emit(conn: asyncpg.Connection, topic: str, envelope: Envelope) -> None:
    """Record an event about an action in its history and in the outbox, in the caller's transaction."""
    number = envelope.data.get("action_number")
    if number is not None:
        await repository.add_history(conn, number, envelope, envelope.data.get("changes", []))
    await enqueue(conn, topic, envelope)


async def locked_action(conn: asyncpg.Connection, number: int) -> domain.ActionState:
    state = await repository.lock_action(conn, number)
    if state is None:
        raise NotFound(f"no action {number}; the plan has actions 1 to 66")
    return state


@dataclass(frozen=True)
class ChangeStatus:
    action_number: int
    status: str
    traffic_light: str | None
    note: str


async def change_status(
    pool: asyncpg.Pool, topic: str, command: ChangeStatus, actor: Actor, correlation_id: uuid.UUID
) -> Envelope:
    async with pool.acquire() as conn, conn.transaction():
        state = await locked_action(conn, command.action_number)
        domain.authorise_update(actor.role, actor.organisation, state)
        changes = domain.change_status(state, command.status, command.traffic_light, command.note)
        await repository.update_status(conn, command.action_number, command.status, command.traffic_light, command.note)
        action = dict(await repository.get_action(conn, command.action_number))  # type: ignore[arg-type]
        envelope = events.status_changed(action, state.status, changes, actor, correlation_id)
        await emit(conn, topic, envelope)
    return envelope


@dataclass(frozen=True)
class RecordDerivedMeasurements:
    """Count another service's event in the indicators its mapping names."""

    cause: Envelope
    payload: dict[str, Any]
    measured_on: date


async def record_derived_measurements(conn: asyncpg.Connection, topic: str, command: RecordDerivedMeasurements) -> int:
    """Runs inside the consumer's transaction (with its inbox row). Returns measurements made."""
    mappings = await repository.mappings_for(conn, command.cause.event_type)
    amounts = domain.derived_amounts(mappings, command.cause.event_type, command.payload)
    made = 0
    for code, amount in sorted(amounts.items()):
        indicator = await repository.lock_indicator(conn, code)
        if indicator is None:
            raise NotFound(f"mapping names unknown indicator {code}")
        previous = indicator["current_value"]
        if indicator["period"] == "yearly":  # counts restart each calendar year (e.g. meetings a year)
            previous = await repository.sum_in_year(conn, code, command.measured_on.year)
        value = previous + amount
        counted = await repository.record_measurement(
            conn,
            code=code,
            value=value,
            delta=amount,
            measured_on=command.measured_on,
            origin="derived",
            source=f"{command.cause.source}:{command.cause.event_type}",
            source_event_id=command.cause.event_id,
            actor=SYSTEM_ACTOR.model_dump(mode="json"),
        )
        if not counted:
            continue
        envelope = events.indicator_measured(
            dict(indicator),
            value=value,
            previous=previous,
            measured_on=command.measured_on,
            origin="derived",
            cause=command.cause,
            actor=SYSTEM_ACTOR,
            correlation_id=command.cause.correlation_id,
        )
        await emit(conn, topic, envelope)
        made += 1
    return made



async def change_details(
    pool: asyncpg.Pool, topic: str, number: int, values: dict[str, Any], actor: Actor, correlation_id: uuid.UUID
) -> Envelope | None:
    """Edit titles, lead, partners, publics or weight (the Coordination only). None if nothing changed."""
    async with pool.acquire() as conn, conn.transaction():
        state = await locked_action(conn, number)
        if actor.role != "coordination":
            raise Forbidden(f"only the Coordination edits an action's details, not {actor.organisation} ({actor.role})")
        unknown = await repository.organisations_exist(conn, [values["lead"]] if "lead" in values else [])
        unknown += await repository.organisations_exist(conn, list(values.get("partners", [])))
        if unknown:
            raise Conflict(f"unknown organisations: {', '.join(unknown)}")
        current = dict(await repository.get_action(conn, state.number))  # type: ignore[arg-type]
        diff = events.changes(current, values)
        if not diff:
            return None
        await repository.set_details(conn, number, values)
        envelope = events.details_changed(number, values.get("title_fr", current["title_fr"]), diff, actor, correlation_id)
        await emit(conn, topic, envelope)
    return envelope


async def update_progress(
    pool: asyncpg.Pool, topic: str, number: int, progress: Decimal | None, mode: str, actor: Actor,
    correlation_id: uuid.UUID,
) -> Envelope | None:
    """Set an action's progress by hand, or switch it to 'milestones' mode (derived)."""
    async with pool.acquire() as conn, conn.transaction():
        state = await locked_action(conn, number)
        domain.authorise_update(actor.role, actor.organisation, state)
        if mode == "manual":
            if progress is None:
                raise Conflict("manual progress needs a value between 0 and 100")
            domain.check_progress(progress)
            return await apply_progress(conn, topic, number, progress, "manual", actor, correlation_id)
        return await refresh_milestone_progress(conn, topic, number, actor, correlation_id, switch=True)


async def apply_progress(
    conn: asyncpg.Connection, topic: str, number: int, progress: Decimal, mode: str, actor: Actor,
    correlation_id: uuid.UUID, causation_id: uuid.UUID | None = None,
) -> Envelope | None:
    current = await conn.fetchrow("SELECT title_fr, progress, progress_mode FROM actions WHERE number = $1", number)
    if current["progress"] == progress and current["progress_mode"] == mode:
        return None
    await repository.set_progress(conn, number, progress, mode)
    envelope = events.progress_updated(
        number, current["title_fr"], current["progress"], progress, mode, actor, correlation_id, causation_id
    )
    await emit(conn, topic, envelope)
    return envelope


async def refresh_milestone_progress(
    conn: asyncpg.Connection, topic: str, number: int, actor: Actor, correlation_id: uuid.UUID,
    *, switch: bool = False, causation_id: uuid.UUID | None = None,
) -> Envelope | None:
    """In 'milestones' mode, progress is the share of milestones reached; recompute it."""
    mode = await conn.fetchval("SELECT progress_mode FROM actions WHERE number = $1", number)
    if mode != "milestones" and not switch:
        return None
    counts = await conn.fetchrow(
        "SELECT count(*) AS total, count(reached_on) AS reached FROM milestones WHERE action_number = $1", number
    )
    progress = domain.progress_from_milestones(counts["total"], counts["reached"])
    return await apply_progress(conn, topic, number, progress, "milestones", actor, correlation_id, causation_id)


@dataclass(frozen=True)
class DefineIndicator:
    code: str
    action_number: int
    name_fr: str
    name_nl: str
    unit: str
    baseline: Decimal
    target: Decimal | None
    period: str


async def define_indicator(
    pool: asyncpg.Pool, topic: str, command: DefineIndicator, actor: Actor, correlation_id: uuid.UUID
) -> Envelope | None:
    """Define an indicator, or change its definition (its action cannot change). None if unchanged."""
    async with pool.acquire() as conn, conn.transaction():
        state = await locked_action(conn, command.action_number)
        domain.authorise_update(actor.role, actor.organisation, state)
        existing = await repository.get_indicator(conn, command.code)
        if existing is not None and existing["action_number"] != command.action_number:
            raise Conflict(f"indicator {command.code} belongs to action {existing['action_number']}")
        values = {k: getattr(command, k) for k in ("name_fr", "name_nl", "unit", "baseline", "target", "period")}
        diff = events.changes(dict(existing) if existing else {}, values)
        if not diff:
            return None
        indicator = {"code": command.code, "action_number": command.action_number, **values}
        await repository.upsert_indicator(conn, indicator)
        envelope = events.indicator_defined(indicator, diff, actor, correlation_id)
        await emit(conn, topic, envelope)
    return envelope


async def record_manual_measurement(
    pool: asyncpg.Pool, topic: str, code: str, value: Decimal, measured_on: date, source: str, external_id: str | None,
    actor: Actor, correlation_id: uuid.UUID,
) -> Envelope | None:
    """A person's measurement sets the indicator's value. None if this external id was already recorded."""
    async with pool.acquire() as conn, conn.transaction():
        indicator = await repository.get_indicator(conn, code)
        if indicator is None:
            raise NotFound(f"no indicator {code}")
        state = await locked_action(conn, indicator["action_number"])
        domain.authorise_update(actor.role, actor.organisation, state)
        indicator = await repository.lock_indicator(conn, code)
        previous = indicator["current_value"]  # type: ignore[index]
        counted = await repository.record_measurement(
            conn, code=code, value=value, delta=value - previous, measured_on=measured_on, origin="manual",
            source=source, source_event_id=None, actor=actor.model_dump(mode="json"), external_id=external_id,
        )
        if not counted:
            return None
        envelope = events.indicator_measured(
            dict(indicator), value=value, previous=previous, measured_on=measured_on, origin="manual",  # type: ignore[arg-type]
            cause=None, actor=actor, correlation_id=correlation_id,
        )
        await emit(conn, topic, envelope)
    return envelope
