"""HTTP API of the actions service: read the plan, change an action's status."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from passerelle_contracts import Actor
from passerelle_contracts.common import ActionStatus, ProgressMode, Public, TrafficLight
from pydantic import BaseModel, Field

from services.runtime.auth import require
from services.runtime.errors import NotFound
from services.runtime.http import correlation_id

from . import repository
from .events import TOPIC
from .handlers import (
    ChangeStatus,
    DefineIndicator,
    change_details,
    change_status,
    define_indicator,
    record_manual_measurement,
    update_progress,
)

router = APIRouter(tags=["actions"])


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


def _pool(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.runtime.pool


@router.get("/organisations", summary="The organisations named in the plan, with their Working Group and COPIL membership")
async def list_organisations(request: Request) -> list[dict[str, Any]]:
    rows = await _pool(request).fetch("SELECT code, name, kind, working_group, copil FROM organisations ORDER BY code")
    return [dict(r) for r in rows]


@router.get("/actions", response_model=list[ActionOut], summary="List and filter the plan's actions")
async def list_actions(
    request: Request,
    axis: int | None = Query(None, ge=1, le=4),
    chantier: int | None = Query(None, ge=1, le=17),
    organisation: str | None = Query(None, description="Lead or partner organisation code"),
    status: ActionStatus | None = None,
    public: str | None = None,
) -> list[dict[str, Any]]:
    rows = await repository.list_actions(
        _pool(request), axis=axis, chantier=chantier, organisation=organisation, status=status, public=public
    )
    return [dict(r) for r in rows]


@router.get("/actions/{number}", response_model=ActionDetail, summary="One action with its history and indicators")
async def get_action(request: Request, number: int) -> dict[str, Any]:
    pool = _pool(request)
    row = await repository.get_action(pool, number)
    if row is None:
        raise NotFound(f"no action {number}; the plan has actions 1 to 66")
    history = [dict(h) for h in await repository.history(pool, number)]
    indicators = [_indicator(i) for i in await repository.indicators(pool, number)]
    return {**dict(row), "history": history, "indicators": indicators}


@router.post(
    "/actions/{number}/status",
    response_model=StatusChanged,
    summary="Change an action's status, traffic light and note",
    responses={404: {"description": "No such action"}, 409: {"description": "Transition not allowed"}},
)
async def post_status(
    request: Request,
    number: int,
    body: StatusChange,
    actor: Actor = Depends(require("coordination", "owner")),
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    runtime = request.app.state.runtime
    command = ChangeStatus(number, body.status, body.traffic_light, body.note)
    envelope = await change_status(runtime.pool, runtime.topic(TOPIC), command, actor, correlation)
    return {"event_id": envelope.event_id, "action": dict(await repository.get_action(runtime.pool, number))}  # type: ignore[arg-type]


@router.get("/indicators", summary="Every indicator with its current value")
async def list_indicators(request: Request, action: int | None = Query(None, ge=1, le=66)) -> list[dict[str, Any]]:
    return [_indicator(r) for r in await repository.indicators(_pool(request), action)]


def _indicator(row: Any) -> dict[str, Any]:
    """Numeric columns as JSON numbers (they are NUMERIC in the database)."""
    return {k: float(v) if k in ("baseline", "target", "current_value") and v is not None else v for k, v in dict(row).items()}


async def _command(request: Request) -> tuple[Any, str]:
    runtime = request.app.state.runtime
    return runtime.pool, runtime.topic(TOPIC)


def _outcome(envelope: Any) -> dict[str, Any]:
    return {"event_id": envelope.event_id if envelope else None, "changed": envelope is not None}


@router.patch("/actions/{number}", response_model=Outcome, summary="Edit an action's titles, lead, partners, publics or weight")
async def patch_action(
    request: Request,
    number: int,
    body: DetailsChange,
    actor: Actor = Depends(require("coordination")),
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    pool, topic = await _command(request)
    values = body.model_dump(exclude_none=True)
    return _outcome(await change_details(pool, topic, number, values, actor, correlation))


@router.post("/actions/{number}/progress", response_model=Outcome, summary="Set progress, or derive it from milestones")
async def post_progress(
    request: Request,
    number: int,
    body: ProgressChange,
    actor: Actor = Depends(require("coordination", "owner")),
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    pool, topic = await _command(request)
    return _outcome(await update_progress(pool, topic, number, body.progress, body.mode, actor, correlation))


@router.put("/actions/{number}/indicators/{code}", response_model=Outcome, summary="Define an indicator or change it")
async def put_indicator(
    request: Request,
    number: int,
    code: str,
    body: IndicatorIn,
    actor: Actor = Depends(require("coordination", "owner")),
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    pool, topic = await _command(request)
    command = DefineIndicator(code=code, action_number=number, **body.model_dump())
    return _outcome(await define_indicator(pool, topic, command, actor, correlation))


@router.post("/indicators/{code}/measurements", response_model=Outcome, status_code=201, summary="Record a measurement")
async def post_measurement(
    request: Request,
    code: str,
    body: MeasurementIn,
    actor: Actor = Depends(require("coordination", "owner")),
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    pool, topic = await _command(request)
    envelope = await record_manual_measurement(
        pool, topic, code, body.value, body.measured_on, body.source, body.external_id, actor, correlation
    )
    return _outcome(envelope)


@router.get("/indicators/{code}/measurements", summary="An indicator's measurements, oldest first")
async def get_measurements(request: Request, code: str) -> list[dict[str, Any]]:
    pool = _pool(request)
    if await repository.get_indicator(pool, code) is None:
        raise NotFound(f"no indicator {code}")
    return [{**dict(r), "value": float(r["value"]), "delta": float(r["delta"])} for r in await repository.measurements(pool, code)]
