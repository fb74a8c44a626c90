"""The funding service's own commands: the cadastre's spreadsheet import (with a progress bar)
and export. ``python -m services.funding <command> --help``.

Commands run in the session the runtime's CLI gives them; the events they cause wait in the
outbox until the service's relay publishes them. The progress bar is click's (click is already
here as uvicorn's dependency): it writes to stderr, so stdout keeps the JSON report alone."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click
from passerelle_contracts import Actor

from services.runtime.cli import Command
from services.runtime.errors import PasserelleError
from services.runtime.inputs import brussels_today, check_happened
from services.runtime.uow import Context, Session

from . import cadastre_files, calls_files, returns_files
from .handlers import read_cadastre, record_lines
from .handlers.calls import import_calls
from .handlers.deadlines import check_all_deadlines
from .handlers.returns import import_returns
from .repository import FundingRepository

OPERATOR = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="cli")

Funding = Session[FundingRepository]


def _format(path: Path) -> cadastre_files.Format:
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("csv", "xlsx"):
        raise argparse.ArgumentTypeError(f"{path.name}: a cadastre file ends in .csv or .xlsx")
    return "csv" if suffix == "csv" else "xlsx"


def _bar(length: int, name: str, unit: str) -> Any:
    """click's progress bar on stderr (drawn only on a terminal), one step per ``unit``."""
    return click.progressbar(length=length, label=f"{name}: {unit}", file=sys.stderr, show_pos=True)


def _done(report: dict[str, Any]) -> None:
    print(json.dumps(report, ensure_ascii=False, default=str))
    if report["errors"]:
        sys.exit(f"{len(report['errors'])} rows were not imported (see the errors above)")


async def _read(path: Path) -> tuple[bytes, cadastre_files.Format]:
    try:
        fmt = _format(path)  # before reading: a file of another kind is refused for what it is
    except argparse.ArgumentTypeError as error:
        sys.exit(str(error))
    return await asyncio.to_thread(path.read_bytes), fmt


async def _import(args: argparse.Namespace, session: Funding) -> None:
    path = Path(args.file)
    body, fmt = await _read(path)
    try:
        lines, report = read_cadastre(body, fmt)
    except PasserelleError as error:
        sys.exit(f"{path.name}: {error.reason}")
    with _bar(len(lines), path.name, "lines") as bar:
        report = await record_lines(session.unit_of_work(Context(actor=OPERATOR)), lines, report, bar.update)
    _done(report.as_dict())


async def _import_returns(args: argparse.Namespace, session: Funding) -> None:
    path = Path(args.file)
    body, fmt = await _read(path)
    try:
        rows = len(returns_files.read(body, fmt))  # the bar's length; the file is read again below
    except PasserelleError as error:
        sys.exit(f"{path.name}: {error.reason}")
    with _bar(rows, path.name, "returns") as bar:
        report = await import_returns(session.unit_of_work(Context(actor=OPERATOR)), body, None, fmt, bar.update)
    _done(report.as_dict())


async def _import_calls(args: argparse.Namespace, session: Funding) -> None:
    path = Path(args.file)
    body, fmt = await _read(path)
    try:
        calls, errors = calls_files.parse(body, fmt)
    except PasserelleError as error:
        sys.exit(f"{path.name}: {error.reason}")
    with _bar(len(calls), path.name, "calls") as bar:
        report = await import_calls(session.unit_of_work(Context(actor=OPERATOR)), calls, errors, bar.update)
    _done(report)


async def _export(args: argparse.Namespace, session: Funding) -> None:
    path = Path(args.out)
    try:
        fmt = _format(path)
    except argparse.ArgumentTypeError as error:
        sys.exit(str(error))
    lines = await session.repository().funding_lines(year=args.year, limit=cadastre_files.MAX_ROWS)
    await asyncio.to_thread(path.write_bytes, cadastre_files.write(lines, fmt))
    print(f"{len(lines)} lines written to {path}")


async def _check_deadlines(args: argparse.Namespace, session: Funding) -> None:
    as_of = args.as_of or brussels_today()
    try:
        check_happened(as_of, "--as-of")  # a later day would announce reminders before their time
    except PasserelleError as error:
        sys.exit(error.reason)
    announced = await check_all_deadlines(session.unit_of_work(Context.system()), as_of)
    print(f"{announced} reminders announced as of {as_of}")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-12-31") from None


def _year(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 2000 <= int(text) <= 2100):
        raise argparse.ArgumentTypeError(f"{text!r} is not a year from 2000 to 2100")
    return int(text)


def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--file", required=True, help="a .csv or .xlsx with the columns " + ", ".join(cadastre_files.COLUMNS)
    )


def _returns_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--file", required=True, help="a .csv or .xlsx: " + returns_files.COLUMNS_NOTE)


def _calls_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--file", required=True, help="a .csv or .xlsx with " + calls_files.COLUMNS_NOTE)


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="the file to write, .csv or .xlsx")
    p.add_argument("--year", type=_year, default=None, help="one year only (default: every year)")


def _check_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", type=_day, default=None, help="default: today in Brussels (never a later day)")


COMMANDS = {
    "import-cadastre": Command("import a cadastre spreadsheet (idempotent), showing progress", _import_args, _import),
    "export-cadastre": Command("export the cadastre as CSV or XLSX", _export_args, _export),
    "import-returns": Command(
        "import EPN activity returns (idempotent), showing progress", _returns_args, _import_returns
    ),
    "import-calls": Command("import calls for projects (idempotent), showing progress", _calls_args, _import_calls),
    "check-deadlines": Command(
        "announce the reminders due (reports, calls, returns), each once", _check_args, _check_deadlines
    ),
}
