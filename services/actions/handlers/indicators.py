"""Indicators: defined by people, measured by people or derived from other services' events."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
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

from services.runtime.consumer import SetWise
from services.runtime.errors import Conflict, NotFound
from services.runtime.inputs import BRUSSELS, check_happened
from services.runtime.logs import get_logger
from services.runtime.uow import Context

from .. import domain, events
from ..sql import Row
from .aggregate import History, Uow, locked_action, record, record_deferred

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
    return await record_derived_measurements_many(uow, [command])


async def record_derived_measurements_many(uow: Uow, commands: Sequence[RecordDerivedMeasurements]) -> int:
    """``record_derived_measurements`` of many events, in their order, with the effects of one
    after the other: the consumer's batch of deliveries, say. Their work is shared: the mappings
    read once per event type, each indicator locked once (in code order, as every writer locks
    them), the counts so far kept in memory (``_Tally``) instead of read again per event, and the
    measurements, the indicators and the history written with one statement each."""
    made = 0
    async with uow:
        mappings = {t: await uow.repo.mappings_for(t) for t in dict.fromkeys(c.cause.event_type for c in commands)}
        planned: list[tuple[RecordDerivedMeasurements, dict[str, Decimal], dict[str, domain.SetValue]]] = []
        for command in commands:
            kind = command.cause.event_type
            amounts = domain.derived_amounts(mappings[kind], kind, command.payload)
            values = domain.derived_values(mappings[kind], kind, command.payload)
            if both := sorted(amounts.keys() & values.keys()):  # check_mappings refuses it when the seed loads
                raise ValueError(f"{kind} both adds to and sets {', '.join(both)}")
            planned.append((command, amounts, values))
        tallies: dict[str, _Tally] = {}
        for code in sorted({code for _, amounts, values in planned for code in amounts.keys() | values.keys()}):
            indicator = await uow.repo.lock_indicator(code)
            if indicator is None:
                raise NotFound(f"mapping names unknown indicator {code}")
            causes = [c.cause.event_id for c, amounts, values in planned if code in amounts or code in values]
            tallies[code] = _Tally(indicator, await uow.repo.counted_sources(code, causes))
        measurements: list[dict[str, Any]] = []
        history: list[History] = []
        system = SYSTEM_ACTOR.model_dump(mode="json")
        for command, amounts, values in planned:
            cause, measured_on = command.cause, command.measured_on
            for code in sorted(amounts.keys() | values.keys()):
                tally = tallies[code]
                previous, moves = await tally.previous(uow, measured_on)  # yearly: restarts each year
                order: int | None = None
                if code in values:
                    value, order = values[code].value, values[code].order
                    applied = await tally.applied_order(uow, measured_on)
                    if domain.is_stale(order, applied):
                        log.info("stale value ignored", indicator=code, order=order, applied=applied)
                        continue
                    domain.check_measurement(value)
                else:
                    value = previous + amounts[code]
                if cause.event_id in tally.counted:
                    continue
                tally.count(cause.event_id, value, value - previous, measured_on, moves, order)
                measurements.append(
                    {
                        "code": code,
                        "value": value,
                        "delta": value - previous,
                        "measured_on": measured_on,
                        "origin": "derived",
                        "source": f"{cause.source}:{cause.event_type}",
                        "source_event_id": cause.event_id,
                        "actor": system,
                        "order": order,
                    }
                )
                event = events.indicator_measured(
                    tally.indicator,
                    value=value,
                    previous=previous,
                    measured_on=measured_on,
                    origin="derived",
                    source_event_id=cause.event_id,
                )
                history.append(record_deferred(uow, event, context=Context.caused_by(cause)))
                made += 1
        if measurements:
            await uow.repo.add_measurements(measurements)
            for code, tally in tallies.items():
                if tally.moved or tally.order is not None:
                    await uow.repo.set_indicator(code, current_value=tally.moved, set_order=tally.order)
            await uow.repo.add_history_many(history)
    return made


class _Tally:
    """One indicator while a set of events is counted in it, under its lock: what each next
    measurement follows, as the database would answer after the previous one (the year's sum, the
    latest day, the orders applied), read once and then kept up to date here."""

    def __init__(self, indicator: Row, counted: set[uuid.UUID]) -> None:
        self.indicator = indicator
        self.code, self.period = indicator["code"], indicator["period"]
        self.counted = counted  # source events counted already: a replay past the inbox
        self._current: Decimal = indicator["current_value"]
        self._set_order: int | None = indicator["set_order"]
        self._year_sums: dict[int, Decimal] = {}
        self._year_orders: dict[int, int | None] = {}
        self._latest: tuple[date | None] | None = None  # read once (None: not yet)
        self.moved: Decimal | None = None  # the new current value, if it changed
        self.order: int | None = None  # the highest order applied here

    async def previous(self, uow: Uow, measured_on: date) -> tuple[Decimal, bool]:
        """The value a new measurement follows (a yearly indicator's: its year's count so far), and
        whether the measurement becomes the indicator's current value (``domain.moves_current``)."""
        if self.period != domain.YEARLY:
            return self._current, True
        year = measured_on.year
        if year not in self._year_sums:
            self._year_sums[year] = await uow.repo.sum_in_year(self.code, year)
        if self._latest is None:
            self._latest = (await uow.repo.latest_measured_on(self.code),)
        return self._year_sums[year], domain.moves_current(self.period, measured_on, self._latest[0])

    async def applied_order(self, uow: Uow, measured_on: date) -> int | None:
        """The order a set value must be above (``domain.is_stale``): the highest applied to the
        indicator, or, for a yearly one, to the measurement's year (``domain.orders_per_year``)."""
        if not domain.orders_per_year(self.period):
            return self._set_order
        year = measured_on.year
        if year not in self._year_orders:
            self._year_orders[year] = await uow.repo.set_order_in_year(self.code, year)
        return self._year_orders[year]

    def count(
        self, source: uuid.UUID, value: Decimal, delta: Decimal, measured_on: date, moves: bool, order: int | None
    ) -> None:
        """A measurement made: what the next one follows changes as the database's rows would."""
        self.counted.add(source)
        year = measured_on.year
        if year in self._year_sums:
            self._year_sums[year] += delta
        if self._latest is not None:
            self._latest = (measured_on if self._latest[0] is None else max(self._latest[0], measured_on),)
        if order is not None:
            self._set_order = order if self._set_order is None else max(self._set_order, order)
            self.order = order if self.order is None else max(self.order, order)
            applied = self._year_orders.get(year)
            self._year_orders[year] = order if applied is None else max(applied, order)
        if moves:
            self._current = self.moved = value


# --- event handlers: the consumer 'indicators' calls them with the batch's unit of work -----------
# Each event type's day of measurement; one set-wise handler counts them all, so that a batch of
# mixed deliveries, grants and label decisions is counted at once, in its order.


def _delivered_on(envelope: Envelope, data: DevicesDelivered) -> date:
    return data.delivered_on


def _awarded_on(envelope: Envelope, data: GrantAwarded) -> date:
    return data.awarded_on


def _decided_on(envelope: Envelope, data: EpnLabelStatusChanged) -> date:
    """The number of labelled EPNs after each label decision sets action 11's indicator (a set
    mapping ordered by ``register_version``): a withdrawal lowers it, which counting
    ``EpnLabelled`` never could."""
    return data.decided_on


def _coverage_day(envelope: Envelope, data: CadastreCoverageChanged) -> date:
    """The labelled EPNs with a complete line in the funding cadastre for ``data.year`` set that
    year's value of action 36's indicator (a set mapping ordered by ``coverage_version``, which
    numbers the figures across all years; the indicator is yearly, so each year keeps its own
    order). The figure is dated in its year: the day it was announced (in Brussels) if that falls
    in the year, else the year's nearest day (``domain.day_in_year``)."""
    return domain.day_in_year(data.year, envelope.occurred_at.astimezone(BRUSSELS).date())


def _return_day(envelope: Envelope, data: ActivityReturnSubmitted) -> date:
    """An EPN's quarterly activity return counts once in action 28's yearly indicator (the
    mapping's condition ``revision`` 1: a correction is the same return again). It counts in the
    year of the return, not of its sending: Q4's return comes in January and is dated 31 December
    of its year (``domain.day_in_year`` of the day it was announced, in Brussels)."""
    return domain.day_in_year(data.year, envelope.occurred_at.astimezone(BRUSSELS).date())


MEASURED_ON: dict[str, Callable[[Envelope, Any], date]] = {
    DevicesDelivered.event_type: _delivered_on,
    GrantAwarded.event_type: _awarded_on,
    EpnLabelStatusChanged.event_type: _decided_on,
    CadastreCoverageChanged.event_type: _coverage_day,
    ActivityReturnSubmitted.event_type: _return_day,
}


async def _count_derived(uow: Uow, items: Sequence[tuple[Envelope, Any]]) -> None:
    await record_derived_measurements_many(
        uow,
        [
            RecordDerivedMeasurements(
                envelope, data.model_dump(mode="json"), MEASURED_ON[envelope.event_type](envelope, data)
            )
            for envelope, data in items
        ],
    )


count_derived = SetWise(_count_derived)
count_devices_delivered = count_grant_awarded = count_labelled_epns = count_derived
measure_cadastre_coverage = count_activity_returns = count_derived
