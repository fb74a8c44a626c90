"""HTTP API: milestones and progress reports."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from passerelle_contracts import Actor
from passerelle_contracts.common import ReportStatus
from pydantic import BaseModel, Field

from services.runtime.auth import require
from services.runtime.http import correlation_id

from .events import TOPIC
from .milestones import announce_overdue, list_milestones, plan_milestone, reach_milestone
from .progress_reports import list_reports, move_report, write_report

router = APIRouter(tags=["milestones and reports"])
Writer = Depends(require("coordination", "owner"))


class MilestoneIn(BaseModel):
    title_fr: str = Field(min_length=3)
    title_nl: str = ""
    planned_on: date


class Reached(BaseModel):
    reached_on: date


class ReportIn(BaseModel):
    body: str = Field(default="", max_length=20_000, description="What was done in the period (no personal data)")


class ReportMove(BaseModel):
    comment: str = Field(default="", max_length=5_000)


def _ctx(request: Request) -> tuple[Any, str]:
    runtime = request.app.state.runtime
    return runtime.pool, runtime.topic(TOPIC)


@router.get("/milestones", summary="Milestones, by planned date")
async def get_milestones(request: Request, action: int | None = Query(None, ge=1, le=66)) -> list[dict[str, Any]]:
    return [dict(r) for r in await list_milestones(_ctx(request)[0], action)]


@router.post("/actions/{number}/milestones", status_code=201, summary="Plan a milestone")
async def post_milestone(
    request: Request, number: int, body: MilestoneIn, actor: Actor = Writer, correlation: uuid.UUID = Depends(correlation_id)
) -> dict[str, Any]:
    pool, topic = _ctx(request)
    return await plan_milestone(pool, topic, number, body.title_fr, body.title_nl, body.planned_on, actor, correlation)


@router.put("/actions/{number}/milestones/{milestone_id}", summary="Re-plan a milestone (title or date)")
async def put_milestone(
    request: Request, number: int, milestone_id: uuid.UUID, body: MilestoneIn, actor: Actor = Writer,
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    pool, topic = _ctx(request)
    return await plan_milestone(
        pool, topic, number, body.title_fr, body.title_nl, body.planned_on, actor, correlation, milestone_id
    )


@router.post("/actions/{number}/milestones/{milestone_id}/reached", summary="Record that a milestone was reached")
async def post_reached(
    request: Request, number: int, milestone_id: uuid.UUID, body: Reached, actor: Actor = Writer,
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    pool, topic = _ctx(request)
    return await reach_milestone(pool, topic, number, milestone_id, body.reached_on, actor, correlation)


@router.post("/milestones/check-overdue", summary="Announce milestones past their date (the scheduled check, on demand)")
async def post_check_overdue(
    request: Request, as_of: date | None = None, actor: Actor = Depends(require("coordination", "operator"))
) -> dict[str, Any]:
    pool, topic = _ctx(request)
    announced = await announce_overdue(pool, topic, as_of or date.today())
    return {"announced": [e.data["milestone_id"] for e in announced]}


@router.get("/reports", summary="Progress reports (any partner's key: drafts are not public, unlike the plan)")
async def get_reports(
    request: Request,
    action: int | None = Query(None, ge=1, le=66),
    status: ReportStatus | None = None,
    reader: Actor = Depends(require()),
) -> list[dict[str, Any]]:
    return [dict(r) for r in await list_reports(_ctx(request)[0], action, status)]


@router.put("/actions/{number}/reports/{period}", summary="Write or edit the action's report for a period")
async def put_report(request: Request, number: int, period: str, body: ReportIn, actor: Actor = Writer) -> dict[str, Any]:
    return await write_report(_ctx(request)[0], number, period, body.body, actor)


@router.post("/reports/{report_id}/{verb}", summary="submit (owner), approve or return (Coordination)")
async def post_report_move(
    request: Request,
    report_id: uuid.UUID,
    verb: Literal["submit", "approve", "return"],
    body: ReportMove | None = None,
    actor: Actor = Writer,
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    pool, topic = _ctx(request)
    return await move_report(pool, topic, report_id, verb, (body or ReportMove()).comment, actor, correlation)
