"""HTTP API: the plan's actions, their status, details and progress, and their indicators."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Query
from passerelle_contracts import Envelope
from passerelle_contracts.common import ActionStatus, ProgressMode, Public, TrafficLight
from pydantic import BaseModel, Field

from services.runtime.errors import NotFound
from services.runtime.http import repository, unit_of_work

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
from ..sql import ActionsRepository, Row

router = APIRouter(tags=["actions"])
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
    history: list[HistoryEntry]
    indicators: list[dict[str, Any]]


class StatusChange(BaseModel):
    status: ActionStatus
    traffic_light: TrafficLight | None = None
    note: str = Field(default="", max_length=2000)


class StatusChanged(BaseModel):
    event_id: uuid.UUID
    action: ActionOut


class DetailsChange(BaseModel):
    """Only the fields given change."""

    title_fr: str | None = Field(default=None, min_length=3)
    title_nl: str | None = None
    lead: str | None = None
    partners: list[str] | None = None
    publics: list[Public] | None = None
    weight: Decimal | None = Field(default=None, gt=0, le=100)


class ProgressChange(BaseModel):
    mode: ProgressMode = "manual"
    progress: Decimal | None = Field(default=None, ge=0, le=100, description="Required in manual mode")


class IndicatorIn(BaseModel):
    name_fr: str = Field(min_length=3)
    name_nl: str = ""
    unit: str = Field(min_length=1)
    baseline: Decimal = Decimal(0)
    target: Decimal | None = None
    period: str = ""


class MeasurementIn(BaseModel):
    value: Decimal
    measured_on: date
    source: str = Field(default="", max_length=500, description="Where the figure comes from")
    external_id: str | None = Field(default=None, max_length=200, description="Makes a repeated submission harmless")


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
    "/organisations", summary="The organisations named in the plan, with their Working Group and COPIL membership"
)
async def list_organisations(repo: ActionsRepository = Depends(repository)) -> list[dict[str, Any]]:
    return await repo.organisations()


@router.get("/actions", response_model=list[ActionOut], summary="List and filter the plan's actions")
async def list_actions(
    axis: int | None = Query(None, ge=1, le=4),
    chantier: int | None = Query(None, ge=1, le=17),
    organisation: str | None = Query(None, description="Lead or partner organisation code"),
    status: ActionStatus | None = None,
    public: str | None = None,
    repo: ActionsRepository = Depends(repository),
) -> list[dict[str, Any]]:
    return await repo.list_actions(
        axis=axis, chantier=chantier, organisation=organisation, status=status, public=public
    )


@router.get("/actions/{number}", response_model=ActionDetail, summary="One action with its history and indicators")
async def get_action(number: int, repo: ActionsRepository = Depends(repository)) -> dict[str, Any]:
    action = await repo.get_action(number)
    if action is None:
        raise NotFound(f"no action {number}; the plan has actions 1 to 66")
    indicators = [_indicator(i) for i in await repo.indicators(number)]
    return {**action, "history": await repo.history(number), "indicators": indicators}


@router.post(
    "/actions/{number}/status",
    response_model=StatusChanged,
    summary="Change an action's status, traffic light and note",
    responses={404: {"description": "No such action"}, 409: {"description": "Transition not allowed"}},
)
async def post_status(number: int, body: StatusChange, uow: Uow = Writer) -> dict[str, Any]:
    envelope = await change_status(uow, ChangeStatus(number, body.status, body.traffic_light, body.note))
    return {"event_id": envelope.event_id, "action": await uow.repo.get_action(number)}


@router.patch(
    "/actions/{number}", response_model=Outcome, summary="Edit an action's titles, lead, partners, publics or weight"
)
async def patch_action(
    number: int, body: DetailsChange, uow: Uow = Depends(unit_of_work("coordination"))
) -> dict[str, Any]:
    return _outcome(await change_details(uow, ChangeDetails(number, body.model_dump(exclude_none=True))))


@router.post("/actions/{number}/progress", response_model=Outcome, summary="Set progress, or derive it from milestones")
async def post_progress(number: int, body: ProgressChange, uow: Uow = Writer) -> dict[str, Any]:
    return _outcome(await update_progress(uow, UpdateProgress(number, body.progress, body.mode)))


@router.get("/indicators", summary="Every indicator with its current value")
async def list_indicators(
    action: int | None = Query(None, ge=1, le=66), repo: ActionsRepository = Depends(repository)
) -> list[dict[str, Any]]:
    return [_indicator(r) for r in await repo.indicators(action)]


@router.put("/actions/{number}/indicators/{code}", response_model=Outcome, summary="Define an indicator or change it")
async def put_indicator(number: int, code: str, body: IndicatorIn, uow: Uow = Writer) -> dict[str, Any]:
    return _outcome(await define_indicator(uow, DefineIndicator(code=code, action_number=number, **body.model_dump())))


@router.post("/indicators/{code}/measurements", response_model=Outcome, status_code=201, summary="Record a measurement")
async def post_measurement(code: str, body: MeasurementIn, uow: Uow = Writer) -> dict[str, Any]:
    command = RecordMeasurement(code, body.value, body.measured_on, body.source, body.external_id)
    return _outcome(await record_measurement(uow, command))


@router.get("/indicators/{code}/measurements", summary="An indicator's measurements, oldest first")
async def get_measurements(code: str, repo: ActionsRepository = Depends(repository)) -> list[dict[str, Any]]:
    if await repo.get_indicator(code) is None:
        raise NotFound(f"no indicator {code}")
    return [{**r, "value": float(r["value"]), "delta": float(r["delta"])} for r in await repo.measurements(code)]
