"""HTTP API: the plan's actions, their status, details and progress, and their indicators.

The plan, its indicators and aggregate figures are public; who changed what (an action's
history) and each measurement (with its source and external id) are read with a key. A progress
report's moves in the history are read as the report is (``domain.report_reader``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Query
from passerelle_contracts import Actor, Envelope
from passerelle_contracts.common import ActionStatus, ProgressMode, Public, TrafficLight
from pydantic import BaseModel, Field

from services.runtime.auth import require
from services.runtime.errors import NotFound
from services.runtime.http import api_router, repository, unit_of_work
from services.runtime.inputs import Code, Happened, Measure, Percent

from .. import domain
from ..handlers.actions import (
    ChangeDetails,
    ChangeStatus,
    UpdateProgress,
    change_details,
    change_status,
    update_progress,
)
from ..handlers.aggregate import Uow
from ..handlers.indicators import DefineIndicator, RecordMeasurement, define_indicator, record_measurement
from ..inputs import (
    MAX_ORGANISATIONS,
    PUBLICS,
    ActionInPath,
    ExternalId,
    IndicatorInPath,
    OptionalTitle,
    Period,
    Source,
    StatusNote,
    Title,
    Unit,
    Weight,
)
from ..sql import ActionsRepository, Row

router = api_router(tags=["actions"])
Writer = Depends(unit_of_work("coordination", "owner"))


class ActionOut(BaseModel):
    number: int
    axis: int
    chantier: int
    title_fr: str
    title_nl: str
    text_fr: str
    lead: str
    partners: list[str]
    publics: list[str]
    status: ActionStatus
    traffic_light: TrafficLight | None
    status_note: str
    progress: float
    progress_mode: ProgressMode
    weight: float
    version: int
    updated_at: datetime


class HistoryEntry(BaseModel):
    event_id: uuid.UUID
    event_type: str
    changes: list[dict[str, Any]]
    actor: dict[str, Any]
    occurred_at: datetime


class ActionDetail(ActionOut):
    indicators: list[dict[str, Any]]


class StatusChange(BaseModel):
    status: ActionStatus
    traffic_light: TrafficLight | None = None
    note: StatusNote = ""


class StatusChanged(BaseModel):
    event_id: uuid.UUID
    action: ActionOut


class DetailsChange(BaseModel):
    """Only the fields given change."""

    title_fr: Title | None = None
    title_nl: OptionalTitle | None = None
    lead: Code | None = None
    partners: Annotated[list[Code], Field(max_length=MAX_ORGANISATIONS)] | None = None
    publics: Annotated[list[Public], Field(max_length=len(PUBLICS))] | None = None
    weight: Weight | None = None


class ProgressChange(BaseModel):
    mode: ProgressMode = "manual"
    progress: Percent | None = Field(default=None, description="Required in manual mode")


class IndicatorIn(BaseModel):
    name_fr: Title
    name_nl: OptionalTitle = ""
    unit: Unit
    baseline: Measure = Decimal(0)
    target: Measure | None = None
    period: Period = ""


class MeasurementIn(BaseModel):
    """A figure typed by a person, for an indicator no event feeds (an indicator counted from
    events refuses it with 409). For a yearly indicator, the count of ``measured_on``'s year."""

    value: Measure
    measured_on: Happened
    source: Source = ""
    external_id: ExternalId | None = None


class Outcome(BaseModel):
    """What a command did: the event it published, or none when nothing changed."""

    event_id: uuid.UUID | None
    changed: bool


def _outcome(envelope: Envelope | None) -> dict[str, Any]:
    return {"event_id": envelope.event_id if envelope else None, "changed": envelope is not None}


def _indicator(row: Row) -> dict[str, Any]:
    """Numeric columns as JSON numbers (they are NUMERIC in the database)."""
    return {
        k: float(v) if k in ("baseline", "target", "current_value") and v is not None else v for k, v in row.items()
    }


@router.get(
    "/organisations",
    summary="The plan's organisations and the EPN register's EPNs, with their Working Group and COPIL membership",
)
async def list_organisations(repo: ActionsRepository = Depends(repository)) -> list[dict[str, Any]]:
    """The plan's seed names the organisations that lead, partner or attend; the EPNs (kind
    ``epn``) come from the funding service's register and may do the same."""
    return await repo.organisations()


@router.get("/actions", response_model=list[ActionOut], summary="List and filter the plan's actions")
async def list_actions(
    axis: int | None = Query(None, ge=1, le=4),
    chantier: int | None = Query(None, ge=1, le=17),
    organisation: Code | None = Query(None, description="Lead or partner organisation code"),
    status: ActionStatus | None = None,
    public: Public | None = None,
    repo: ActionsRepository = Depends(repository),
) -> list[dict[str, Any]]:
    return await repo.list_actions(
        axis=axis, chantier=chantier, organisation=organisation, status=status, public=public
    )


@router.get("/actions/{number}", response_model=ActionDetail, summary="One action with its indicators")
async def get_action(number: ActionInPath, repo: ActionsRepository = Depends(repository)) -> dict[str, Any]:
    action = await repo.get_action(number)
    if action is None:
        raise NotFound(f"no action {number}; the plan has actions 1 to 66")
    indicators = [_indicator(i) for i in await repo.indicators(number)]
    return {**action, "indicators": indicators}


@router.get(
    "/actions/{number}/history",
    response_model=list[HistoryEntry],
    summary="Who changed what in an action, and when",
)
async def get_history(
    number: ActionInPath, reader: Actor = Depends(require()), repo: ActionsRepository = Depends(repository)
) -> list[Row]:
    if await repo.get_action(number) is None:
        raise NotFound(f"no action {number}; the plan has actions 1 to 66")
    return await repo.history(number, domain.report_reader(reader.role, reader.organisation))


@router.post(
    "/actions/{number}/status",
    response_model=StatusChanged,
    summary="Change an action's status, traffic light and note",
    responses={404: {"description": "No such action"}, 409: {"description": "Transition not allowed"}},
)
async def post_status(number: ActionInPath, body: StatusChange, uow: Uow = Writer) -> dict[str, Any]:
    envelope = await change_status(uow, ChangeStatus(number, body.status, body.traffic_light, body.note))
    return {"event_id": envelope.event_id, "action": await uow.repo.get_action(number)}


@router.patch(
    "/actions/{number}", response_model=Outcome, summary="Edit an action's titles, lead, partners, publics or weight"
)
async def patch_action(
    number: ActionInPath, body: DetailsChange, uow: Uow = Depends(unit_of_work("coordination"))
) -> dict[str, Any]:
    return _outcome(await change_details(uow, ChangeDetails(number, body.model_dump(exclude_none=True))))


@router.post("/actions/{number}/progress", response_model=Outcome, summary="Set progress, or derive it from milestones")
async def post_progress(number: ActionInPath, body: ProgressChange, uow: Uow = Writer) -> dict[str, Any]:
    return _outcome(await update_progress(uow, UpdateProgress(number, body.progress, body.mode)))


@router.get("/indicators", summary="Every indicator with its current value")
async def list_indicators(
    action: int | None = Query(None, ge=1, le=66), repo: ActionsRepository = Depends(repository)
) -> list[dict[str, Any]]:
    return [_indicator(r) for r in await repo.indicators(action)]


@router.put("/actions/{number}/indicators/{code}", response_model=Outcome, summary="Define an indicator or change it")
async def put_indicator(
    number: ActionInPath, code: IndicatorInPath, body: IndicatorIn, uow: Uow = Writer
) -> dict[str, Any]:
    return _outcome(await define_indicator(uow, DefineIndicator(code=code, action_number=number, **body.model_dump())))


@router.post("/indicators/{code}/measurements", response_model=Outcome, status_code=201, summary="Record a measurement")
async def post_measurement(code: IndicatorInPath, body: MeasurementIn, uow: Uow = Writer) -> dict[str, Any]:
    command = RecordMeasurement(code, body.value, body.measured_on, body.source, body.external_id)
    return _outcome(await record_measurement(uow, command))


@router.get("/indicators/{code}/measurements", summary="An indicator's measurements, oldest first")
async def get_measurements(
    code: IndicatorInPath, reader: Actor = Depends(require()), repo: ActionsRepository = Depends(repository)
) -> list[dict[str, Any]]:
    if await repo.get_indicator(code) is None:
        raise NotFound(f"no indicator {code}")
    return [{**r, "value": float(r["value"]), "delta": float(r["delta"])} for r in await repo.measurements(code)]
