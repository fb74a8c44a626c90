"""HTTP API: governance meetings, what changed since a date, the roll-up, the annual report."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from passerelle_contracts import Actor
from passerelle_contracts.common import MeetingKind
from pydantic import BaseModel, Field

from services.runtime.auth import require
from services.runtime.errors import NotFound
from services.runtime.http import correlation_id

from . import domain, repository
from .events import TOPIC
from .governance import RecordMeeting, changes_since, list_meetings, record_meeting
from .reporting import publish_annual_report

router = APIRouter(tags=["governance and reporting"])


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
async def post_meeting(
    request: Request, body: MeetingIn, actor: Actor = Depends(require("coordination")),
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    runtime = request.app.state.runtime
    command = RecordMeeting(
        body.kind, body.held_on, body.attendees, [a.model_dump() for a in body.agenda],
        [(d.action_number, d.decision) for d in body.decisions],
    )
    return await record_meeting(runtime.pool, runtime.topic(TOPIC), command, actor, correlation)


@router.get("/meetings", summary="Meetings with their decisions")
async def get_meetings(request: Request, year: int | None = None) -> list[dict[str, Any]]:
    return await list_meetings(request.app.state.runtime.pool, year)


@router.get("/changes", summary="What changed since a date, grouped by action (read before a meeting)")
async def get_changes(request: Request, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    until = until if until is None or until.tzinfo else until.replace(tzinfo=UTC)
    return await changes_since(request.app.state.runtime.pool, since, until)


@router.get("/rollup", summary="Progress rolled up to chantiers and axes, with the rule and the weights")
async def get_rollup(request: Request) -> dict[str, Any]:
    rows = await repository.list_actions(request.app.state.runtime.pool)
    axes: dict[int, dict[str, Any]] = {}
    for r in rows:
        axis = axes.setdefault(r["axis"], {"number": r["axis"], "chantiers": {}})
        chantier = axis["chantiers"].setdefault(r["chantier"], {"number": r["chantier"], "actions": []})
        chantier["actions"].append({"number": r["number"], "progress": float(r["progress"]), "weight": float(r["weight"])})

    def average(actions: list[dict[str, Any]]) -> float:
        return float(domain.weighted_average([(Decimal(str(a["progress"])), Decimal(str(a["weight"]))) for a in actions]))

    out = []
    for axis in axes.values():
        chantiers = [{**c, "progress": average(c["actions"])} for c in axis["chantiers"].values()]
        every = [a for c in chantiers for a in c["actions"]]
        out.append({"number": axis["number"], "progress": average(every), "chantiers": chantiers})
    return {"rule": {"name": "weighted-average", "description": domain.ROLLUP_RULE}, "axes": out}


@router.post("/annual-reports", status_code=201, summary="Build and publish the annual report as of a cut-off date")
async def post_annual_report(
    request: Request, body: AnnualReportIn, actor: Actor = Depends(require("coordination")),
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    runtime = request.app.state.runtime
    return await publish_annual_report(runtime.pool, runtime.topic(TOPIC), body.year, body.as_of, actor, correlation)


@router.get("/annual-reports", summary="Published annual reports")
async def get_annual_reports(request: Request, year: int | None = Query(None)) -> list[dict[str, Any]]:
    rows = await request.app.state.runtime.pool.fetch(
        """SELECT r.id, r.year, r.as_of, r.published_at, jsonb_object_agg(f.name, f.sha256) AS files
           FROM annual_reports r JOIN annual_report_files f ON f.report_id = r.id
           WHERE ($1::int IS NULL OR r.year = $1) GROUP BY r.id ORDER BY r.year, r.as_of""",
        year,
    )
    return [dict(r) for r in rows]


MEDIA = {".html": "text/html; charset=utf-8", ".pdf": "application/pdf", ".csv": "text/csv; charset=utf-8"}


@router.get("/annual-reports/{report_id}/{name}", summary="One file of a published annual report")
async def get_annual_report_file(request: Request, report_id: str, name: str) -> Response:
    row = await request.app.state.runtime.pool.fetchrow(
        "SELECT content, sha256 FROM annual_report_files WHERE report_id = $1 AND name = $2", report_id, name
    )
    if row is None:
        raise NotFound(f"no file {name} in {report_id}")
    media = next((m for ext, m in MEDIA.items() if name.endswith(ext)), "application/octet-stream")
    return Response(row["content"], media_type=media, headers={"ETag": f'"{row["sha256"]}"'})
