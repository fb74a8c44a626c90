"""HTTP API: CSV export and import (the same format both ways)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response

from services.runtime.errors import PasserelleError
from services.runtime.http import repository, unit_of_work

from ..handlers.aggregate import Uow
from ..handlers.csv_io import ImportCsv, export_csv, import_csv
from ..sql import ActionsRepository

router = APIRouter(tags=["CSV"])
Kind = Literal["actions", "indicators", "measurements"]
MAX_BYTES = 10 * 1024 * 1024


@router.get("/export/{kind}.csv", summary="Export actions, indicators or manual measurements as CSV")
async def get_export(kind: Kind, repo: ActionsRepository = Depends(repository)) -> Response:
    return Response(
        await export_csv(repo, kind),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'},
    )


@router.post(
    "/import/{kind}.csv",
    summary="Import a CSV in the export's format; idempotent; a report per row",
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
)
async def post_import(request: Request, kind: Kind, uow: Uow = Depends(unit_of_work("coordination"))) -> dict[str, Any]:
    body = await request.body()  # raw text/csv, not JSON: read from the request itself
    if len(body) > MAX_BYTES:
        raise PasserelleError(f"the file is larger than {MAX_BYTES // 1024 // 1024} MiB")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PasserelleError(f"the file is not UTF-8: {error}") from None
    return (await import_csv(uow, ImportCsv(kind, text))).as_dict()
