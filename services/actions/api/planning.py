"""HTTP API: milestones and progress reports.

Milestones are the plan's schedule, public like the plan. Progress reports are read with a
key: an approved report by every key holder (the Working Group shares them); a draft, a
submitted or a returned one only by the Coordination (and operators) and by the organisations
of its action (lead and partners)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from passerelle_contracts import Actor
from passerelle_contracts.common import ReportStatus
from pydantic import BaseModel, Field

from services.runtime.auth import require
from services.runtime.http import api_router, repository, unit_of_work
from services.runtime.inputs import Happened, Planned, Text, brussels_today

from .. import domain
from ..handlers.aggregate import Uow
from ..handlers.milestones import (
    AnnounceOverdue,
    PlanMilestone,
    ReachMilestone,
    announce_overdue,
    plan_milestone,
    reach_milestone,
)
from ..handlers.progress_reports import MoveReport, WriteReport, move_report, write_report
from ..inputs import ActionInPath, OptionalTitle, ReportPeriod, Title
from ..sql import ActionsRepository, Row

router = api_router(tags=["milestones and reports"])
Writer = Depends(unit_of_work("coordination", "owner"))


class MilestoneIn(BaseModel):
    title_fr: Title
    title_nl: OptionalTitle = ""
    planned_on: Planned


class Reached(BaseModel):
    reached_on: Happened


class ReportIn(BaseModel):
    body: Annotated[Text, Field(max_length=20_000, description="What was done in the period (no personal data)")] = ""


class ReportMove(BaseModel):
    comment: Text = ""


@router.get("/milestones", summary="Milestones, by planned date")
async def get_milestones(
    action: int | None = Query(None, ge=1, le=66), repo: ActionsRepository = Depends(repository)
) -> list[Row]:
    return await repo.milestones(action)


@router.post("/actions/{number}/milestones", status_code=201, summary="Plan a milestone")
async def post_milestone(number: ActionInPath, body: MilestoneIn, uow: Uow = Writer) -> Row:
    return await plan_milestone(uow, PlanMilestone(number, body.title_fr, body.title_nl, body.planned_on))


@router.put("/actions/{number}/milestones/{milestone_id}", summary="Re-plan a milestone (title or date)")
async def put_milestone(number: ActionInPath, milestone_id: uuid.UUID, body: MilestoneIn, uow: Uow = Writer) -> Row:
    return await plan_milestone(uow, PlanMilestone(number, body.title_fr, body.title_nl, body.planned_on, milestone_id))


@router.post("/actions/{number}/milestones/{milestone_id}/reached", summary="Record that a milestone was reached")
async def post_reached(number: ActionInPath, milestone_id: uuid.UUID, body: Reached, uow: Uow = Writer) -> Row:
    return await reach_milestone(uow, ReachMilestone(number, milestone_id, body.reached_on))


@router.post(
    "/milestones/check-overdue", summary="Announce milestones past their date (the scheduled check, on demand)"
)
async def post_check_overdue(
    as_of: Happened | None = Query(None, description="Default: today in Brussels; never a later day"),
    uow: Uow = Depends(unit_of_work("coordination", "operator")),
) -> dict[str, Any]:
    announced = await announce_overdue(uow, AnnounceOverdue(as_of or brussels_today()))
    return {"announced": [e.data["milestone_id"] for e in announced]}


@router.get(
    "/reports",
    summary="Progress reports: approved ones for every key, the others for the Coordination and the action's organisations",
)
async def get_reports(
    action: int | None = Query(None, ge=1, le=66),
    status: ReportStatus | None = None,
    reader: Actor = Depends(require()),
    repo: ActionsRepository = Depends(repository),
) -> list[Row]:
    return await repo.progress_reports(action, status, domain.report_reader(reader.role, reader.organisation))


@router.put("/actions/{number}/reports/{period}", summary="Write or edit the action's report for a period")
async def put_report(number: ActionInPath, period: ReportPeriod, body: ReportIn, uow: Uow = Writer) -> Row:
    return await write_report(uow, WriteReport(number, period, body.body))


@router.post("/reports/{report_id}/{verb}", summary="submit (owner), approve or return (Coordination)")
async def post_report_move(
    report_id: uuid.UUID,
    verb: Literal["submit", "approve", "return"],
    body: ReportMove | None = None,
    uow: Uow = Writer,
) -> Row:
    return await move_report(uow, MoveReport(report_id, verb, (body or ReportMove()).comment))
