"""HTTP API: CSV export and import (the same format both ways)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from passerelle_contracts import Actor

from services.runtime.auth import require
from services.runtime.errors import PasserelleError
from services.runtime.http import correlation_id

from .csv_io import export_csv, import_csv
from .events import TOPIC

router = APIRouter(tags=["CSV"])
Kind = Literal["actions", "indicators", "measurements"]
MAX_BYTES = 10 * 1024 * 1024


@router.get("/export/{kind}.csv", summary="Export actions, indicators or manual measurements as CSV")
async def get_export(request: Request, kind: Kind) -> Response:
    text = await export_csv(request.app.state.runtime.pool, kind)
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'})


@router.post(
    "/import/{kind}.csv",
    summary="Import a CSV in the export's format; idempotent; a report per row",
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
)
async def post_import(
    request: Request, kind: Kind, actor: Actor = Depends(require("coordination")),
    correlation: uuid.UUID = Depends(correlation_id),
) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BYTES:
        raise PasserelleError(f"the file is larger than {MAX_BYTES // 1024 // 1024} MiB")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PasserelleError(f"the file is not UTF-8: {error}") from None
    runtime = request.app.state.runtime
    report = await import_csv(runtime.pool, runtime.topic(TOPIC), kind, text, actor, correlation)
    return report.as_dict()
