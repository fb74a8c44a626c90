"""Command-line tools of the equipment service: CSV intake with progress, labels, certificates.
``python -m services.equipment <command> --help``. Events a command writes wait in the outbox
until the service's relay publishes them."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

from passerelle_contracts import Actor

from services.runtime.cli import Command
from services.runtime.errors import PasserelleError
from services.runtime.inputs import decode_csv
from services.runtime.uow import Context, Session

from . import csv_formats
from .handlers import intake, views
from .handlers.common import Uow
from .sql import EquipmentRepository

OPERATOR = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="cli")
CHUNK = 1_000  # rows per transaction: progress shows, and a crash loses at most one chunk (re-run: idempotent)


Equipment = Session[EquipmentRepository]


def operator_unit_of_work(session: Equipment) -> Uow:
    """The operator at the console acts as the Coordination, in a flow of its own."""
    return session.unit_of_work(Context(actor=OPERATOR))


async def _import(args: argparse.Namespace, session: Equipment) -> None:
    path = Path(args.file)
    try:
        text = decode_csv(await asyncio.to_thread(path.read_bytes))  # UTF-8 only, as over HTTP
    except PasserelleError as error:
        sys.exit(f"{path.name}: {error.reason}")  # the file and the line at fault, as the actions import says
    rows, errors = csv_formats.parse_csv(text)
    started, created, existing = time.perf_counter(), 0, 0
    for start in range(0, len(rows), CHUNK):
        command = intake.DeclareBatch(args.donor, args.reference, rows[start : start + CHUNK])
        report = await intake.declare_batch(operator_unit_of_work(session), command)
        created, existing, errors = created + report.created, existing + report.existing, errors + report.errors
        done = min(start + CHUNK, len(rows))
        filled = 30 * done // max(len(rows), 1)
        sys.stderr.write(
            f"\r  [{'#' * filled}{'.' * (30 - filled)}] {done}/{len(rows)} devices, "
            f"{time.perf_counter() - started:.1f} s"
        )
    sys.stderr.write("\n")
    print(
        json.dumps(
            {"batch": args.reference, "created": created, "existing": existing, "errors": errors}, ensure_ascii=False
        )
    )
    if errors:
        sys.exit(f"{len(errors)} rows were not imported (see the errors above)")


async def _labels(args: argparse.Namespace, session: Equipment) -> None:
    from .documents import labels_pdf

    labels = await views.labels(session.repository(), OPERATOR, batch_id=uuid.UUID(args.batch))
    await asyncio.to_thread(Path(args.out).write_bytes, labels_pdf(labels))
    print(f"{len(labels)} labels written to {args.out}")


async def _certificate(args: argparse.Namespace, session: Equipment) -> None:
    certificate = await session.repository().latest_certificate(uuid.UUID(args.device))
    if certificate is None:
        sys.exit(f"device {args.device} has no certificate: it is not fully sanitised")
    await asyncio.to_thread(Path(args.out).write_bytes, certificate["content"])
    print(f"certificate written to {args.out} (sha256 {certificate['sha256']})")


def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--donor", required=True)
    p.add_argument("--reference", required=True, help="the batch's reference (idempotency key with the donor)")
    p.add_argument("--file", required=True, help="CSV: " + ", ".join(csv_formats.CSV_COLUMNS))


def _labels_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch", required=True)
    p.add_argument("--out", required=True)


def _certificate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", required=True)
    p.add_argument("--out", required=True)


COMMANDS = {
    "import": Command("declare a batch from CSV (idempotent), showing progress", _import_args, _import),
    "labels": Command("print a batch's labels to an A4 PDF", _labels_args, _labels),
    "certificate": Command("write a device's sanitisation certificate", _certificate_args, _certificate),
}
