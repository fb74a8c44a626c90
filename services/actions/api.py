"""HTTP API of the actions service: read the plan, change an action's status."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from passerelle_contracts import Actor
from pydantic import BaseModel, Field

from services.runtime.auth import require
from services.runtime.errors import NotFound
from services.runtime.http import correlation_id

from . import repository
from .events import TOPIC
from .handlers import ChangeStatus, change_status

Status = Literal["not_started", "planned", "in_progress", "on_hold", "completed", "abandoned"]
TrafficLight = Literal["on_track", "at_risk", "off_track"]

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
    status: Status
    traffic_light: TrafficLight | None
    status_note: str
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
    status: Status
    traffic_light: TrafficLight | None = None
    note: str = Field(default="", max_length=2000)


class StatusChanged(BaseModel):
    event_id: uuid.UUID
    action: ActionOut


def _pool(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.runtime.pool


@router.get("/actions", response_model=list[ActionOut], summary="List and filter the plan's actions")
async def list_actions(
    request: Request,
    axis: int | None = Query(None, ge=1, le=4),
    chantier: int | None = Query(None, ge=1, le=17),
    organisation: str | None = Query(None, description="Lead or partner organisation code"),
    status: Status | None = None,
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
