"""The annual report to the Government: assembled from the history as of a cut-off, rendered,
stored and announced."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from services.runtime.errors import Conflict, Forbidden, Invalid
from services.runtime.inputs import brussels_today, check_happened

from .. import events
from ..report.assembly import assemble, end_of
from ..report.files import render_all
from ..report.model import AnnualReport
from ..sql import ActionsRepository
from .aggregate import Uow


async def build_annual_report(repo: ActionsRepository, year: int, as_of: date) -> AnnualReport:
    """The report as of the end of ``as_of`` (a day that has ended or is under way), from what the
    repository holds (a preview: nothing is stored)."""
    check_happened(as_of, "as_of")  # a cut-off in the future would describe a history that may still change
    cutoff = end_of(as_of)
    plan = await repo.report_plan()
    history = await repo.history_until(cutoff)
    meetings = await repo.meetings_until(cutoff, date(year, 1, 1), as_of)
    return assemble(year, as_of, plan, history, meetings)


@dataclass(frozen=True)
class PublishAnnualReport:
    year: int
    as_of: date


async def publish_annual_report(uow: Uow, command: PublishAnnualReport) -> dict[str, Any]:
    """Build, render and store the report's files, and announce them (AnnualReportPublished).
    A cut-off is published once, and only once its day has ended (yesterday at the latest): the
    same history and cut-off then always give the same files."""
    year, as_of = command.year, command.as_of
    if uow.actor.role != "coordination":
        raise Forbidden("only the Coordination publishes the annual report")
    check_happened(as_of, "as_of")
    today = brussels_today()
    if as_of >= today:  # the cut-off is the end of the day: during it, later events would still count
        raise Invalid(
            f"as_of: today ({today.isoformat()}, Brussels) has not ended: a report published now would differ "
            f"from the same report rebuilt after today's later events; publish as of {today - timedelta(days=1)} "
            "at the latest (a preview of today is python -m services.actions annual-report)"
        )
    if not date(year, 1, 1) <= as_of <= date(year + 1, 12, 31):
        raise Conflict(f"the cut-off {as_of} does not fall in or just after {year}")
    report_id = f"annual-report-{year}-as-of-{as_of.isoformat()}"
    await _refuse_if_published(uow, report_id)  # before seconds of rendering, not after
    report = await build_annual_report(uow.repo, year, as_of)  # read outside the transaction: rendering is long
    # Rendering the PDFs takes seconds of CPU: off the event loop, so consumers and HTTP keep going.
    files = await asyncio.to_thread(render_all, report)
    hashes = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    async with uow:
        await _refuse_if_published(uow, report_id)  # again in the transaction: a concurrent publication
        await uow.repo.insert_annual_report(
            report_id,
            year,
            as_of,
            uow.actor.model_dump(mode="json"),
            {name: (hashes[name], content) for name, content in files.items()},
        )
        published = events.annual_report_published(
            report_id, year, as_of, len(report.actions()), report.by_status, hashes
        )
        uow.emit(published, report_id)
    return {"report_id": report_id, "year": year, "as_of": as_of, "files": hashes, "by_status": report.by_status}


async def _refuse_if_published(uow: Uow, report_id: str) -> None:
    if await uow.repo.annual_report_exists(report_id):
        raise Conflict(f"{report_id} was already published; its files are at /annual-reports/{report_id}")
