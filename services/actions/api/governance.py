"""HTTP API: governance meetings, what changed since a date, the roll-up, the annual report.

The roll-up and the published annual reports are public (aggregate figures); meetings, their
decisions and what changed (who did what) are read with a key; a progress report's moves among
what changed are read as the report is (``domain.report_reader``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Response
from passerelle_contracts import Actor
from passerelle_contracts.common import MeetingKind
from pydantic import BaseModel, Field

from services.runtime.auth import require
from services.runtime.errors import NotFound
from services.runtime.http import api_router, repository, unit_of_work
from services.runtime.inputs import Code, Happened, HappenedAt, Line, Text, Year

from .. import domain
from ..handlers.aggregate import Uow
from ..handlers.annual_report import PublishAnnualReport, publish_annual_report
from ..handlers.governance import RecordMeeting, record_meeting
from ..inputs import MAX_ORGANISATIONS, ActionNumber
from ..sql import ActionsRepository

router = api_router(tags=["governance and reporting"])
Coordination = Depends(unit_of_work("coordination"))


MAX_ITEMS = 100  # agenda items or decisions of one meeting


class AgendaItemIn(BaseModel):
    action_number: ActionNumber | None = None
    title: Annotated[Line, Field(min_length=2)]


class DecisionIn(BaseModel):
    action_number: ActionNumber
    decision: Annotated[Text, Field(min_length=3)]


class MeetingIn(BaseModel):
    kind: MeetingKind
    held_on: Happened
    attendees: list[Code] = Field(min_length=1, max_length=MAX_ORGANISATIONS, description="Organisation codes")
    agenda: list[AgendaItemIn] = Field(default=[], max_length=MAX_ITEMS)
    decisions: list[DecisionIn] = Field(default=[], max_length=MAX_ITEMS)


class AnnualReportIn(BaseModel):
    year: Annotated[Year, Field(ge=2021)]
    as_of: Happened = Field(
        description="The cut-off: the end of this day in Brussels; yesterday at the latest (today has not ended)"
    )


ReportId = Annotated[str, Path(pattern=r"^annual-report-[0-9]{4}-as-of-[0-9]{4}-[0-9]{2}-[0-9]{2}$", max_length=40)]
FileName = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,60}\.(html|pdf|csv)$", max_length=64)]


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
async def get_meetings(
    year: Year | None = Query(None),
    reader: Actor = Depends(require()),
    repo: ActionsRepository = Depends(repository),
) -> list[dict[str, Any]]:
    return await repo.meetings(year)


@router.get("/changes", summary="What changed since a moment, grouped by action (read before a meeting)")
async def get_changes(
    # Annotated, not "= Query(...)": FastAPI drops a type's validators from a required
    # "= Query(...)" parameter (since=0.5 was read as a Unix time, 1970, found by fuzzing).
    since: Annotated[HappenedAt, Query(description="With its offset, e.g. 2026-03-01T00:00:00+01:00")],
    until: Annotated[HappenedAt | None, Query(description="Default: now")] = None,
    reader: Actor = Depends(require()),
    repo: ActionsRepository = Depends(repository),
) -> list[dict[str, Any]]:
    grouped: dict[int, dict[str, Any]] = {}
    for r in await repo.changes_between(since, until, domain.report_reader(reader.role, reader.organisation)):
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
    year: Year | None = Query(None), repo: ActionsRepository = Depends(repository)
) -> list[dict[str, Any]]:
    return await repo.annual_reports(year)


MEDIA = {".html": "text/html; charset=utf-8", ".pdf": "application/pdf", ".csv": "text/csv; charset=utf-8"}


@router.get(
    "/annual-reports/{report_id}/{name}",
    summary="One file of a published annual report",
    response_class=Response,
    responses={
        200: {
            "description": "The file, as published (its SHA-256 is the ETag)",
            "content": {m.split(";")[0]: {"schema": {"type": "string", "format": "binary"}} for m in MEDIA.values()},
        }
    },
)
async def get_annual_report_file(
    report_id: ReportId, name: FileName, repo: ActionsRepository = Depends(repository)
) -> Response:
    found = await repo.annual_report_file(report_id, name)
    if found is None:
        raise NotFound(f"no file {name} in {report_id}")
    content, sha256 = found
    media = next((m for ext, m in MEDIA.items() if name.endswith(ext)), "application/octet-stream")
    return Response(content, media_type=media, headers={"ETag": f'"{sha256}"'})
