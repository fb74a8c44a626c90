"""HTTP API: governance meetings, what changed since a date, the roll-up, the annual report.

The roll-up and the published annual reports are public (aggregate figures); meetings, their
decisions and what changed (who did what) are read with a key; a progress report's moves among
what changed are read as the report is (``domain.report_reader``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Response
from passerelle_contracts import Actor
from passerelle_contracts.common import MeetingKind
from pydantic import BaseModel, Field

from services.runtime.auth import require
from services.runtime.errors import NotFound
from services.runtime.http import api_router, idempotency_key, repository, unit_of_work
from services.runtime.inputs import Code, Happened, HappenedAt, Line, Text, Year

from .. import domain
from ..domain.meetings import MeetingStatus
from ..handlers.aggregate import Uow
from ..handlers.annual_report import PublishAnnualReport, publish_annual_report
from ..handlers.governance import (
    CancelMeeting,
    RecordMeeting,
    RecordMeetingHeld,
    RescheduleMeeting,
    ScheduleMeeting,
    cancel_meeting,
    record_meeting,
    record_meeting_held,
    reschedule_meeting,
    schedule_meeting,
)
from ..inputs import (
    MAX_ORGANISATIONS,
    ActionNumber,
    CancellationReason,
    Location,
    MeetingTime,
    Minutes,
    Upcoming,
)
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


Invited = Annotated[
    list[Code],
    Field(
        max_length=MAX_ORGANISATIONS,
        description="Organisations invited besides the members of the Working Group or of the COPIL (codes)",
    ),
]
Agenda = Annotated[list[AgendaItemIn], Field(max_length=MAX_ITEMS)]


class PlannedMeetingIn(BaseModel):
    kind: MeetingKind
    starts_at: Upcoming
    ends_at: MeetingTime | None = Field(None, description="After starts_at, at most 12 hours later")
    location: Location
    agenda: Agenda = []
    invited: Invited = []


class MeetingChangeIn(BaseModel):
    """Only the fields given change; null leaves a field as it is, except ``ends_at``, which it removes."""

    starts_at: Upcoming | None = None
    ends_at: MeetingTime | None = Field(None, description="After starts_at, at most 12 hours later; null removes it")
    location: Location | None = None
    agenda: Agenda | None = None
    invited: Invited | None = None

    def given(self) -> dict[str, Any]:
        # Which fields were sent, but each dumped whole: an agenda item sent without its
        # action_number is stored with it (None), as a convened one is.
        values = {name: value for name, value in self.model_dump().items() if name in self.model_fields_set}
        return {name: value for name, value in values.items() if value is not None or name == "ends_at"}


class CancellationIn(BaseModel):
    reason: CancellationReason = ""


class MinutesIn(BaseModel):
    held_on: Happened | None = Field(None, description="Default: the day it was scheduled to start, in Brussels")
    attendees: list[Code] = Field(min_length=1, max_length=MAX_ORGANISATIONS, description="Organisation codes")
    decisions: list[DecisionIn] = Field(default=[], max_length=MAX_ITEMS)
    minutes: Minutes = ""
    agenda: Agenda | None = Field(None, description="The agenda as it was held; default: as convened")


class AnnualReportIn(BaseModel):
    year: Annotated[Year, Field(ge=2021)]
    as_of: Happened = Field(
        description="The cut-off: the end of this day in Brussels; yesterday at the latest (today has not ended)"
    )


ReportId = Annotated[str, Path(pattern=r"^annual-report-[0-9]{4}-as-of-[0-9]{4}-[0-9]{2}-[0-9]{2}$", max_length=40)]
FileName = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,60}\.(html|pdf|csv)$", max_length=64)]


@router.post(
    "/meetings",
    status_code=201,
    summary="Record a Working Group or COPIL meeting held (not scheduled here) and its decisions",
)
async def post_meeting(body: MeetingIn, uow: Uow = Coordination) -> dict[str, Any]:
    command = RecordMeeting(
        body.kind,
        body.held_on,
        body.attendees,
        [a.model_dump() for a in body.agenda],
        [(d.action_number, d.decision) for d in body.decisions],
    )
    return await record_meeting(uow, command)


@router.post(
    "/meetings/planned",
    status_code=201,
    summary="Schedule a Working Group or COPIL meeting: its date, place, agenda and guests",
    responses={200: {"description": "A repetition (same Idempotency-Key and body): the meeting first scheduled"}},
)
async def post_planned_meeting(
    response: Response,
    body: PlannedMeetingIn,
    uow: Uow = Coordination,
    key: str | None = Depends(idempotency_key),
) -> dict[str, Any]:
    command = ScheduleMeeting(
        body.kind,
        body.starts_at,
        body.ends_at,
        body.location,
        [a.model_dump() for a in body.agenda],
        body.invited,
        idempotency_key=key,
    )
    meeting, created = await schedule_meeting(uow, command)
    if not created:
        response.status_code = 200
    return meeting


@router.patch("/meetings/{meeting_id:uuid}", summary="Re-schedule a meeting: its date, place, agenda or guests")
async def patch_meeting(meeting_id: uuid.UUID, body: MeetingChangeIn, uow: Uow = Coordination) -> dict[str, Any]:
    return await reschedule_meeting(uow, RescheduleMeeting(meeting_id, body.given()))


@router.post("/meetings/{meeting_id:uuid}/cancellation", summary="Cancel a scheduled meeting")
async def post_cancellation(
    meeting_id: uuid.UUID, body: CancellationIn | None = None, uow: Uow = Coordination
) -> dict[str, Any]:
    return await cancel_meeting(uow, CancelMeeting(meeting_id, (body or CancellationIn()).reason))


@router.post(
    "/meetings/{meeting_id:uuid}/minutes",
    status_code=201,
    summary="Record a scheduled meeting held: attendees, decisions and minutes",
    responses={200: {"description": "A repetition (same Idempotency-Key and body): the first reply"}},
)
async def post_minutes(
    response: Response,
    meeting_id: uuid.UUID,
    body: MinutesIn,
    uow: Uow = Coordination,
    key: str | None = Depends(idempotency_key),
) -> dict[str, Any]:
    command = RecordMeetingHeld(
        meeting_id,
        body.attendees,
        [(d.action_number, d.decision) for d in body.decisions],
        body.minutes,
        body.held_on,
        None if body.agenda is None else [a.model_dump() for a in body.agenda],
        idempotency_key=key,
    )
    meeting, created = await record_meeting_held(uow, command)
    if not created:
        response.status_code = 200
    return meeting


@router.get("/meetings", summary="Meetings scheduled, cancelled and held, with their decisions")
async def get_meetings(
    year: Year | None = Query(None, description="The year of the day held, else of the day it starts"),
    status: MeetingStatus | None = Query(None),
    reader: Actor = Depends(require()),
    repo: ActionsRepository = Depends(repository),
) -> list[dict[str, Any]]:
    return await repo.meetings(year, status)


@router.get("/meetings/{meeting_id:uuid}", summary="One meeting with its decisions")
async def get_meeting(
    meeting_id: uuid.UUID, reader: Actor = Depends(require()), repo: ActionsRepository = Depends(repository)
) -> dict[str, Any]:
    found = await repo.meeting(meeting_id)
    if found is None:
        raise NotFound(f"no meeting {meeting_id}")
    return found


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
