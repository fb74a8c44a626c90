"""EPN activity returns as CSV (action 28), both ways. Pure: bytes in, returns and a report per bad
row (its line, column and reason) out; the yearly study in, CSV text out.

One row per EPN and quarter: ``epn, year, quarter, visits, sessions, participants``, then a
column per public (``public:seniors`` …), age band (``age:18-29`` …) and gender
(``gender:women`` …): the kind is part of the name, since ``women`` is both a public and a gender.
An empty breakdown cell is 0 (not stated); a count is a whole number, spaces as thousands
separators allowed (``1 250``). A breakdown column the format does not know (``public:senior``),
or a code without its kind (``women``), refuses the whole file: its counts would be lost without a
word. Other columns (a commune, a note) are ignored. The file is UTF-8 (``decode_csv``), at most
``MAX_ROWS`` rows: about a hundred EPNs send four returns a year.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from passerelle_contracts.common import AGE_BANDS, GENDERS

from services.runtime.errors import Invalid
from services.runtime.inputs import INT4_MAX, write_csv

from . import spreadsheets
from .domain.returns import PUBLICS, ActivityReturn, StudyPeriod

PREFIXES = {"public": ("by_public", PUBLICS), "age": ("by_age_band", AGE_BANDS), "gender": ("by_gender", GENDERS)}
REQUIRED = ("epn", "year", "quarter", "visits", "sessions", "participants")
BREAKDOWN_COLUMNS = tuple(f"{prefix}:{code}" for prefix, (_, codes) in PREFIXES.items() for code in codes)
COLUMNS = (*REQUIRED, *BREAKDOWN_COLUMNS)
COLUMNS_NOTE = (
    "UTF-8, one row per EPN and quarter, a header line naming the columns "
    + ", ".join(REQUIRED)
    + " and, as known, public:<public>, age:<age band>, gender:<gender> (an empty cell is 0)"
)
MAX_ROWS = 5_000  # a hundred EPNs' returns for twelve years; one import is one transaction

_CODES = frozenset((*PUBLICS, *AGE_BANDS, *GENDERS))
_SPACES = re.compile(r"[\s\u00a0\u202f]")
_EPN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")  # an organisation code (``inputs.Code``)


class RowError(ValueError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column, self.reason = column, reason


def read(body: bytes, fmt: spreadsheets.Format = "csv") -> list[tuple[int, dict[str, str]]]:
    """(line, cells by column) of each row with a cell; ``Invalid`` for a file that cannot be read
    at all (not UTF-8, not an XLSX, a required column missing, a breakdown column unknown, too
    many rows)."""
    header, lines = spreadsheets.table(body, fmt, (), MAX_ROWS)
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise Invalid(f"line 1: missing columns: {', '.join(missing)} (expected {', '.join(REQUIRED)})")
    bare = [name for name in header if name in _CODES]
    if bare:  # "women" is a public and a gender: which count it is cannot be guessed
        raise Invalid(
            f"line 1: column(s) {', '.join(bare)}: name a breakdown column with its kind, e.g. "
            f"gender:{bare[0]}, public:{bare[0]} or age:{bare[0]}"
        )
    unknown = [name for name in header if ":" in name and name not in BREAKDOWN_COLUMNS]
    if unknown:
        raise Invalid(
            f"line 1: unknown column(s) {', '.join(unknown)}: breakdown columns are public:<public> "
            f"({', '.join(PUBLICS)}), age:<band> ({', '.join(AGE_BANDS)}), gender:<gender> ({', '.join(GENDERS)})"
        )
    rows: list[tuple[int, dict[str, str]]] = []
    for line, cells in lines:
        row = {name: cell.text for name, cell in spreadsheets.by_column(header, cells, COLUMNS).items() if cell.text}
        if row:
            rows.append((line, row))
    return rows


def write(returns: Iterable[ActivityReturn], fmt: spreadsheets.Format) -> bytes:
    """Returns in the import's format: one row per EPN and quarter, every breakdown column (an
    empty cell where none was stated), so an export imported again changes nothing."""
    rows = []
    for ret in returns:
        counts = {f"public:{k}": v for k, v in ret.by_public.items()}
        counts |= {f"age:{k}": v for k, v in ret.by_age_band.items()}
        counts |= {f"gender:{k}": v for k, v in ret.by_gender.items()}
        rows.append(
            [ret.epn, ret.year, ret.quarter, ret.visits, ret.sessions, ret.participants,
             *(counts.get(column) or None for column in BREAKDOWN_COLUMNS)]
        )  # fmt: skip
    return spreadsheets.write(COLUMNS, rows, fmt, "returns")


def parse(row: dict[str, str]) -> ActivityReturn:
    """A row as a return (the rules of a return are the domain's); ``RowError`` names the column."""
    epn = row.get("epn", "").lower()
    if not epn:
        raise RowError("epn", "is empty")
    if not _EPN.fullmatch(epn):
        raise RowError("epn", f"{epn[:70]!r} is not an EPN's code (lower-case letters, digits, hyphens)")
    breakdowns: dict[str, dict[str, int]] = {name: {} for name, _ in PREFIXES.values()}
    for column in BREAKDOWN_COLUMNS:
        if column in row:
            prefix, code = column.split(":", 1)
            breakdowns[PREFIXES[prefix][0]][code] = _count(column, row[column])
    return ActivityReturn(
        epn=epn,
        year=_count("year", _required(row, "year")),
        quarter=_quarter(_required(row, "quarter")),
        visits=_count("visits", _required(row, "visits")),
        sessions=_count("sessions", _required(row, "sessions")),
        participants=_count("participants", _required(row, "participants")),
        by_public=breakdowns["by_public"],
        by_age_band=breakdowns["by_age_band"],
        by_gender=breakdowns["by_gender"],
    )


def _required(row: dict[str, str], column: str) -> str:
    value = row.get(column)
    if value is None:
        raise RowError(column, "is empty")
    return value


def _quarter(text: str) -> int:
    plain = text.strip().upper().removeprefix("Q")  # "2" or "Q2"
    if plain not in ("1", "2", "3", "4"):
        raise RowError("quarter", f"{text[:20]!r} is not a quarter: 1, 2, 3 or 4 (or Q1 … Q4)")
    return int(plain)


def _count(column: str, text: str) -> int:
    plain = _SPACES.sub("", text)
    if not re.fullmatch(r"\d{1,10}", plain) or int(plain) > INT4_MAX:
        raise RowError(column, f"{text[:20]!r} is not a count (a whole number from 0 to {INT4_MAX:,})")
    return int(plain)


# --- the yearly study ---------------------------------------------------------------------------

STUDY_COLUMNS = (
    "year",
    "quarter",
    "due_on",
    "returns_due",
    "returns_received",
    "share_received_pct",
    "epns_returned",
    "visits",
    "sessions",
    "participants",
    *(f"public:{code}" for code in PUBLICS),
    *(f"age:{code}" for code in (*AGE_BANDS, "not-stated")),
    *(f"gender:{code}" for code in GENDERS),
)


def write_study(periods: Iterable[StudyPeriod]) -> str:
    """The study as CSV: one row per quarter, then the year's (quarter ``all``)."""
    rows = []
    for p in periods:
        share = p.share_received_pct
        rows.append(
            [
                p.year,
                p.quarter if p.quarter is not None else "all",
                p.due_on.isoformat() if p.due_on is not None else "",
                p.returns_due,
                p.returns_received,
                "" if share is None else str(share),
                p.epns_returned,
                p.visits,
                p.sessions,
                p.participants,
                *p.by_public.values(),
                *p.by_age_band.values(),
                *p.by_gender.values(),
            ]
        )
    return write_csv(STUDY_COLUMNS, rows)
