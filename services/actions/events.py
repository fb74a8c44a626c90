"""Where the actions service's domain changes become contract events (one place, outbound)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from passerelle_contracts import Actor, Envelope
from passerelle_contracts.actions_v1 import (
    TOPIC,
    ActionRegistered,
    ActionStatusChanged,
    FieldChange,
    IndicatorMeasured,
)

SOURCE = "actions"


def subject(action_number: int) -> str:
    return f"action-{action_number}"


def registered(action: dict[str, Any], axis: int, actor: Actor, correlation_id: uuid.UUID) -> Envelope:
    data = ActionRegistered(
        action_number=action["number"],
        axis=axis,
        chantier=action["chantier"],
        title_fr=action["title_fr"],
        title_nl=action["title_nl"],
        lead=action["lead"],
        partners=action["partners"],
        publics=action["publics"],
    )
    return Envelope.wrap(data, source=SOURCE, subject=subject(action["number"]), actor=actor, correlation_id=correlation_id)


def status_changed(
    action: dict[str, Any], previous: str, changes: list[FieldChange], actor: Actor, correlation_id: uuid.UUID
) -> Envelope:
    data = ActionStatusChanged(
        action_number=action["number"],
        title_fr=action["title_fr"],
        title_nl=action["title_nl"],
        status=action["status"],
        previous_status=previous,  # type: ignore[arg-type]
        traffic_light=action["traffic_light"],
        note=action["status_note"],
        changes=changes,
    )
    return Envelope.wrap(data, source=SOURCE, subject=subject(action["number"]), actor=actor, correlation_id=correlation_id)


def indicator_measured(
    indicator: dict[str, Any],
    *,
    value: Decimal,
    previous: Decimal,
    measured_on: Any,
    origin: str,
    cause: Envelope | None,
    actor: Actor,
    correlation_id: uuid.UUID,
) -> Envelope:
    data = IndicatorMeasured(
        action_number=indicator["action_number"],
        indicator_code=indicator["code"],
        indicator_name_fr=indicator["name_fr"],
        indicator_name_nl=indicator["name_nl"],
        unit=indicator["unit"],
        value=float(value),
        previous_value=float(previous),
        target=None if indicator["target"] is None else float(indicator["target"]),
        measured_on=measured_on,
        origin=origin,  # type: ignore[arg-type]
        source_event_id=str(cause.event_id) if cause else None,
        changes=[FieldChange(field="value", old=float(previous), new=float(value))],
    )
    return Envelope.wrap(
        data,
        source=SOURCE,
        subject=subject(indicator["action_number"]),
        actor=actor,
        correlation_id=correlation_id,
        causation_id=cause.event_id if cause else None,
    )


__all__ = ["TOPIC", "indicator_measured", "registered", "status_changed", "subject"]
