"""EPN activity returns (plan action 28, "automate the collection"): each EPN's quarterly counts of
visits, sessions and participants, with the participants by public, age band and gender. Counts,
never people: nothing in a return names or describes a person. No I/O; dates are passed in.

What the counts mean. ``visits``: visits to the EPN in the quarter (a person coming three times
is three visits). ``sessions``: group sessions held (workshops, trainings). ``participants``: the
people the EPN served in the quarter, each once as far as it can tell; the breakdowns describe
them. No rule ties the three together: EPNs count free access differently (some not at the door),
and such a check would refuse honest returns.

The breakdowns. Age bands and genders each divide the participants, so each adds up to
``participants`` **or less**: what is not broken down is "not stated" (genders also have an
explicit ``not-stated``; age bands have none, the rest is it). Publics overlap (a senior may
also be a job-seeker and a woman), so each public is at most ``participants`` and their sum may
be more. A zero is the same as an absent key: a return is kept without them, so that ``{"men": 0}``
and ``{}`` are the same return.

When a return is due. A quarter's return is accepted once the quarter has ended (from the first
day of the next one) and is due on the **last day of the month after the quarter**: 30 April, 31
July, 31 October and 31 January. A month closes the quarter's books (the Coordination's own
monthly rhythm), the four days are ones partners name without a calendar, and Q4's return is in
by 31 January, so that the yearly study can be built in February with the whole year. A late
return is accepted all the same (it is marked late): the study needs it more than the deadline.

Corrections. A quarter has one return per EPN; sending it again with other counts is a
correction: the next ``revision``, carrying the whole return, the earlier revisions kept. The
same counts again are no news.

Who may submit. The Coordination, for any EPN, or a key of the organisation that runs the EPN
(``epns.operator``), for its own. (The ``epn-operator`` key role will narrow the second; the
organisation is what is checked for now.)

Chasing. A labelled EPN owes the return of every quarter from the one it was labelled in (the
latest labelling: ``labelled_on``), never before ``FIRST_YEAR``; each missing one is reminded at
the stages of ``calls.reminder_stage`` (14 and 7 days before its due day, on the day, then overdue).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, get_args

from passerelle_contracts import Actor
from passerelle_contracts.common import AGE_BANDS, GENDERS, Public

from services.runtime.errors import Invalid
from services.runtime.inputs import INT4_MAX

from .calls import reminder_stage
from .grants import READ_ALL_ROLES

FIRST_YEAR = 2020
"""No return is asked for, or taken, before 2020: the plan's figures start in 2021, and 2020 is
the year before, a baseline."""
PUBLICS: tuple[Public, ...] = get_args(Public)
NOT_STATED = "not-stated"
BREAKDOWNS: dict[str, tuple[str, ...]] = {"by_public": PUBLICS, "by_age_band": AGE_BANDS, "by_gender": GENDERS}
COUNTS = ("visits", "sessions", "participants")


class ReturnRefused(Invalid):
    """A return that breaks a rule, with the field at fault (a CSV import reports it as the column)."""

    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(f"{column}: {reason}" if column else reason)
        self.column, self.why = column, reason


@dataclass(frozen=True)
class ActivityReturn:
    """An EPN's return for a quarter, as submitted (``revision`` and what follows are the
    register's: set when it is stored)."""

    epn: str
    year: int
    quarter: int
    visits: int
    sessions: int
    participants: int
    by_public: Mapping[str, int] = field(default_factory=dict)
    by_age_band: Mapping[str, int] = field(default_factory=dict)
    by_gender: Mapping[str, int] = field(default_factory=dict)
    revision: int = 1
    submitted_on: date | None = None  # the Brussels day of this revision
    first_submitted_on: date | None = None  # the day of revision 1: whether the return was late
    submitted_by: Actor | None = None
    submitted_at: datetime | None = None

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.epn, self.year, self.quarter)

    def counts(self) -> tuple[Any, ...]:
        """What a correction may change: the counts and breakdowns (zeros left out)."""
        return (
            self.visits,
            self.sessions,
            self.participants,
            *(tuple(sorted(_nonzero(getattr(self, name)).items())) for name in BREAKDOWNS),
        )

    @property
    def due_on(self) -> date:
        return due_on(self.year, self.quarter)

    @property
    def late(self) -> bool:
        """Whether the first revision came after the due day (a correction never makes it late)."""
        first = self.first_submitted_on or self.submitted_on
        return first is not None and first > self.due_on


def _nonzero(counts: Mapping[str, int]) -> dict[str, int]:
    return {code: value for code, value in counts.items() if value}


def normalised(ret: ActivityReturn) -> ActivityReturn:
    """The return as it is kept: breakdowns without zeros, in the vocabulary's order."""

    def kept(counts: Mapping[str, int], codes: tuple[str, ...]) -> dict[str, int]:
        return {code: counts[code] for code in codes if counts.get(code)}

    return replace(
        ret,
        by_public=kept(ret.by_public, PUBLICS),
        by_age_band=kept(ret.by_age_band, AGE_BANDS),
        by_gender=kept(ret.by_gender, GENDERS),
    )


# --- quarters and their due days -------------------------------------------------------------


def quarter_of(day: date) -> tuple[int, int]:
    return (day.year, (day.month - 1) // 3 + 1)


def quarter_end(year: int, quarter: int) -> date:
    """The quarter's last day."""
    return _month_end(year, 3 * quarter)


def due_on(year: int, quarter: int) -> date:
    """The last day of the month after the quarter (30 April, 31 July, 31 October, 31 January)."""
    after = quarter_end(year, quarter) + timedelta(days=1)
    return _month_end(after.year, after.month)


def _month_end(year: int, month: int) -> date:
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def next_quarter(year: int, quarter: int) -> tuple[int, int]:
    return (year + 1, 1) if quarter == 4 else (year, quarter + 1)


CHASE_DAYS = 365
"""How long a missing return is chased after its due day. Older ones stay missing in the study,
but are not announced: a register taken over with years of gaps would otherwise send each EPN
dozens of "late" reminders on its first day."""


def quarters_owed(labelled_on: date, today: date) -> list[tuple[int, int]]:
    """The quarters a labelled EPN owes a return for and that are being chased on ``today``: from
    the quarter it was labelled in (never before ``FIRST_YEAR``, nor due more than ``CHASE_DAYS``
    ago) to the last one whose due day is at most 14 days ahead (``reminder_stage`` is not None)."""
    year, quarter = max(quarter_of(labelled_on), (FIRST_YEAR, 1))
    owed: list[tuple[int, int]] = []
    while reminder_stage(due_on(year, quarter), today) is not None:
        if (today - due_on(year, quarter)).days <= CHASE_DAYS:
            owed.append((year, quarter))
        year, quarter = next_quarter(year, quarter)
    return owed


# --- the rules -------------------------------------------------------------------------------


def may_submit(actor: Actor, operator: str) -> bool:
    """The Coordination submits for any EPN; the organisation that runs an EPN for its own."""
    return actor.role == "coordination" or actor.organisation == operator


def operator_scope(actor: Actor) -> str | None:
    """Whose returns a key reads: every EPN's (None) for the Coordination and operators, else those
    of the EPNs its organisation runs (the organisation code, matched with ``epns.operator``)."""
    return None if actor.role in READ_ALL_ROLES else actor.organisation


def check_return(ret: ActivityReturn, today: date) -> None:
    """The rules of a return, each refusal naming its field (``ReturnRefused``)."""
    if not FIRST_YEAR <= ret.year <= 2100:
        raise ReturnRefused("year", f"returns are kept from {FIRST_YEAR}, not for {ret.year}")
    if not 1 <= ret.quarter <= 4:
        raise ReturnRefused("quarter", f"a quarter is 1, 2, 3 or 4, not {ret.quarter}")
    if today <= quarter_end(ret.year, ret.quarter):
        raise ReturnRefused(
            "quarter",
            f"{ret.year}-Q{ret.quarter} ends on {quarter_end(ret.year, ret.quarter)}: "
            "its return is taken from the day after",
        )
    for name in COUNTS:
        _check_count(name, getattr(ret, name))
    for name, codes in BREAKDOWNS.items():
        counts: Mapping[str, int] = getattr(ret, name)
        for code, value in counts.items():
            if code not in codes:
                raise ReturnRefused(f"{name}.{code}", f"{code!r} is not one of {', '.join(codes)}")
            _check_count(f"{name}.{code}", value)
    for name in ("by_age_band", "by_gender"):
        total = sum(getattr(ret, name).values())
        if total > ret.participants:
            raise ReturnRefused(
                name,
                f"adds up to {total}, more than the {ret.participants} participants "
                "(what is not broken down is counted as not stated)",
            )
    for code, value in ret.by_public.items():
        if value > ret.participants:
            raise ReturnRefused(f"by_public.{code}", f"{value} is more than the {ret.participants} participants")


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReturnRefused(name, f"a count is a whole number, not {value!r}")
    if not 0 <= value <= INT4_MAX:
        raise ReturnRefused(name, f"a count is from 0 to {INT4_MAX:,}, not {value}")


def revise(current: ActivityReturn | None, new: ActivityReturn) -> ActivityReturn | None:
    """The revision to keep: the first (revision 1), the next one when the counts differ, or None
    when they are the same (no news: nothing kept, nothing announced)."""
    new = normalised(new)
    if current is None:
        return replace(new, revision=1, first_submitted_on=new.submitted_on)
    if current.counts() == new.counts():
        return None
    return replace(new, revision=current.revision + 1, first_submitted_on=current.first_submitted_on)


# --- the yearly study --------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyPeriod:
    """A quarter's (``quarter`` 1-4) or the whole year's (``quarter`` None) figures.

    ``returns_due``: the returns owed by EPNs labelled now since before the quarter ended (for the
    year, the sum of the quarters'); ``returns_received``: how many of those came in; the share is
    the second of the first, in per cent (None when none was due yet). The counts are every
    return received, from any registered EPN (``epns_returned``), and the year's are the sum of its
    quarters' (a person who comes back every quarter counts in each: counts cannot be
    de-duplicated, which is the price of keeping no people). The age and gender breakdowns add up
    to the participants: what a return did not break down is ``not-stated``."""

    year: int
    quarter: int | None
    due_on: date | None
    returns_due: int
    returns_received: int
    epns_returned: int
    visits: int
    sessions: int
    participants: int
    by_public: dict[str, int]
    by_age_band: dict[str, int]
    by_gender: dict[str, int]

    @property
    def share_received_pct(self) -> Decimal | None:
        if not self.returns_due:
            return None
        share = Decimal(100 * self.returns_received) / Decimal(self.returns_due)
        return share.quantize(Decimal("0.1"), ROUND_HALF_UP)


def study(
    year: int, returns: Iterable[ActivityReturn], labelled: Iterable[tuple[str, date]], today: date
) -> list[StudyPeriod]:
    """The yearly study (action 28): the four quarters of ``year``, then the year. ``returns`` are
    the current returns of the year; ``labelled`` is each EPN labelled now with its labelling
    day. A quarter that has not ended owes nothing yet."""
    by_quarter: dict[int, list[ActivityReturn]] = {q: [] for q in (1, 2, 3, 4)}
    for ret in returns:
        if ret.year == year:
            by_quarter[ret.quarter].append(ret)
    labelled = list(labelled)
    periods = []
    for quarter in (1, 2, 3, 4):
        ended = today > quarter_end(year, quarter)
        owing = {epn for epn, on in labelled if on <= quarter_end(year, quarter)} if ended else set()
        received = {r.epn for r in by_quarter[quarter]}
        periods.append(
            _period(year, quarter, due_on(year, quarter), len(owing), len(owing & received), by_quarter[quarter])
        )
    everything = [r for q in (1, 2, 3, 4) for r in by_quarter[q]]
    year_row = _period(
        year,
        None,
        None,
        sum(p.returns_due for p in periods),
        sum(p.returns_received for p in periods),
        everything,
    )
    return [*periods, year_row]


def _period(
    year: int, quarter: int | None, due: date | None, owed: int, received: int, returns: list[ActivityReturn]
) -> StudyPeriod:
    participants = sum(r.participants for r in returns)
    by_public: dict[str, int] = {code: sum(r.by_public.get(code, 0) for r in returns) for code in PUBLICS}
    by_age: dict[str, int] = {code: sum(r.by_age_band.get(code, 0) for r in returns) for code in AGE_BANDS}
    by_age[NOT_STATED] = participants - sum(by_age.values())
    by_gender: dict[str, int] = {code: sum(r.by_gender.get(code, 0) for r in returns) for code in GENDERS}
    by_gender[NOT_STATED] += participants - sum(by_gender.values())
    return StudyPeriod(
        year=year,
        quarter=quarter,
        due_on=due,
        returns_due=owed,
        returns_received=received,
        epns_returned=len({r.epn for r in returns}),
        visits=sum(r.visits for r in returns),
        sessions=sum(r.sessions for r in returns),
        participants=participants,
        by_public=by_public,
        by_age_band=by_age,
        by_gender=by_gender,
    )
