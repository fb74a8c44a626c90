"""The funding cadastre: record lines (one, or a whole spreadsheet), and keep each year's coverage.

A line is found again by its key (beneficiary, funder, funder's name, programme, year), so a
spreadsheet imported twice records nothing the second time, and a corrected one changes only the
lines that differ, each change announced with its old and new values. All the lines of one call
commit together with their events and the coverage they change: a partner never sees half an
import.

The coverage of a year is the number of labelled EPNs with at least one complete line for that
year: action 36's figure. It is announced (``CadastreCoverageChanged``) only when it changes, under
the coverage register's row lock, so versions follow the order of commits and readers keep the
highest. A label decision changes it too: ``decide_label`` calls ``refresh_coverage`` for the years
in which the EPN has lines.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from passerelle_contracts.funding_v1 import CadastreCoverageChanged

from services.runtime.uow import UnitOfWork

from .. import cadastre_files, domain, events
from ..domain import FundingLine
from ..repository import FundingRepository

Uow = UnitOfWork[FundingRepository]
Outcome = Literal["created", "changed", "unchanged"]


@dataclass
class LinesReport:
    """What an import did: counts per outcome, and each refused row with its line and reason."""

    created: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    lines: list[tuple[Outcome, FundingLine]] = field(default_factory=list)  # as stored, in the file's order

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "changed": self.changed, "unchanged": self.unchanged, "errors": self.errors}


async def record_lines(
    uow: Uow,
    lines: Iterable[FundingLine],
    report: LinesReport | None = None,
    progress: Callable[[int], None] | None = None,
) -> LinesReport:
    """Record lines (new ones created, known ones changed where they differ) and the coverage of
    their years, in one transaction. ``report`` may already hold the rows refused while reading;
    ``progress`` is told each line done (a command line's progress bar)."""
    report = report or LinesReport()
    async with uow:
        years: set[int] = set()
        for line in lines:
            outcome, stored = await _record_line(uow, line)
            setattr(report, outcome, getattr(report, outcome) + 1)
            report.lines.append((outcome, stored))
            if outcome != "unchanged":
                years.add(stored.year)
            if progress is not None:
                progress(1)
        await refresh_coverage(uow, years)
    return report


def read_cadastre(body: bytes, fmt: cadastre_files.Format) -> tuple[list[FundingLine], LinesReport]:
    """The lines of a spreadsheet, and a report holding its refused rows (line, column, reason).
    A line given twice in one file is refused the second time: which one holds would be a guess."""
    report = LinesReport()
    lines: list[FundingLine] = []
    seen: dict[tuple[str, str, str, str, int], int] = {}
    for number, row in cadastre_files.read(body, fmt):
        try:
            line = cadastre_files.parse(number, row)
        except cadastre_files.RowError as error:
            report.errors.append({"line": number, "column": error.column, "reason": error.reason})
            continue
        if line.key in seen:
            report.errors.append(
                {"line": number, "column": None, "reason": f"the same funding line as line {seen[line.key]}"}
            )
            continue
        seen[line.key] = number
        lines.append(line)
    return lines, report


async def import_cadastre(
    uow: Uow, body: bytes, fmt: cadastre_files.Format, progress: Callable[[int], None] | None = None
) -> LinesReport:
    """Import a cadastre spreadsheet: its valid rows recorded together, each refused row reported.
    Idempotent: the same file again reports every line unchanged and announces nothing."""
    lines, report = read_cadastre(body, fmt)
    return await record_lines(uow, lines, report, progress)


async def _record_line(uow: Uow, line: FundingLine) -> tuple[Outcome, FundingLine]:
    if line.commune is None and line.beneficiary_kind == "epn":
        registered = await uow.repo.epn(line.beneficiary)
        if registered is not None:  # the register knows where the EPN is
            line = dataclasses.replace(line, commune=registered.details.commune)
    existing = await uow.repo.funding_line_by_key(line.key)
    if existing is None:
        new = dataclasses.replace(line, line_id=uuid.uuid4(), recorded_by=uow.actor)
        stored = await uow.repo.add_funding_line(new)
        if stored is not None:
            uow.emit(events.funding_line_recorded(stored), subject=events.line_subject(stored))
            return "created", stored
        existing = await uow.repo.funding_line_by_key(line.key)  # another import stored it meanwhile
        assert existing is not None
    changes = domain.line_changes(existing, line)
    if not changes:
        return "unchanged", existing
    assert existing.line_id is not None
    updated = await uow.repo.update_funding_line(existing.line_id, {name: new for name, _, new in changes})
    uow.emit(events.funding_line_changed(updated, events.field_changes(changes)), subject=events.line_subject(updated))
    return "changed", updated


async def refresh_coverage(uow: Uow, years: Iterable[int]) -> list[CadastreCoverageChanged]:
    """Announce the coverage of each year that changed (inside the caller's unit of work)."""
    announced: list[CadastreCoverageChanged] = []
    wanted = sorted(set(years))
    if not wanted:
        return announced
    version = await uow.repo.lock_coverage()
    for year in wanted:
        now = await uow.repo.measure_coverage(year)
        before = await uow.repo.announced_coverage(year)
        if (before.complete_epns if before is not None else 0) == now.complete_epns:
            continue  # the figure readers have is right (labelled_epns alone is context, not news)
        version += 1
        await uow.repo.save_coverage(now, version)
        event = events.cadastre_coverage_changed(now, version)
        uow.emit(event, subject=f"cadastre-{year}")
        announced.append(event)
    return announced
