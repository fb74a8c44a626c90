"""Use cases of the actions service. Each runs in one transaction: state, history and outbox."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
from passerelle_contracts import SYSTEM_ACTOR, Actor, Envelope

from services.runtime.errors import NotFound
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
        await repository.load_indicators(conn, indicators)
    if new:
        log.info("plan loaded", actions=len(new))
    return new


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
        state = await repository.lock_action(conn, command.action_number)
        if state is None:
            raise NotFound(f"no action {command.action_number}; the plan has actions 1 to 66")
        domain.authorise_update(actor.role, actor.organisation, state)
        changes = domain.change_status(state, command.status, command.traffic_light, command.note)
        await repository.update_status(conn, command.action_number, command.status, command.traffic_light, command.note)
        action = dict(await repository.get_action(conn, command.action_number))  # type: ignore[arg-type]
        envelope = events.status_changed(action, state.status, changes, actor, correlation_id)
        await repository.add_history(conn, command.action_number, envelope, envelope.data["changes"])
        await enqueue(conn, topic, envelope)
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
        await repository.add_history(conn, indicator["action_number"], envelope, envelope.data["changes"])
        await enqueue(conn, topic, envelope)
        made += 1
    return made

