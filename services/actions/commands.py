"""Command-line tools of the actions service: CSV import and export, the annual report, the
overdue-milestone check. ``python -m services.actions <command> --help``."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import asyncpg
from passerelle_contracts import Actor

from services.runtime.cli import Command
from services.runtime.settings import ServiceSettings

from .csv_io import KINDS, export_csv, import_csv
from .events import TOPIC
from .handlers import load_structure, read_seed
from .milestones import announce_overdue
from .reporting import build_annual_report

OPERATOR = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="cli")


def _bar(done: int, total: int, started: float) -> None:
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} rows, {time.perf_counter() - started:.1f} s")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


async def _import(settings: ServiceSettings, args: argparse.Namespace, pool: asyncpg.Pool) -> None:
    correlation, failed = uuid.uuid4(), 0
    await load_structure(pool, read_seed()[0])  # axes, chantiers, organisations: what rows refer to
    for kind in KINDS:  # actions before the indicators that name them, before their measurements
        path = Path(args.dir) / f"{kind}.csv"
        if not path.is_file():
            continue
        print(f"{path.name}:", file=sys.stderr)
        started = time.perf_counter()
        report = await import_csv(
            pool, settings.topic(TOPIC), kind, path.read_text("utf-8"), OPERATOR, correlation,
            progress=lambda done, total: _bar(done, total, started),
        )
        print(json.dumps(report.as_dict(), ensure_ascii=False))
        failed += len(report.errors)
    if failed:
        sys.exit(f"{failed} rows were not imported (see the errors above)")


async def _export(settings: ServiceSettings, args: argparse.Namespace, pool: asyncpg.Pool) -> None:
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    for kind in KINDS:
        (out / f"{kind}.csv").write_text(await export_csv(pool, kind), encoding="utf-8")
        print(out / f"{kind}.csv")


async def _annual_report(settings: ServiceSettings, args: argparse.Namespace, pool: asyncpg.Pool) -> None:
    """Render the report to files without publishing it (a preview; publish with POST /annual-reports)."""
    from .report_render import render_all

    report = await build_annual_report(pool, args.year, date.fromisoformat(args.as_of))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, content in render_all(report).items():
        (out / name).write_bytes(content)
        print(out / name)


async def _check(settings: ServiceSettings, args: argparse.Namespace, pool: asyncpg.Pool) -> None:
    announced = await announce_overdue(pool, settings.topic(TOPIC), date.fromisoformat(args.as_of) if args.as_of else date.today())
    print(f"{len(announced)} overdue milestones announced")


def _dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", required=True, help="folder with actions.csv, indicators.csv, measurements.csv")


def _report_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--year", type=int, required=True)
    parser.add_argument("--as-of", required=True, help="cut-off date, e.g. 2024-12-31")
    parser.add_argument("--out", required=True, help="folder to write the HTML, PDF and CSV files to")


COMMANDS = {
    "import": Command("import CSV files (idempotent), showing progress", _dir, _import),
    "export": Command("export actions, indicators and manual measurements as CSV", _dir, _export),
    "annual-report": Command("render the annual report as of a date into a folder", _report_args, _annual_report),
    "check-milestones": Command(
        "announce overdue milestones now",
        lambda p: p.add_argument("--as-of", default=None, help="default: today"),
        _check,
    ),
}
