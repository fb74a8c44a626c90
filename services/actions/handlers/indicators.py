"""Indicators: defined by people, measured by people or derived from other services' events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from passerelle_contracts import SYSTEM_ACTOR, Envelope
from passerelle_contracts.equipment_v1 import DevicesDelivered
from passerelle_contracts.funding_v1 import (
    ActivityReturnSubmitted,
    CadastreCoverageChanged,
    EpnLabelStatusChanged,
    GrantAwarded,
)

from services.runtime.errors import Conflict, NotFound
from services.runtime.inputs import BRUSSELS, check_happened
from services.runtime.logs import get_logger
from services.runtime.uow import Context

from .. import domain, events
from ..sql import Row
from .aggregate import Uow, locked_action, record

log = get_logger(__name__)


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


async def define_indicator(uow: Uow, command: DefineIndicator) -> Envelope | None:
    """Define an indicator, or change its definition (its action cannot change). None if unchanged."""
    async with uow:
        state = await locked_action(uow, command.action_number)
        domain.authorise_update(uow.actor.role, uow.actor.organisation, state)
        existing = await uow.repo.get_indicator(command.code)
        if existing is not None and existing["action_number"] != command.action_number:
            raise Conflict(f"indicator {command.code} belongs to action {existing['action_number']}")
        values = {k: getattr(command, k) for k in ("name_fr", "name_nl", "unit", "baseline", "target", "period")}
        diff = events.changes(existing or {}, values)
        if not diff:
            return None
        indicator = {"code": command.code, "action_number": command.action_number, **values}
        await uow.repo.upsert_indicator(indicator)
        return await record(uow, events.indicator_defined(indicator, diff))


@dataclass(frozen=True)
class RecordMeasurement:
    code: str
    value: Decimal
    measured_on: date
    source: str
    external_id: str | None  # makes a repeated submission harmless


async def record_measurement(uow: Uow, command: RecordMeasurement) -> Envelope | None:
    """A person's measurement sets the indicator's value. None if this external id was already
    recorded for this indicator.

    Refused: a negative or non-finite value, a day after today (Brussels), and any value for an
    indicator counted from events (``indicator_mappings``): typed by hand, it would overwrite
    the count, and the next event would overwrite it in turn. A yearly indicator's value is the
    count of the measurement's year."""
    code, measured_on = command.code, command.measured_on
    domain.check_measurement(command.value)
    check_happened(measured_on, "measured_on")
    async with uow:
        indicator = await uow.repo.get_indicator(code)
        if indicator is None:
            raise NotFound(f"no indicator {code}")
        state = await locked_action(uow, indicator["action_number"])
        domain.authorise_update(uow.actor.role, uow.actor.organisation, state)
        fed_by = await uow.repo.feeding_events(code)
        if fed_by:
            raise Conflict(
                f"indicator {code} is counted from {', '.join(fed_by)} events; a value typed by hand would "
                "overwrite that count: correct the events at their source, or define another indicator "
                "for figures typed by hand"
            )
        indicator = await uow.repo.lock_indicator(code)
        assert indicator is not None, "read above; indicators are never deleted"
        previous, moves = await _previous(uow, indicator, measured_on)
        counted = await uow.repo.record_measurement(
            code=code,
            value=command.value,
            delta=command.value - previous,
            measured_on=measured_on,
            origin="manual",
            source=command.source,
            source_event_id=None,
            actor=uow.actor.model_dump(mode="json"),
            external_id=command.external_id,
            moves_current=moves,
        )
        if not counted:
            return None
        event = events.indicator_measured(
            indicator, value=command.value, previous=previous, measured_on=measured_on, origin="manual"
        )
        return await record(uow, event)


async def _previous(uow: Uow, indicator: Row, measured_on: date) -> tuple[Decimal, bool]:
    """The value a new measurement follows (a yearly indicator's: its year's count so far), and
    whether the measurement becomes the indicator's current value (``domain.moves_current``)."""
    code, period = indicator["code"], indicator["period"]
    if period != domain.YEARLY:
        return indicator["current_value"], True
    previous = await uow.repo.sum_in_year(code, measured_on.year)
    return previous, domain.moves_current(period, measured_on, await uow.repo.latest_measured_on(code))


async def _applied_order(uow: Uow, indicator: Row, measured_on: date) -> int | None:
    """The order a set value must be above (``domain.is_stale``): the highest applied to the
    indicator, or, for a yearly one, to the measurement's year (``domain.orders_per_year``)."""
    if domain.orders_per_year(indicator["period"]):
        return await uow.repo.set_order_in_year(indicator["code"], measured_on.year)
    applied: int | None = indicator["set_order"]
    return applied


@dataclass(frozen=True)
class RecordDerivedMeasurements:
    """Count an event (another service's, or a meeting) in the indicators its mapping names."""

    cause: Envelope
    payload: dict[str, Any]
    measured_on: date


async def record_derived_measurements(uow: Uow, command: RecordDerivedMeasurements) -> int:
    """Returns the measurements made. Each is the system's, caused by the event it counts, and
    unique per source event: a replay never counts twice, even past the inbox.

    An add mapping adds its amount to the indicator's value. A set mapping replaces the value with
    the event's figure, and the measurement's delta is the difference (negative when the figure
    went down); a figure whose order is not above the last applied to the indicator (to that
    year, for a yearly indicator) is stale and makes no measurement (``domain.is_stale``),
    checked under the indicator's lock, so that two consumers applying two decisions at once keep
    the later one. A yearly indicator's set value is its year's figure: the delta is taken from
    that year's value, and an earlier year's figure leaves the current value alone."""
    cause = command.cause
    context = Context.caused_by(cause)
    made = 0
    async with uow:
        mappings = await uow.repo.mappings_for(cause.event_type)
        amounts = domain.derived_amounts(mappings, cause.event_type, command.payload)
        values = domain.derived_values(mappings, cause.event_type, command.payload)
        if both := sorted(amounts.keys() & values.keys()):  # check_mappings refuses it when the seed loads
            raise ValueError(f"{cause.event_type} both adds to and sets {', '.join(both)}")
        for code in sorted(amounts.keys() | values.keys()):
            indicator = await uow.repo.lock_indicator(code)
            if indicator is None:
                raise NotFound(f"mapping names unknown indicator {code}")
            previous, moves = await _previous(uow, indicator, command.measured_on)  # yearly: restarts each year
            order: int | None = None
            if code in values:
                value, order = values[code].value, values[code].order
                applied = await _applied_order(uow, indicator, command.measured_on)
                if domain.is_stale(order, applied):
                    log.info("stale value ignored", indicator=code, order=order, applied=applied)
                    continue
                domain.check_measurement(value)
            else:
                value = previous + amounts[code]
            counted = await uow.repo.record_measurement(
                code=code,
                value=value,
                delta=value - previous,
                measured_on=command.measured_on,
                origin="derived",
                source=f"{cause.source}:{cause.event_type}",
                source_event_id=cause.event_id,
                actor=SYSTEM_ACTOR.model_dump(mode="json"),
                moves_current=moves,
                order=order,
            )
            if not counted:
                continue
            event = events.indicator_measured(
                indicator,
                value=value,
                previous=previous,
                measured_on=command.measured_on,
                origin="derived",
                source_event_id=cause.event_id,
            )
            await record(uow, event, context=context)
            made += 1
    return made


# --- event handlers: the consumer 'indicators' calls them with the record's unit of work ----------


async def count_devices_delivered(uow: Uow, envelope: Envelope, data: DevicesDelivered) -> None:
    await record_derived_measurements(
        uow, RecordDerivedMeasurements(envelope, data.model_dump(mode="json"), data.delivered_on)
    )


async def count_grant_awarded(uow: Uow, envelope: Envelope, data: GrantAwarded) -> None:
    await record_derived_measurements(
        uow, RecordDerivedMeasurements(envelope, data.model_dump(mode="json"), data.awarded_on)
    )


async def count_labelled_epns(uow: Uow, envelope: Envelope, data: EpnLabelStatusChanged) -> None:
    """The number of labelled EPNs after each label decision sets action 11's indicator (a set
    mapping ordered by ``register_version``): a withdrawal lowers it, which counting
    ``EpnLabelled`` never could."""
    await record_derived_measurements(
        uow, RecordDerivedMeasurements(envelope, data.model_dump(mode="json"), data.decided_on)
    )


async def measure_cadastre_coverage(uow: Uow, envelope: Envelope, data: CadastreCoverageChanged) -> None:
    """The labelled EPNs with a complete line in the funding cadastre for ``data.year`` set that
    year's value of action 36's indicator (a set mapping ordered by ``coverage_version``, which
    numbers the figures across all years; the indicator is yearly, so each year keeps its own
    order). The figure is dated in its year: the day it was announced (in Brussels) if that falls
    in the year, else the year's nearest day (``domain.day_in_year``)."""
    announced_on = envelope.occurred_at.astimezone(BRUSSELS).date()
    await record_derived_measurements(
        uow,
        RecordDerivedMeasurements(envelope, data.model_dump(mode="json"), domain.day_in_year(data.year, announced_on)),
    )


async def count_activity_returns(uow: Uow, envelope: Envelope, data: ActivityReturnSubmitted) -> None:
    """An EPN's quarterly activity return counts once in action 28's yearly indicator (the
    mapping's condition ``revision`` 1: a correction is the same return again). It counts in the
    year of the return, not of its sending: Q4's return comes in January and is dated 31 December
    of its year (``domain.day_in_year`` of the day it was announced, in Brussels)."""
    announced_on = envelope.occurred_at.astimezone(BRUSSELS).date()
    await record_derived_measurements(
        uow,
        RecordDerivedMeasurements(envelope, data.model_dump(mode="json"), domain.day_in_year(data.year, announced_on)),
    )
