"""Events published by the actions service (topic ``passerelle.actions.v1``).

Every event that changes something carries the changed fields with their old and new values
(``changes``), so a notification can say *what* changed.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .envelope import EventData

TOPIC = "passerelle.actions.v1"

ActionStatus = Literal["not_started", "planned", "in_progress", "on_hold", "completed", "abandoned"]
TrafficLight = Literal["on_track", "at_risk", "off_track"]
Public = Literal[
    "job-seekers",
    "young-people",
    "seniors",
    "people-with-disabilities",
    "precarious",
    "women",
    "civil-servants",
    "teachers",
    "general-public",
    "first-line-actors",
]


class FieldChange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    old: str | int | float | bool | None
    new: str | int | float | bool | None


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


EVENTS: tuple[type[EventData], ...] = (ActionRegistered, ActionStatusChanged, IndicatorMeasured)
