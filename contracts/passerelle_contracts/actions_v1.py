"""Events published by the actions service (topic ``passerelle.actions.v1``).

Every event that changes something carries the changed fields with their old and new values
(``changes``), so a notification can say *what* changed.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# The shared vocabulary is defined in ``common``; these names stay importable from here because
# partners' code imports them from ``actions_v1`` (a public module): re-exports, not copies.
from .common import ActionStatus as ActionStatus
from .common import FieldChange as FieldChange
from .common import MeetingKind as MeetingKind
from .common import ProgressMode
from .common import Public as Public
from .common import ReportStatus as ReportStatus
from .common import TrafficLight as TrafficLight
from .envelope import EventData

TOPIC = "passerelle.actions.v1"


class ActionRegistered(EventData):
    """An action of the plan was loaded into Passerelle (once per action)."""

    event_type = "ActionRegistered"
    topic = TOPIC

    action_number: int = Field(ge=1, le=66)
    axis: int = Field(ge=1, le=4)
    chantier: int = Field(ge=1, le=17)
    title_fr: str
    title_nl: str = ""
    lead: str = Field(description="Lead organisation code.")
    partners: list[str] = []
    publics: list[Public] = []
    status: ActionStatus = "not_started"


class ActionStatusChanged(EventData):
    """An action's status, traffic light or status note changed."""

    event_type = "ActionStatusChanged"
    topic = TOPIC

    action_number: int = Field(ge=1, le=66)
    title_fr: str
    title_nl: str = ""
    status: ActionStatus
    previous_status: ActionStatus
    traffic_light: TrafficLight | None = None
    note: str = ""
    changes: list[FieldChange]


class IndicatorMeasured(EventData):
    """A new measurement of an action's indicator, entered by a person or derived from an event."""

    event_type = "IndicatorMeasured"
    topic = TOPIC

    action_number: int = Field(ge=1, le=66)
    indicator_code: str
    indicator_name_fr: str
    indicator_name_nl: str = ""
    unit: str
    value: float = Field(description="The indicator's value after this measurement.")
    previous_value: float
    target: float | None = None
    measured_on: date
    origin: Literal["manual", "derived"]
    source_event_id: str | None = Field(default=None, description="The event a derived measurement came from.")
    changes: list[FieldChange]


class ActionDetailsChanged(EventData):
    """Descriptive fields of an action changed (titles, lead, partners, publics, roll-up weight)."""

    event_type = "ActionDetailsChanged"
    topic = TOPIC

    action_number: int = Field(ge=1, le=66)
    title_fr: str
    changes: list[FieldChange]


class ActionProgressUpdated(EventData):
    """An action's progress (0-100 %) changed: set by its owner, or derived from its milestones."""

    event_type = "ActionProgressUpdated"
    topic = TOPIC

    action_number: int = Field(ge=1, le=66)
    title_fr: str
    progress: float = Field(ge=0, le=100)
    previous_progress: float = Field(ge=0, le=100)
    mode: ProgressMode
    changes: list[FieldChange]


class _MilestoneEvent(EventData):
    action_number: int = Field(ge=1, le=66)
    milestone_id: str
    title_fr: str
    title_nl: str = ""
    planned_on: date


class MilestonePlanned(_MilestoneEvent):
    """A milestone was planned, or its planned date or title changed."""

    event_type = "MilestonePlanned"
    topic = TOPIC

    changes: list[FieldChange]


class MilestoneReached(_MilestoneEvent):
    event_type = "MilestoneReached"
    topic = TOPIC

    reached_on: date
    changes: list[FieldChange]


class MilestoneOverdue(_MilestoneEvent):
    """A milestone passed its planned date without being reached (announced once)."""

    event_type = "MilestoneOverdue"
    topic = TOPIC

    as_of: date
    days_overdue: int = Field(ge=1)


class IndicatorDefined(EventData):
    """An indicator was defined for an action, or its definition changed."""

    event_type = "IndicatorDefined"
    topic = TOPIC

    action_number: int = Field(ge=1, le=66)
    indicator_code: str
    name_fr: str
    name_nl: str = ""
    unit: str
    baseline: float
    target: float | None = None
    period: str = ""
    changes: list[FieldChange]


class _ReportEvent(EventData):
    action_number: int = Field(ge=1, le=66)
    report_id: str
    period: str = Field(description="The period reported on, e.g. '2024' or '2024-S1'.")
    status: ReportStatus
    previous_status: ReportStatus
    comment: str = ""
    changes: list[FieldChange]


class ReportSubmitted(_ReportEvent):
    """An action's progress report was submitted for approval."""

    event_type = "ReportSubmitted"
    topic = TOPIC


class ReportApproved(_ReportEvent):
    event_type = "ReportApproved"
    topic = TOPIC


class ReportReturned(_ReportEvent):
    """A report was returned to its owner with a comment."""

    event_type = "ReportReturned"
    topic = TOPIC


class AgendaItem(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    action_number: int | None = Field(default=None, ge=1, le=66)
    title: str


class _PlannedMeeting(EventData):
    meeting_id: str
    kind: MeetingKind
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    location: str = Field(
        max_length=300, description="A room's address, or 'online' with the link sent by the Coordination."
    )
    agenda: list[AgendaItem]
    invited: list[str] = Field(
        default_factory=list,
        description="Organisations invited besides the members of the Working Group or of the COPIL (codes).",
    )


class MeetingScheduled(_PlannedMeeting):
    """A Working Group or COPIL meeting was scheduled: the facts of its convocation. The members are
    organisations; notifications tells their contacts (events name no person)."""

    event_type = "MeetingScheduled"
    topic = TOPIC


class MeetingRescheduled(_PlannedMeeting):
    """A scheduled meeting's date, place, agenda or guests changed (``changes`` says which)."""

    event_type = "MeetingRescheduled"
    topic = TOPIC

    changes: list[FieldChange]


class MeetingCancelled(EventData):
    """A scheduled meeting will not be held."""

    event_type = "MeetingCancelled"
    topic = TOPIC

    meeting_id: str
    kind: MeetingKind
    starts_at: AwareDatetime
    reason: str = Field(default="", max_length=1000)
    invited: list[str] = Field(
        default_factory=list, description="The guests the convocation invited: they are told too (codes)."
    )


class MeetingHeld(EventData):
    """A Working Group or COPIL meeting was held (attendees are organisations). A meeting scheduled
    in Passerelle keeps its ``meeting_id``; ``absent`` are the organisations convened (members and
    guests) that did not attend, and ``minutes`` the summary the Coordination wrote."""

    event_type = "MeetingHeld"
    topic = TOPIC

    meeting_id: str
    kind: MeetingKind
    held_on: date
    attendees: list[str]
    agenda: list[AgendaItem]
    absent: list[str] = Field(default_factory=list)
    minutes: str = Field(default="", max_length=10_000)


class DecisionRecorded(EventData):
    """A meeting's decision was recorded as an outcome on an action."""

    event_type = "DecisionRecorded"
    topic = TOPIC

    meeting_id: str
    meeting_kind: MeetingKind
    held_on: date
    action_number: int = Field(ge=1, le=66)
    decision: str


class AnnualReportPublished(EventData):
    """The annual report to the Government (action 20) was published."""

    event_type = "AnnualReportPublished"
    topic = TOPIC

    report_id: str
    year: int
    as_of: date
    actions: int
    by_status: dict[ActionStatus, int]
    files: dict[str, str] = Field(description="File name -> SHA-256 of its content.")


EVENTS: tuple[type[EventData], ...] = (
    ActionRegistered,
    ActionStatusChanged,
    IndicatorMeasured,
    ActionDetailsChanged,
    ActionProgressUpdated,
    MilestonePlanned,
    MilestoneReached,
    MilestoneOverdue,
    IndicatorDefined,
    ReportSubmitted,
    ReportApproved,
    ReportReturned,
    MeetingHeld,
    DecisionRecorded,
    AnnualReportPublished,
    MeetingScheduled,
    MeetingRescheduled,
    MeetingCancelled,
)
