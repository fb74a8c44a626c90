"""The actions domain, without I/O: statuses and their transitions, the rule that turns
another service's event into indicator measurements, and which organisations the EPN register
may write. Meetings are ``domain.meetings``."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from passerelle_contracts.common import FieldChange

from services.runtime.errors import Conflict, Forbidden, Invalid

# Allowed moves. A completed action can be reopened, an abandoned one revived as planned;
# nothing goes back to "not started" once work was planned.
TRANSITIONS: dict[str, frozenset[str]] = {
    "not_started": frozenset({"planned", "in_progress", "abandoned"}),
    "planned": frozenset({"in_progress", "on_hold", "abandoned"}),
    "in_progress": frozenset({"on_hold", "completed", "abandoned"}),
    "on_hold": frozenset({"in_progress", "planned", "abandoned"}),
    "completed": frozenset({"in_progress"}),
    "abandoned": frozenset({"planned"}),
}


class InvalidTransition(Conflict):
    code = "invalid-transition"


@dataclass(frozen=True)
class ActionState:
    number: int
    lead: str
    status: str
    traffic_light: str | None
    status_note: str


def authorise_update(role: str, organisation: str, action: ActionState) -> None:
    """The Coordination administers every action; an owner organisation updates its own."""
    if role == "coordination":
        return
    if role == "owner" and organisation == action.lead:
        return
    raise Forbidden(f"{organisation} ({role}) may not update action {action.number}, led by {action.lead}")


def change_status(action: ActionState, status: str, traffic_light: str | None, note: str) -> list[FieldChange]:
    """The fields that change; raises InvalidTransition with the allowed moves."""
    if status != action.status and status not in TRANSITIONS[action.status]:
        allowed = ", ".join(sorted(TRANSITIONS[action.status])) or "none"
        raise InvalidTransition(
            f"action {action.number} cannot go from {action.status} to {status} (allowed: {allowed})"
        )
    changes = [
        FieldChange(field=name, old=old, new=new)
        for name, old, new in (
            ("status", action.status, status),
            ("traffic_light", action.traffic_light, traffic_light),
            ("status_note", action.status_note, note),
        )
        if old != new
    ]
    if not changes:
        raise Conflict(f"action {action.number} is already {status} with that traffic light and note")
    return changes


MappingMode = Literal["add", "set"]
MAPPING_MODES: tuple[MappingMode, ...] = ("add", "set")


@dataclass(frozen=True)
class IndicatorMapping:
    """An event of ``event_type`` whose payload matches ``conditions`` adds ``amount`` to an
    indicator (``mode`` "add"), or sets the indicator to it (``mode`` "set").

    ``conditions`` maps a payload field to the values that match. An add mapping's ``amount`` is
    ``"count"`` (one per event), the name of a numeric payload field, or a path into a mapping
    field (``"devices.tablet"``: the tablets of a delivery; none there adds nothing): events that
    each bring something new (a delivery, a grant) add up.

    A set mapping's ``amount`` names a payload field that already holds the figure (the number of
    labelled EPNs after a decision): a figure another service keeps goes down as well as up (a
    label withdrawn), which adding can never follow. Its ``order`` names the payload field that
    numbers those figures (``register_version``): events keyed per subject may be read out of
    order, so a value whose order is not above the last one applied to the indicator is stale and
    ignored (``is_stale``), and a replay, whose order was applied already, changes nothing.
    """

    event_type: str
    conditions: dict[str, list[Any]]
    indicator_code: str
    amount: str
    mode: MappingMode = "add"
    order: str | None = None

    def __post_init__(self) -> None:
        # The seed builds every mapping before loading it (``handlers.plan``): refused at the start, not at an event.
        where = f"mapping {self.event_type} -> {self.indicator_code}"
        if self.mode not in MAPPING_MODES:
            raise ValueError(f"{where}: mode must be one of {', '.join(MAPPING_MODES)}, not {self.mode!r}")
        if self.mode == "set" and (self.amount == "count" or "." in self.amount):
            # A missing key of a path reads as 0: set, it would empty the indicator silently.
            raise ValueError(f"{where}: a set mapping names the payload field holding the value, not {self.amount!r}")
        if self.mode == "add" and self.order is not None:
            raise ValueError(f"{where}: only a set mapping has an order (added amounts never go stale)")

    def matches(self, event_type: str, payload: dict[str, Any]) -> bool:
        return event_type == self.event_type and all(payload.get(f) in values for f, values in self.conditions.items())

    def amount_of(self, payload: dict[str, Any]) -> Decimal:
        if self.amount == "count":
            return Decimal(1)
        if "." in self.amount:
            field, key = self.amount.split(".", 1)
            counts = payload.get(field)
            if not isinstance(counts, dict):
                raise ValueError(f"mapping to {self.indicator_code} needs field {field!r}, absent from the event")
            return Decimal(str(counts.get(key, 0)))
        value = payload.get(self.amount)
        if value is None:
            raise ValueError(f"mapping to {self.indicator_code} needs field {self.amount!r}, absent from the event")
        return Decimal(str(value))

    def order_of(self, payload: dict[str, Any]) -> int | None:
        """The sequence number of a set mapping's value (None: the mapping has no order)."""
        if self.order is None:
            return None
        value = payload.get(self.order)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(
                f"mapping to {self.indicator_code} needs an integer field {self.order!r}, not {value!r} in the event"
            )
        return value


def check_mappings(mappings: list[IndicatorMapping], retired: Collection[str] = ()) -> None:
    """An indicator is either added to or set by events, never both: an amount added to a figure
    that the next set replaces would be lost, or counted twice on top of it. A retired indicator
    (the seed's ``"retired"``) is fed by nothing any more: its history stays as it was."""
    modes: dict[str, set[str]] = {}
    for mapping in mappings:
        modes.setdefault(mapping.indicator_code, set()).add(mapping.mode)
    mixed = sorted(code for code, found in modes.items() if len(found) > 1)
    if mixed:
        raise ValueError(f"indicators both added to and set by events: {', '.join(mixed)}")
    if fed := sorted(modes.keys() & set(retired)):
        raise ValueError(f"retired indicators still fed by a mapping: {', '.join(fed)}")


@dataclass(frozen=True)
class SetValue:
    """What a set mapping makes of an event: the indicator's new value, and its order (if any)."""

    value: Decimal
    order: int | None


MAX_MEASURE = Decimal(10**12)  # as ``services.runtime.inputs.Measure``
YEARLY = "yearly"
"""The period of an indicator whose count restarts each calendar year (e.g. meetings a year)."""


def moves_current(period: str, measured_on: date, latest_on: date | None) -> bool:
    """Whether a new measurement becomes the indicator's current value.

    A yearly indicator's value is per year, and its current value is its latest year's: a
    measurement of an earlier year (a meeting recorded late) counts in that year only. Any other
    indicator takes each new measurement (counted ones add up; see ``check_measurement``)."""
    if period != YEARLY or latest_on is None:
        return True
    return measured_on.year >= latest_on.year


def check_measurement(value: Decimal) -> None:
    """An indicator's value is a count, an amount or a share: a finite number, never negative."""
    if not value.is_finite():
        raise Invalid(f"a measurement must be a number, not {value}")
    if value < 0:
        raise Invalid(f"a measurement cannot be negative ({value}): indicators count things")
    if value > MAX_MEASURE:
        raise Invalid(f"a measurement is at most {MAX_MEASURE:,}, not {value}")


def derived_amounts(mappings: list[IndicatorMapping], event_type: str, payload: dict[str, Any]) -> dict[str, Decimal]:
    """Indicator code -> amount to add, for every add mapping the event matches."""
    amounts: dict[str, Decimal] = {}
    for mapping in mappings:
        if mapping.mode != "add":
            continue
        if mapping.matches(event_type, payload) and (amount := mapping.amount_of(payload)):
            amounts[mapping.indicator_code] = amounts.get(mapping.indicator_code, Decimal(0)) + amount
    return amounts


def derived_values(mappings: list[IndicatorMapping], event_type: str, payload: dict[str, Any]) -> dict[str, SetValue]:
    """Indicator code -> the value to set it to, for every set mapping the event matches.

    Unlike an amount, a value of 0 is a value (the last label withdrawn). Two set mappings giving
    one indicator two values from one event have no right answer: refused."""
    values: dict[str, SetValue] = {}
    for mapping in mappings:
        if mapping.mode != "set" or not mapping.matches(event_type, payload):
            continue
        found = SetValue(mapping.amount_of(payload), mapping.order_of(payload))
        if values.get(mapping.indicator_code, found) != found:
            raise ValueError(f"{event_type} sets {mapping.indicator_code} to two values by two mappings")
        values[mapping.indicator_code] = found
    return values


def is_stale(order: int | None, applied: int | None) -> bool:
    """Whether a set value comes too late: its order is not above the last one applied to the
    indicator (to its year, for a yearly indicator: ``orders_per_year``). An older figure read
    after a newer one (another subject's partition was behind) would move the indicator back in
    time; the same figure replayed would do nothing useful. A value without an order, or the
    first with one, is never stale."""
    return order is not None and applied is not None and order <= applied


def orders_per_year(period: str) -> bool:
    """Whether a set value is compared with the orders applied to its own year only.

    A yearly indicator holds one figure per calendar year, and a producer may number its figures
    across all years (``CadastreCoverageChanged.coverage_version``): 2025's figure at version 9,
    read after 2026's at version 10, is still the only figure for 2025, not a stale one. Any other
    indicator holds one figure, and keeps one order."""
    return period == YEARLY


def day_in_year(year: int, day: date) -> date:
    """The day a figure about a calendar ``year``, announced on ``day``, is measured on: that day
    if it falls in the year, else the year's nearest day (31 December of an earlier year, 1 January
    of a later one). A yearly indicator counts a measurement in the year of its day (``moves_current``,
    ``orders_per_year``), so a figure about 2025 announced in 2026 must be dated in 2025."""
    if year < day.year:
        return date(year, 12, 31)
    if year > day.year:
        return date(year, 1, 1)
    return day


# --- progress ---------------------------------------------------------------------------------

ROLLUP_RULE = (
    "The progress of a chantier is the average of its actions' progress weighted by each action's "
    "weight (1 unless the Coordination sets another); the progress of an axis is the same weighted "
    "average over all the actions of its chantiers. An action's progress is set by its owner, or, "
    "in 'milestones' mode, is the share of its milestones reached."
)


def progress_from_milestones(total: int, reached: int) -> Decimal:
    if total == 0:
        return Decimal(0)
    return (Decimal(100) * reached / total).quantize(Decimal("0.01"))


def weighted_average(items: list[tuple[Decimal, Decimal]]) -> Decimal:
    """(progress, weight) pairs -> weighted average, 0 for none."""
    total = sum((w for _, w in items), Decimal(0))
    if total == 0:
        return Decimal(0)
    return (sum((p * w for p, w in items), Decimal(0)) / total).quantize(Decimal("0.01"))


def rollup(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Axes, each with its chantiers, each with its actions' progress and weight: chantier and axis
    progress by ``ROLLUP_RULE``. ``actions``: dicts with axis, chantier, number, progress, weight,
    ordered by number."""
    axes: dict[int, dict[int, list[dict[str, Any]]]] = {}
    for a in actions:
        axes.setdefault(a["axis"], {}).setdefault(a["chantier"], []).append(
            {"number": a["number"], "progress": float(a["progress"]), "weight": float(a["weight"])}
        )

    def average(items: list[dict[str, Any]]) -> float:
        return float(weighted_average([(Decimal(str(i["progress"])), Decimal(str(i["weight"]))) for i in items]))

    out = []
    for axis, chantiers in axes.items():
        lines = [{"number": n, "actions": items, "progress": average(items)} for n, items in chantiers.items()]
        every = [i for items in chantiers.values() for i in items]
        out.append({"number": axis, "progress": average(every), "chantiers": lines})
    return out


def check_progress(value: Decimal) -> None:
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(100):
        raise Conflict(f"progress must be between 0 and 100, not {value}")


# --- progress reports ---------------------------------------------------------------------------

REPORT_TRANSITIONS: dict[str, dict[str, str]] = {
    # status -> {verb: new status}
    "draft": {"submit": "submitted"},
    "returned": {"submit": "submitted"},
    "submitted": {"approve": "approved", "return": "returned"},
    "approved": {},
}
REPORT_EDITABLE = frozenset({"draft", "returned"})
REPORT_EVENT_TYPES = frozenset({"ReportSubmitted", "ReportApproved", "ReportReturned"})
"""The events a report moves with (``events.REPORT_EVENTS``): in an action's history, each is read
as the report itself is (``report_reader``)."""
READ_EVERY_REPORT = frozenset({"coordination", "operator"})


def report_reader(role: str, organisation: str) -> str | None:
    """Whose progress reports a reader sees beyond the approved ones (and their moves in the
    history and in what changed): None for every action's (the Coordination and operators), else
    the organisation's, whose key reads the reports of the actions it leads or is a partner of."""
    return None if role in READ_EVERY_REPORT else organisation


def report_transition(report_id: str, status: str, verb: str) -> str:
    moves = REPORT_TRANSITIONS[status]
    if verb not in moves:
        allowed = ", ".join(sorted(moves)) or "none"
        raise InvalidTransition(f"report {report_id} is {status}: cannot {verb} it (allowed: {allowed})")
    return moves[verb]


def authorise_report(verb: str, role: str, organisation: str, action: ActionState) -> None:
    """Owners write and submit their reports; only the Coordination approves or returns them."""
    if verb in ("approve", "return"):
        if role != "coordination":
            raise Forbidden(f"only the Coordination may {verb} a report, not {organisation} ({role})")
        return
    authorise_update(role, organisation, action)


# --- milestones -------------------------------------------------------------------------------


MilestoneState = Literal["reached", "overdue", "planned"]


def milestone_state(planned_on: date, reached_on: date | None, as_of: date) -> MilestoneState:
    """A milestone as of a date: reached by then, past its date without being reached, or ahead."""
    if reached_on is not None and reached_on <= as_of:
        return "reached"
    return "overdue" if planned_on < as_of else "planned"


# --- organisations learned from the EPN register ----------------------------------------------
#
# The plan's organisations come from its seed (``seed/plan.json``, loaded again at every start);
# the EPNs come from the funding service's register (``EpnRegistered``, ``EpnDetailsChanged``), so
# that an EPN can lead or partner an action and attend a meeting like any organisation. Each row
# says where it comes from (``source``, migration 0006), and each writer keeps to its rows:
#
# * The register writes only organisations of kind ``epn``: it creates the EPNs it announces and
#   renames them, and adopts a seeded row of kind ``epn`` under the same code. A row of another kind
#   under that code (the network ``epn``, a public body) is *another organisation*: renaming it, or
#   making it an EPN, would change the lead, partners and attendees of the actions and meetings that
#   name it. The event is refused instead (``EpnCodeTaken``), so the consumer retries it and then
#   dead-letters it with that reason; a person resolves the clash (the register's code, or the
#   seed's), then replays the dead letter.
# * The seed's reload at start leaves the register's rows as they are (``sql/plan.py``): the seed
#   knows nothing of the register's names, and would otherwise undo them at every start.
#
# The register's other details (operator, address, hours, label …) are the funding service's;
# actions keeps an EPN's code, name and kind. A label decision changes nothing here: a withdrawn
# EPN still leads, partners or attended what it did.

EPN_KIND = "epn"
ORGANISATION_SOURCES = ("seed", "register")  # migration 0006's CHECK


class EpnCodeTaken(Conflict):
    """The register announced an EPN under a code that is another kind of organisation here."""


def register_name(epn: str, value: Any) -> str:
    """An EPN's name from the register: a non-empty text, or the event is refused (actions and
    meetings name the organisation by it)."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"EPN {epn}: epn_name must be a non-empty text, not {value!r}")
    return value


def code_taken(epn: str, existing: Mapping[str, Any]) -> EpnCodeTaken:
    """Why the register may not write ``epn``: the code is ``existing``, another kind of organisation."""
    return EpnCodeTaken(
        f"the EPN register's code {epn} is already the organisation {existing['name']!r} of kind "
        f"{existing['kind']} here, not an EPN: left as it is (register the EPN under another code, "
        "or change that organisation in the plan's seed, then replay this dead letter)"
    )


def register_may_write(epn: str, existing: Mapping[str, Any]) -> None:
    """The register may write ``epn``'s row: it is an EPN's, whoever wrote it."""
    if existing["kind"] != EPN_KIND:
        raise code_taken(epn, existing)


def register_rename(epn: str, changes: Iterable[FieldChange]) -> str | None:
    """Of an ``EpnDetailsChanged``, the EPN's new name (none if its name did not change: the
    register's other details are not kept here)."""
    name = None
    for change in changes:
        if change.field == "epn_name":
            name = register_name(epn, change.new)
    return name
