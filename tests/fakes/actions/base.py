"""The fake's tables, shared by its parts as the database's are by the SQL's, and what they
have in common: fresh dicts out, JSON columns through a JSON round trip, ids that only grow."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.actions.sql import Row

ACTION_COLUMNS = (
    "number",
    "chantier",
    "axis",
    "title_fr",
    "title_nl",
    "text_fr",
    "lead",
    "partners",
    "publics",
    "status",
    "traffic_light",
    "status_note",
    "progress",
    "progress_mode",
    "weight",
    "version",
    "updated_at",
)
INDICATOR_COLUMNS = (
    "code",
    "action_number",
    "name_fr",
    "name_nl",
    "unit",
    "baseline",
    "target",
    "period",
    "current_value",
)
MEASUREMENT_COLUMNS = (
    "external_id",
    "indicator_code",
    "value",
    "delta",
    "measured_on",
    "origin",
    "source",
    "source_event_id",
    "recorded_at",
)
ORGANISATION_COLUMNS = ("code", "name", "kind", "working_group", "copil")  # as listed; the row keeps its source too
HISTORY_COLUMNS = ("event_id", "event_type", "changes", "actor", "occurred_at")
MEETING_COLUMNS = (
    "id",
    "kind",
    "status",
    "starts_at",
    "ends_at",
    "location",
    "agenda",
    "invited",
    "held_on",
    "attendees",
    "absent",
    "minutes",
    "cancellation_reason",
    "recorded_at",
    "updated_at",
)
CENT = Decimal("0.01")


def now() -> datetime:
    return datetime.now(UTC)


def jsonb(value: Any) -> Any:
    """What a jsonb column gives back."""
    return json.loads(json.dumps(value))


def pick(row: Row, columns: Iterable[str]) -> Row:
    return {c: copy.deepcopy(row[c]) for c in columns}


class FakeTables:
    def __init__(self) -> None:
        self.organisations_: dict[str, Row] = {}
        self.axes: dict[int, Row] = {}
        self.chantiers: dict[int, Row] = {}
        self.actions: dict[int, Row] = {}
        self.history_: list[Row] = []
        self.indicators_: dict[str, Row] = {}
        self.mappings: list[Row] = []
        self.measurements_: list[Row] = []
        self.milestones_: dict[uuid.UUID, Row] = {}
        self.reports: dict[uuid.UUID, Row] = {}
        self.meetings_: dict[uuid.UUID, Row] = {}
        self.decisions: list[Row] = []
        self.annual_reports_: dict[str, Row] = {}
        self.files: dict[tuple[str, str], tuple[str, bytes]] = {}
        self.seed_locks = 0
        self._last_id = 0  # bigserial: ids only grow

    def _next_id(self) -> int:
        self._last_id += 1
        return self._last_id
