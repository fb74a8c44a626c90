"""The annual report to the Government (action 20) as plain data: what ``report.assembly`` folds
from the history "as of" a cut-off date, and what ``report.html_render`` and ``report.files`` turn into
HTML, PDF and CSV. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from ..domain import MilestoneState


@dataclass(frozen=True)
class IndicatorLine:
    code: str
    name_fr: str
    name_nl: str
    unit: str  # "devices", "grants", "meetings", "EPN", or free text
    baseline: float
    target: float | None
    value: float  # as of the cut-off date
    value_at_start_of_year: float  # as of the day before 1 January of the report's year
    period: str


@dataclass(frozen=True)
class MilestoneLine:
    title_fr: str
    title_nl: str
    planned_on: date
    reached_on: date | None
    state: MilestoneState  # as of the cut-off date


@dataclass(frozen=True)
class Change:
    """One change during the year, from the history: field, old and new value."""

    occurred_on: date
    event_type: str  # e.g. "ActionStatusChanged", "IndicatorMeasured", "MilestoneReached"
    field: str
    old: str | float | int | bool | None
    new: str | float | int | bool | None


@dataclass(frozen=True)
class ActionLine:
    number: int
    title_fr: str
    title_nl: str
    lead: str  # organisation name
    partners: tuple[str, ...]  # organisation names
    status: str  # not_started | planned | in_progress | on_hold | completed | abandoned
    traffic_light: str | None  # on_track | at_risk | off_track | None
    status_note: str
    progress: float  # 0-100
    indicators: tuple[IndicatorLine, ...] = ()
    milestones: tuple[MilestoneLine, ...] = ()
    changes: tuple[Change, ...] = ()  # during the report's year, oldest first
    decisions: tuple[str, ...] = ()  # governance decisions recorded on the action during the year


@dataclass(frozen=True)
class ChantierLine:
    number: int
    title_fr: str
    title_nl: str
    progress: float
    actions: tuple[ActionLine, ...]


@dataclass(frozen=True)
class AxisLine:
    number: int
    title_fr: str
    title_nl: str
    progress: float
    chantiers: tuple[ChantierLine, ...]


@dataclass(frozen=True)
class MeetingLine:
    held_on: date
    kind: str  # working_group | copil
    attendees: int
    decisions: int


@dataclass(frozen=True)
class AnnualReport:
    year: int
    as_of: date
    generated_at: datetime
    plan_title_fr: str
    plan_title_nl: str
    rollup_rule: str  # how chantier and axis progress is computed, in words (English, for the appendix)
    axes: tuple[AxisLine, ...]
    meetings: tuple[MeetingLine, ...] = ()
    by_status: dict[str, int] = field(default_factory=dict)

    def actions(self) -> list[ActionLine]:
        return [a for axis in self.axes for c in axis.chantiers for a in c.actions]


def percent_of_target(indicator: IndicatorLine) -> float | None:
    """The value as a share of the target (value / target × 100), None without a positive target."""
    if indicator.target is None or indicator.target <= 0:
        return None
    return indicator.value / indicator.target * 100
