"""HTTP API: CSV export and import (the same format both ways).

Exports are read with a key (measurements carry their sources and external ids); their text
cells are spreadsheet-safe. Imports are UTF-8 only (``decode_csv``: another encoding is refused
with its line, never stored with replacement characters), at most ``MAX_BYTES``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Depends, Request, Response
from passerelle_contracts import Actor

from services.runtime.auth import require
from services.runtime.http import api_router, repository, unit_of_work
from services.runtime.inputs import CSV_ENCODING_NOTE, decode_csv

from ..handlers.aggregate import Uow
from ..handlers.csv_io import COLUMNS, OPTIONAL, ImportCsv, export_csv, import_csv
from ..sql import ActionsRepository

router = api_router(tags=["CSV"])
Kind = Literal["actions", "indicators", "measurements"]
MAX_BYTES = 10 * 1024 * 1024  # the whole plan exports as about 22 KiB, its indicators 2 KiB


@router.get("/export/{kind}.csv", summary="Export actions, indicators or manual measurements as CSV")
async def get_export(
    kind: Kind, reader: Actor = Depends(require()), repo: ActionsRepository = Depends(repository)
) -> Response:
    return Response(
        await export_csv(repo, kind),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'},
    )


@router.post(
    "/import/{kind}.csv",
    summary="Import a CSV in the export's format; idempotent; a report per row",
    description=f"The file: {CSV_ENCODING_NOTE}; at most {MAX_BYTES // 1024 // 1024} MiB.",
    openapi_extra={
        "requestBody": {
            "content": {"text/csv": {"schema": {"type": "string", "maxLength": MAX_BYTES}}},
            "required": True,
        },
    },
    max_body_size=MAX_BYTES,
)
async def post_import(request: Request, kind: Kind, uow: Uow = Depends(unit_of_work("coordination"))) -> dict[str, Any]:
    # Raw text/csv, not JSON: read from the request itself. A file above MAX_BYTES never gets
    # here: the route's ``max_body_size`` answers 413 (declared or streamed, before the import).
    body = await request.body()
    required = [c for c in COLUMNS[kind] if c not in OPTIONAL.get(kind, ())]
    return (await import_csv(uow, ImportCsv(kind, decode_csv(body, required)))).as_dict()
