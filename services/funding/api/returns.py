"""EPN activity returns over HTTP (action 28): an EPN's quarterly counts sent as JSON or as a CSV
of many, read back (each organisation its own EPNs'), and the yearly study built from them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Path, Query, Request, Response
from passerelle_contracts import Actor
from passerelle_contracts.common import AGE_BANDS, GENDERS, AgeBand, Gender, Public
from pydantic import BaseModel, BeforeValidator, Field

from services.runtime.auth import require
from services.runtime.errors import NotFound
from services.runtime.http import api_router, repository, unit_of_work
from services.runtime.inputs import Code, Count, brussels_today
from services.runtime.uow import UnitOfWork

from .. import returns_files, spreadsheets
from ..domain.returns import FIRST_YEAR, PUBLICS, ActivityReturn, StudyPeriod, operator_scope
from ..handlers.returns import import_returns, read_study, submit_return
from ..repository import FundingRepository

router = api_router(tags=["epn activity returns"])
READERS = ("coordination", "operator")
MAX_BYTES = 2 * 1024 * 1024  # 5,000 rows of 25 columns are about 600 KiB


def _not_a_boolean(value: Any) -> Any:
    # As ``inputs.Count``: lax mode reads true as 1. Not ``Annotated[Year, Field(ge=…)]``: a bound
    # after the type's own validator is not applied (pydantic keeps it as a stray schema key).
    if isinstance(value, bool):
        raise ValueError("send a number, not a boolean")
    return value


ReturnYear = Annotated[int, Field(ge=FIRST_YEAR, le=2100), BeforeValidator(_not_a_boolean)]
Quarter = Annotated[
    int, Field(ge=1, le=4, description="1: January-March … 4: October-December"), BeforeValidator(_not_a_boolean)
]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=100_000)]


class ActivityReturnIn(BaseModel):
    """A quarter's counts, never people. Age bands and genders each add up to the participants or
    less (the rest is not stated); each public is at most the participants (publics overlap)."""

    epn: Annotated[Code, Field(min_length=2, description="The EPN's code in the register")]
    year: ReturnYear
    quarter: Quarter
    visits: Annotated[Count, Field(description="Visits in the quarter (a person coming 3 times: 3)")]
    sessions: Annotated[Count, Field(description="Group sessions held (workshops, trainings)")]
    participants: Annotated[Count, Field(description="People served in the quarter, each once as far as known")]
    by_public: Annotated[dict[Public, Count], Field(max_length=len(PUBLICS))] = {}
    by_age_band: Annotated[dict[AgeBand, Count], Field(max_length=len(AGE_BANDS))] = {}
    by_gender: Annotated[dict[Gender, Count], Field(max_length=len(GENDERS))] = {}


@router.post(
    "/activity-returns",
    status_code=201,
    summary="Send an EPN's return of a quarter (the Coordination, or the EPN's operator); again: a correction",
)
async def post_activity_return(
    response: Response,
    body: ActivityReturnIn,
    uow: UnitOfWork[FundingRepository] = Depends(unit_of_work()),
) -> dict[str, Any]:
    outcome, kept = await submit_return(uow, ActivityReturn(**body.model_dump()), brussels_today())
    if outcome != "created":
        response.status_code = 200  # a correction (the next revision), or the same counts again
    return {"outcome": outcome, **shown(kept, full=operator_scope(uow.actor) is None)}


@router.post(
    "/activity-returns/import",
    summary="Import a spreadsheet of returns (one row per EPN and quarter); idempotent; a report per refused row",
    description=(
        f"Send the file as the body, with Content-Type text/csv ({returns_files.COLUMNS_NOTE}) or "
        f"{spreadsheets.XLSX_MEDIA} (the first sheet, the same columns); at most "
        f"{MAX_BYTES // 1024 // 1024} MiB and {returns_files.MAX_ROWS:,} rows. The Coordination sends any EPN's "
        "returns, an operator organisation its own EPNs'. Valid rows are kept together; each refused row is "
        "reported with its line, column and reason."
    ),
    openapi_extra=spreadsheets.request_body(MAX_BYTES),
    max_body_size=MAX_BYTES,
)
async def post_activity_returns_import(
    request: Request,
    content_type: Annotated[str, Header(max_length=200)] = "",
    uow: UnitOfWork[FundingRepository] = Depends(unit_of_work()),
) -> dict[str, Any]:
    fmt = spreadsheets.format_of(content_type)
    return (await import_returns(uow, await request.body(), brussels_today(), fmt)).as_dict()


@router.get("/activity-returns/export.csv", summary="A year's returns as CSV, in the import's format")
async def get_activity_returns_csv(
    year: Annotated[ReturnYear, Query()],
    _reader: Actor = Depends(require(*READERS)),
    repo: FundingRepository = Depends(repository),
) -> Response:
    return _export(await repo.activity_returns_of_year(year), "csv", year)


@router.get("/activity-returns/export.xlsx", summary="A year's returns as XLSX, in the import's format")
async def get_activity_returns_xlsx(
    year: Annotated[ReturnYear, Query()],
    _reader: Actor = Depends(require(*READERS)),
    repo: FundingRepository = Depends(repository),
) -> Response:
    return _export(await repo.activity_returns_of_year(year), "xlsx", year)


def _export(returns: list[ActivityReturn], fmt: spreadsheets.Format, year: int) -> Response:
    return Response(
        returns_files.write(returns, fmt),
        media_type=spreadsheets.media_type(fmt),
        headers={"Content-Disposition": f'attachment; filename="activity-returns-{year}.{fmt}"'},
    )


@router.get("/activity-returns", summary="Returns, the latest quarter first (an operator organisation: its EPNs')")
async def get_activity_returns(
    epn: Code | None = None,
    year: ReturnYear | None = None,
    quarter: Annotated[Quarter | None, Query()] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    reader: Actor = Depends(require()),
    repo: FundingRepository = Depends(repository),
) -> list[dict[str, Any]]:
    scope = operator_scope(reader)
    found = await repo.activity_returns(epn=epn, operator=scope, year=year, quarter=quarter, limit=limit, offset=offset)
    return [shown(ret, full=scope is None) for ret in found]


@router.get(
    "/activity-returns/study",
    summary="The yearly study (action 28): per quarter and for the year, returns due and received, counts",
)
async def get_activity_study(
    year: Annotated[ReturnYear, Query()],
    _reader: Actor = Depends(require(*READERS)),
    repo: FundingRepository = Depends(repository),
) -> dict[str, Any]:
    *quarters, whole = await read_study(repo, year, brussels_today())
    return {"year": year, "quarters": [_period(p) for p in quarters], "year_total": _period(whole)}


@router.get("/activity-returns/study.csv", summary="The yearly study as CSV: a row per quarter, then the year")
async def get_activity_study_csv(
    year: Annotated[ReturnYear, Query()],
    _reader: Actor = Depends(require(*READERS)),
    repo: FundingRepository = Depends(repository),
) -> Response:
    periods = await read_study(repo, year, brussels_today())
    return Response(
        returns_files.write_study(periods),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="activity-study-{year}.csv"'},
    )


@router.get(
    "/activity-returns/{epn}/{year}/{quarter}",
    summary="A quarter's return with every revision, the first first (an operator organisation: its EPNs')",
)
async def get_activity_return(
    epn: Annotated[Code, Path()],
    year: Annotated[ReturnYear, Path()],
    quarter: Annotated[Quarter, Path()],
    reader: Actor = Depends(require()),
    repo: FundingRepository = Depends(repository),
) -> dict[str, Any]:
    scope = operator_scope(reader)
    found = await repo.activity_returns(epn=epn, operator=scope, year=year, quarter=quarter, limit=1)
    if not found:  # none, or another organisation's EPN: the same answer
        raise NotFound(f"no return of {epn} for {year}-Q{quarter}")
    current = found[0]
    revisions = await repo.activity_return_revisions(epn, year, quarter)
    return {**shown(current, full=scope is None), "revisions": [shown(r, full=scope is None) for r in revisions]}


def shown(ret: ActivityReturn, *, full: bool = False) -> dict[str, Any]:
    """A return; ``full`` adds who sent it (the Coordination's and operators' view)."""
    out: dict[str, Any] = {
        "epn": ret.epn,
        "year": ret.year,
        "quarter": ret.quarter,
        "revision": ret.revision,
        "visits": ret.visits,
        "sessions": ret.sessions,
        "participants": ret.participants,
        "by_public": dict(ret.by_public),
        "by_age_band": dict(ret.by_age_band),
        "by_gender": dict(ret.by_gender),
        "due_on": ret.due_on,
        "late": ret.late,
        "first_submitted_on": ret.first_submitted_on,
        "submitted_on": ret.submitted_on,
        "submitted_at": ret.submitted_at,
    }
    if full and ret.submitted_by is not None:
        out["submitted_by"] = ret.submitted_by.model_dump(mode="json")
    return out


def _period(p: StudyPeriod) -> dict[str, Any]:
    share = p.share_received_pct
    return {
        "quarter": p.quarter,
        "due_on": p.due_on,
        "returns_due": p.returns_due,
        "returns_received": p.returns_received,
        "share_received_pct": None if share is None else str(share),
        "epns_returned": p.epns_returned,
        "visits": p.visits,
        "sessions": p.sessions,
        "participants": p.participants,
        "by_public": p.by_public,
        "by_age_band": p.by_age_band,
        "by_gender": p.by_gender,
    }
