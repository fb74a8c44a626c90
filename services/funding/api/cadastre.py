"""The funding cadastre over HTTP (action 36): its lines, totals by funder, commune, beneficiary
or year ("who funds which EPN, how much, since when"), the completeness per labelled EPN, and the
spreadsheet import and export (CSV or XLSX, one format both ways)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Depends, Header, Query, Request, Response
from passerelle_contracts import Actor
from passerelle_contracts.common import BeneficiaryKind, FunderKind
from pydantic import BaseModel, Field

from services.runtime.auth import Caller, caller, require
from services.runtime.errors import NotFound
from services.runtime.http import api_router, repository, unit_of_work
from services.runtime.inputs import Amount, Code, Euros, Line, Percent, Year
from services.runtime.uow import UnitOfWork

from .. import cadastre_files, spreadsheets
from ..domain import FundingLine, reader_scope
from ..handlers import import_cadastre, record_lines
from ..repository import FundingRepository

router = api_router(tags=["funding cadastre"])
READERS = ("coordination", "operator", "caban")  # CABAN compiles the cadastre with the Coordination (action 36)
MAX_BYTES = 10 * 1024 * 1024  # 5,000 lines are about 600 KiB as CSV, 250 KiB as XLSX
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=100_000)]


class FundingLineIn(BaseModel):
    beneficiary: Annotated[Code, Field(min_length=2, description="The EPN or non-profit funded")]
    beneficiary_kind: BeneficiaryKind
    commune: Annotated[Line, Field(min_length=2, max_length=64)] | None = None
    funder: FunderKind
    funder_name: Annotated[Line, Field(max_length=120)] = ""
    programme: Annotated[Line, Field(min_length=2, max_length=200)]
    year: Year
    committed_eur: Euros
    paid_eur: Annotated[Amount, Field(lt=Decimal("1e10"))] | None = None
    cofinancing_pct: Percent | None = None


@router.post(
    "/funding-lines", status_code=201, summary="Record a line of the funding cadastre (found again by its key)"
)
async def post_funding_line(
    response: Response,
    body: FundingLineIn,
    uow: UnitOfWork[FundingRepository] = Depends(unit_of_work("coordination")),
) -> dict[str, Any]:
    report = await record_lines(uow, [FundingLine(**body.model_dump())])
    [(outcome, stored)] = report.lines
    if outcome != "created":
        response.status_code = 200  # the same key: changed where it differed, or a repetition
    return {"outcome": outcome, **shown(stored, full=True)}


@router.get("/funding-lines", summary="Lines of the cadastre, latest year first (a beneficiary's key: its own)")
async def get_funding_lines(
    beneficiary: Code | None = None,
    funder: FunderKind | None = None,
    year: Year | None = None,
    commune: Annotated[Line, Query(max_length=64)] | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
    reader: Caller = Depends(caller()),
    repo: FundingRepository = Depends(repository),
) -> list[dict[str, Any]]:
    scope = _scope(reader)
    if scope is not None and beneficiary not in (None, scope):
        return []  # another organisation's funding: none to this key
    found = await repo.funding_lines(
        beneficiary=scope or beneficiary, funder=funder, year=year, commune=commune, limit=limit, offset=offset
    )
    return [shown(line, full=scope is None) for line in found]


@router.get("/funding-lines/{line_id}", summary="One line of the cadastre (a beneficiary's key: its own)")
async def get_funding_line(
    line_id: uuid.UUID, reader: Caller = Depends(caller()), repo: FundingRepository = Depends(repository)
) -> dict[str, Any]:
    line = await repo.funding_line(line_id)
    scope = _scope(reader)
    if line is None or scope not in (None, line.beneficiary):
        raise NotFound(f"no funding line {line_id}")
    return shown(line, full=scope is None)


@router.get(
    "/cadastre/totals", summary="Who funds whom: lines, committed and paid per funder, commune, beneficiary or year"
)
async def get_cadastre_totals(
    by: Literal["funder", "commune", "beneficiary", "year"] = "funder",
    year: Year | None = None,
    _reader: Actor = Depends(require(*READERS)),
    repo: FundingRepository = Depends(repository),
) -> dict[str, Any]:
    groups = await repo.cadastre_totals(by, year=year)
    return {
        "by": by,
        "year": year,
        "groups": [_amounts(g) for g in groups],
        "total": _amounts(
            {
                "key": None,
                "lines": sum(g["lines"] for g in groups),
                "committed_eur": sum((g["committed_eur"] for g in groups), Decimal(0)),
                "paid_eur": sum((g["paid_eur"] for g in groups), Decimal(0)),
                "complete_lines": sum(g["complete_lines"] for g in groups),
            }
        ),
    }


@router.get(
    "/cadastre/completeness", summary="Each labelled EPN: does it have a complete line for the year (action 36)"
)
async def get_cadastre_completeness(
    year: Annotated[Year, Query()],
    _reader: Actor = Depends(require(*READERS)),
    repo: FundingRepository = Depends(repository),
) -> dict[str, Any]:
    epns = await repo.completeness(year)
    complete = [e for e in epns if e["complete_lines"] > 0]
    return {
        "year": year,
        "labelled_epns": len(epns),
        "complete_epns": len(complete),
        "epns": [e | {"complete": e["complete_lines"] > 0} for e in epns],
    }


@router.post(
    "/cadastre/import",
    summary="Import a cadastre spreadsheet (CSV or XLSX); idempotent; a report per refused row",
    description=(
        f"Send the file as the body, with Content-Type text/csv ({cadastre_files.COLUMNS_NOTE}) or "
        f"{cadastre_files.XLSX_MEDIA} (the first sheet); at most {MAX_BYTES // 1024 // 1024} MiB and "
        f"{cadastre_files.MAX_ROWS:,} rows. Valid rows are recorded together; each refused row is "
        "reported with its line, column and reason."
    ),
    openapi_extra=spreadsheets.request_body(MAX_BYTES),
    max_body_size=MAX_BYTES,
)
async def post_cadastre_import(
    request: Request,
    content_type: Annotated[str, Header(max_length=200)] = "",
    uow: UnitOfWork[FundingRepository] = Depends(unit_of_work("coordination")),
) -> dict[str, Any]:
    fmt = spreadsheets.format_of(content_type)
    return (await import_cadastre(uow, await request.body(), fmt)).as_dict()


@router.get("/cadastre/export.csv", summary="The cadastre as CSV, in the import's format")
async def get_cadastre_export_csv(
    year: Year | None = None,
    _reader: Actor = Depends(require(*READERS)),
    repo: FundingRepository = Depends(repository),
) -> Response:
    return await _export(repo, "csv", year)


@router.get("/cadastre/export.xlsx", summary="The cadastre as XLSX, in the import's format")
async def get_cadastre_export_xlsx(
    year: Year | None = None,
    _reader: Actor = Depends(require(*READERS)),
    repo: FundingRepository = Depends(repository),
) -> Response:
    return await _export(repo, "xlsx", year)


async def _export(repo: FundingRepository, fmt: cadastre_files.Format, year: int | None) -> Response:
    lines = await repo.funding_lines(year=year, limit=cadastre_files.MAX_ROWS)
    name = f"cadastre-{year}" if year is not None else "cadastre"
    return Response(
        cadastre_files.write(lines, fmt),
        media_type=cadastre_files.media_type(fmt),
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def _scope(reader: Caller) -> str | None:
    """Whose lines a key reads: every line for the Coordination, operators and CABAN (which
    compiles the cadastre), else its own organisation's as beneficiary."""
    return None if reader.key_role in READERS else reader_scope(reader.actor)


def _amounts(group: dict[str, Any]) -> dict[str, Any]:
    return group | {"committed_eur": str(group["committed_eur"]), "paid_eur": str(group["paid_eur"])}


def shown(line: FundingLine, *, full: bool = False) -> dict[str, Any]:
    """A line; ``full`` adds who recorded it (the Coordination's and operators' view)."""
    out: dict[str, Any] = {
        "line_id": str(line.line_id),
        "beneficiary": line.beneficiary,
        "beneficiary_kind": line.beneficiary_kind,
        "commune": line.commune,
        "funder": line.funder,
        "funder_name": line.funder_name,
        "programme": line.programme,
        "year": line.year,
        "committed_eur": str(line.committed_eur),
        "paid_eur": None if line.paid_eur is None else str(line.paid_eur),
        "cofinancing_pct": None if line.cofinancing_pct is None else str(line.cofinancing_pct),
        "complete": line.complete,
        "recorded_at": line.recorded_at,
        "updated_at": line.updated_at,
    }
    if full and line.recorded_by is not None:
        out["recorded_by"] = line.recorded_by.model_dump(mode="json")
    return out
