"""The actions service's own commands: CSV import and export, the annual report (a preview), the
overdue-milestone check. ``python -m services.actions <command> --help``.

Commands run in the session the runtime's CLI gives them (units of work and the repository on a
migrated pool); the events they cause wait in the outbox until the service's relay publishes them."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from datetime import date
from pathlib import Path

from passerelle_contracts import Actor

from services.runtime.cli import Command
from services.runtime.errors import PasserelleError
from services.runtime.inputs import brussels_today, decode_csv
from services.runtime.uow import Context, Session

from .handlers.annual_report import build_annual_report
from .handlers.csv_io import KINDS, ImportCsv, export_csv, import_csv
from .handlers.milestones import AnnounceOverdue, announce_overdue
from .handlers.plan import load_structure, read_seed
from .report.files import render_all
from .sql import ActionsRepository

OPERATOR = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="cli")

Actions = Session[ActionsRepository]


def _bar(started: float, done: int, total: int) -> None:
    """A progress bar on stderr: the rows done of a file, and the time since ``started``."""
    width = 30
    filled = width * done // max(total, 1)
    elapsed = time.perf_counter() - started
    sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} rows, {elapsed:.1f} s")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


async def _import(args: argparse.Namespace, session: Actions) -> None:
    uow = session.unit_of_work(Context(actor=OPERATOR))  # one flow: every file of this import
    failed = 0
    await load_structure(uow, read_seed()[0])  # axes, chantiers, organisations: what rows refer to
    for kind in KINDS:  # actions before the indicators that name them, before their measurements
        path = Path(args.dir) / f"{kind}.csv"
        if not path.is_file():
            continue
        print(f"{path.name}:", file=sys.stderr)
        progress = functools.partial(_bar, time.perf_counter())
        try:
            text = decode_csv(path.read_bytes())  # UTF-8 only, as over HTTP: the line at fault is named
        except PasserelleError as error:
            sys.exit(f"{path.name}: {error.reason}")
        report = await import_csv(uow, ImportCsv(kind, text), progress=progress)
        print(json.dumps(report.as_dict(), ensure_ascii=False))
        failed += len(report.errors)
    if failed:
        sys.exit(f"{failed} rows were not imported (see the errors above)")


async def _export(args: argparse.Namespace, session: Actions) -> None:
    repo = session.repository()
    _write(Path(args.dir), {f"{kind}.csv": (await export_csv(repo, kind)).encode("utf-8") for kind in KINDS})


async def _annual_report(args: argparse.Namespace, session: Actions) -> None:
    """Render the report to files without publishing it (a preview; publish with POST /annual-reports)."""
    report = await build_annual_report(session.repository(), args.year, args.as_of)
    _write(Path(args.out), render_all(report))


def _write(folder: Path, files: dict[str, bytes]) -> None:
    """Write the files into ``folder`` (made if missing) and name each on stdout."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
        print(folder / name)


async def _check(args: argparse.Namespace, session: Actions) -> None:
    as_of = args.as_of or brussels_today()  # checked by announce_overdue
    announced = await announce_overdue(session.unit_of_work(Context.system()), AnnounceOverdue(as_of))
    print(f"{len(announced)} overdue milestones announced")


def _dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", required=True, help="folder with actions.csv, indicators.csv, measurements.csv")


def _day(text: str) -> date:
    """A day on the command line; one that cannot be read is argparse's refusal (status 2)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-12-31") from None


def _year(text: str) -> int:
    """A year the plan reports on, as ``services.runtime.inputs.Year`` (ASCII digits: int() reads
    "٢٠٢٤" but refuses "²⁰²⁴" with a ValueError, which isdigit() alone lets through)."""
    if not (text.isascii() and text.isdigit() and 2000 <= int(text) <= 2100):
        raise argparse.ArgumentTypeError(f"{text!r} is not a year from 2000 to 2100")
    return int(text)


def _report_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--year", type=_year, required=True)
    parser.add_argument("--as-of", type=_day, required=True, help="cut-off date, e.g. 2024-12-31")
    parser.add_argument("--out", required=True, help="folder to write the HTML, PDF and CSV files to")


def _check_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", type=_day, default=None, help="default: today in Brussels (never a later day)")


COMMANDS = {
    "import": Command("import CSV files (idempotent), showing progress", _dir, _import),
    "export": Command("export actions, indicators and manual measurements as CSV", _dir, _export),
    "annual-report": Command("render the annual report as of a date into a folder", _report_args, _annual_report),
    "check-milestones": Command("announce overdue milestones now", _check_args, _check),
}
