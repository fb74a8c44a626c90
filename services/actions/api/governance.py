"""HTTP API: governance meetings, what changed since a date, the roll-up, the annual report."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from passerelle_contracts.common import MeetingKind
from pydantic import BaseModel, Field

from services.runtime.errors import NotFound
from services.runtime.http import repository, unit_of_work

from .. import domain
from ..handlers.aggregate import Uow
from ..handlers.annual_report import PublishAnnualReport, publish_annual_report
from ..handlers.governance import RecordMeeting, record_meeting
from ..sql import ActionsRepository

router = APIRouter(tags=["governance and reporting"])
Coordination = Depends(unit_of_work("coordination"))


class AgendaItemIn(BaseModel):
    action_number: int | None = Field(default=None, ge=1, le=66)
    title: str = Field(min_length=2)


class DecisionIn(BaseModel):
    action_number: int = Field(ge=1, le=66)
    decision: str = Field(min_length=3, max_length=5_000)


class MeetingIn(BaseModel):
    kind: MeetingKind
    held_on: date
    attendees: list[str] = Field(min_length=1, description="Organisation codes")
    agenda: list[AgendaItemIn] = []
    decisions: list[DecisionIn] = []


class AnnualReportIn(BaseModel):
    year: int = Field(ge=2021, le=2100)
    as_of: date


@router.post("/meetings", status_code=201, summary="Record a Working Group or COPIL meeting and its decisions")
async def post_meeting(body: MeetingIn, uow: Uow = Coordination) -> dict[str, Any]:
    command = RecordMeeting(
        body.kind,
        body.held_on,
        body.attendees,
        [a.model_dump() for a in body.agenda],
        [(d.action_number, d.decision) for d in body.decisions],
    )
    return await record_meeting(uow, command)


@router.get("/meetings", summary="Meetings with their decisions")
async def get_meetings(year: int | None = None, repo: ActionsRepository = Depends(repository)) -> list[dict[str, Any]]:
    return await repo.meetings(year)


@router.get("/changes", summary="What changed since a date, grouped by action (read before a meeting)")
async def get_changes(
    since: datetime, until: datetime | None = None, repo: ActionsRepository = Depends(repository)
) -> list[dict[str, Any]]:
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    until = until if until is None or until.tzinfo else until.replace(tzinfo=UTC)
    grouped: dict[int, dict[str, Any]] = {}
    for r in await repo.changes_between(since, until):
        entry = grouped.setdefault(
            r["action_number"],
            {"action_number": r["action_number"], "title_fr": r["title_fr"], "title_nl": r["title_nl"], "changes": []},
        )
        entry["changes"].append({k: r[k] for k in ("event_id", "event_type", "changes", "actor", "occurred_at")})
    return list(grouped.values())


@router.get("/rollup", summary="Progress rolled up to chantiers and axes, with the rule and the weights")
async def get_rollup(repo: ActionsRepository = Depends(repository)) -> dict[str, Any]:
    axes = domain.rollup(await repo.list_actions())
    return {"rule": {"name": "weighted-average", "description": domain.ROLLUP_RULE}, "axes": axes}


@router.post("/annual-reports", status_code=201, summary="Build and publish the annual report as of a cut-off date")
async def post_annual_report(body: AnnualReportIn, uow: Uow = Coordination) -> dict[str, Any]:
    return await publish_annual_report(uow, PublishAnnualReport(body.year, body.as_of))


@router.get("/annual-reports", summary="Published annual reports")
async def get_annual_reports(
    year: int | None = Query(None), repo: ActionsRepository = Depends(repository)
) -> list[dict[str, Any]]:
    return await repo.annual_reports(year)


MEDIA = {".html": "text/html; charset=utf-8", ".pdf": "application/pdf", ".csv": "text/csv; charset=utf-8"}


@router.get("/annual-reports/{report_id}/{name}", summary="One file of a published annual report")
async def get_annual_report_file(report_id: str, name: str, repo: ActionsRepository = Depends(repository)) -> Response:
    found = await repo.annual_report_file(report_id, name)
    if found is None:
        raise NotFound(f"no file {name} in {report_id}")
    content, sha256 = found
    media = next((m for ext, m in MEDIA.items() if name.endswith(ext)), "application/octet-stream")
    return Response(content, media_type=media, headers={"ETag": f'"{sha256}"'})
