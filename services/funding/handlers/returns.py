"""EPN activity returns (action 28): submit one (JSON) or many (CSV), chase the missing ones, build
the yearly study. The rules are ``domain.returns``'s; each use case is one unit of work.

A return is found again by its EPN and quarter: the first is revision 1, another with other counts
is a correction (the next revision, the earlier kept), the same counts again are no news — nothing
kept, nothing announced, so a partner's retry or a spreadsheet sent twice is harmless.
``ActivityReturnSubmitted`` carries the whole return and is keyed by the EPN (``epn-<code>``, the
register's subject): a quarter's corrections are numbered under its row's lock, so their events
leave in the order of their revisions.

The chase (``chase_returns``) runs with the deadline check: each labelled EPN's missing returns
are reminded once per stage (``ActivityReturnReminder``); the reminders' record
(``record_reminder``) is what makes it safe to run on every replica and again after a restart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from passerelle_contracts.funding_v1 import ActivityReturnReminder, ActivityReturnSubmitted

from services.runtime.errors import Forbidden, NotFound
from services.runtime.inputs import brussels_today
from services.runtime.uow import UnitOfWork

from .. import events, returns_files
from ..domain.calls import reminder_stage
from ..domain.returns import (
    ActivityReturn,
    ReturnRefused,
    StudyPeriod,
    check_return,
    due_on,
    may_submit,
    quarters_owed,
    revise,
    study,
)
from ..repository import FundingRepository

Uow = UnitOfWork[FundingRepository]
Outcome = Literal["created", "corrected", "unchanged"]
REMINDER_KIND = "return"  # ``reminders.subject_kind``


@dataclass
class ReturnsReport:
    """What an import did: returns per outcome, and each refused row with its line, column and reason."""

    created: int = 0
    corrected: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        errors = sorted(self.errors, key=lambda e: e["line"])
        return {"created": self.created, "corrected": self.corrected, "unchanged": self.unchanged, "errors": errors}


async def submit_return(uow: Uow, ret: ActivityReturn, today: date | None = None) -> tuple[Outcome, ActivityReturn]:
    """Keep an EPN's return of a quarter, sent on ``today`` (a Brussels day; by default, the day
    in Brussels now): (what it was, the return as kept). ``NotFound`` for an EPN not in the
    register, ``Forbidden`` for a key of neither the Coordination nor the EPN's operator,
    ``ReturnRefused`` (422) for a broken rule."""
    async with uow:
        return await _submit(uow, ret, today or brussels_today())


async def _submit(uow: Uow, ret: ActivityReturn, today: date) -> tuple[Outcome, ActivityReturn]:
    epn = await uow.repo.epn(ret.epn)
    if epn is None:
        raise NotFound(f"no EPN {ret.epn} in the register")
    if not may_submit(uow.actor, epn.details.operator):
        raise Forbidden(f"only the Coordination or {epn.details.operator}, its operator, send {ret.epn}'s returns")
    check_return(ret, today)
    ret = dataclasses.replace(ret, submitted_on=today, submitted_by=uow.actor)
    current = await uow.repo.activity_return(*ret.key, lock=True)
    revision = revise(current, ret)
    if revision is None:
        assert current is not None
        return "unchanged", current
    if current is None:
        stored = await uow.repo.add_activity_return(revision)
        if stored is None:  # another submission kept the first meanwhile: this one corrects it
            current = await uow.repo.activity_return(*ret.key, lock=True)
            revision = revise(current, ret)
            if revision is None:
                assert current is not None
                return "unchanged", current
            stored = await uow.repo.correct_activity_return(revision)
    else:
        stored = await uow.repo.correct_activity_return(revision)
    uow.emit(activity_return_submitted(stored), subject=events.epn_subject(stored.epn))
    return ("created" if stored.revision == 1 else "corrected"), stored


async def import_returns(
    uow: Uow,
    body: bytes,
    today: date | None = None,
    fmt: returns_files.spreadsheets.Format = "csv",
    progress: Callable[[int], None] | None = None,
) -> ReturnsReport:
    """Import a spreadsheet of returns (CSV or XLSX) sent on ``today`` (by default, the day in
    Brussels now): the valid rows kept together (one transaction), each refused row reported. A
    quarter given twice in one file is refused the second time (which one holds would be a
    guess). Idempotent: the same file again reports every return unchanged. ``progress`` is told
    each row done (a command line's progress bar)."""
    today = today or brussels_today()
    report = ReturnsReport()
    parsed: list[tuple[int, ActivityReturn]] = []
    seen: dict[tuple[str, int, int], int] = {}
    for line, row in returns_files.read(body, fmt):
        try:
            ret = returns_files.parse(row)
        except returns_files.RowError as error:
            report.errors.append({"line": line, "column": error.column, "reason": error.reason})
            continue
        if ret.key in seen:
            reason = f"the same EPN and quarter as line {seen[ret.key]}"
            report.errors.append({"line": line, "column": None, "reason": reason})
            continue
        seen[ret.key] = line
        parsed.append((line, ret))
    async with uow:
        for line, ret in parsed:
            try:
                outcome, _ = await _submit(uow, ret, today)
            except ReturnRefused as refused:
                report.errors.append({"line": line, "column": _column(refused.column), "reason": refused.why})
            except (NotFound, Forbidden) as refused:
                report.errors.append({"line": line, "column": "epn", "reason": refused.reason})
            else:
                setattr(report, outcome, getattr(report, outcome) + 1)
            if progress is not None:
                progress(1)
    return report


_CSV_PREFIX = {"by_public": "public", "by_age_band": "age", "by_gender": "gender"}


def _column(name: str | None) -> str | None:
    """A rule's field as the CSV names it: ``by_public.seniors`` is ``public:seniors``, and
    ``by_gender`` (its sum) the ``gender:*`` columns."""
    if name is None:
        return None
    head, _, code = name.partition(".")
    return f"{_CSV_PREFIX[head]}:{code or '*'}" if head in _CSV_PREFIX else name


async def chase_returns(uow: Uow, today: date) -> int:
    """Remind each labelled EPN of its missing returns, once per stage: the number announced.

    A quarter is chased from 14 days before its due day, from the quarter the EPN was labelled in
    (its latest labelling) and never before 2020 (``quarters_owed``); a return kept ends its
    chase. A stage is announced once whoever checks (two replicas, a re-run): the reminders'
    record decides."""
    announced = 0
    async with uow:
        returned = await uow.repo.returned_quarters(since_year=today.year - 2)  # CHASE_DAYS reach no further back
        for epn, labelled_on in await uow.repo.labelled_epns_since():
            for year, quarter in quarters_owed(labelled_on, today):
                if (epn, year, quarter) in returned:
                    continue
                due = due_on(year, quarter)
                stage = reminder_stage(due, today)
                assert stage is not None, "quarters_owed gives the quarters being chased"
                if await uow.repo.record_reminder(REMINDER_KIND, f"{epn}:{year}-Q{quarter}", stage, due):
                    reminder = ActivityReturnReminder(epn=epn, year=year, quarter=quarter, due_on=due, stage=stage)
                    uow.emit(reminder, subject=events.epn_subject(epn))
                    announced += 1
    return announced


async def read_study(repo: FundingRepository, year: int, today: date) -> list[StudyPeriod]:
    """The yearly study (action 28) as of ``today``: the four quarters, then the year."""
    returns = await repo.activity_returns_of_year(year)
    labelled = await repo.labelled_epns_since()
    return study(year, returns, labelled, today)


def activity_return_submitted(ret: ActivityReturn) -> ActivityReturnSubmitted:
    """The contract event of a kept revision (here rather than in ``events.py`` while the calls
    work changes that module; it moves there with the next tidy-up)."""
    assert ret.submitted_on is not None
    return ActivityReturnSubmitted(
        epn=ret.epn,
        year=ret.year,
        quarter=ret.quarter,
        revision=ret.revision,
        visits=ret.visits,
        sessions=ret.sessions,
        participants=ret.participants,
        by_public=dict(ret.by_public),
        by_age_band=dict(ret.by_age_band),
        by_gender=dict(ret.by_gender),
        submitted_on=ret.submitted_on,
    )
