"""Command-line tools of the equipment service: CSV intake with progress, labels, certificates.
``python -m services.equipment <command> --help``."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

import asyncpg
from passerelle_contracts import Actor
from passerelle_contracts.equipment_v1 import TOPIC

from services.runtime.cli import Command
from services.runtime.settings import ServiceSettings

from . import intake, record

OPERATOR = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="cli")
CHUNK = 1_000  # rows per transaction: progress shows, and a crash loses at most one chunk (re-run: idempotent)


async def _import(settings: ServiceSettings, args: argparse.Namespace, pool: asyncpg.Pool) -> None:
    rows, errors = intake.parse_csv(Path(args.file).read_text("utf-8"))
    started, created, existing = time.perf_counter(), 0, 0
    for start in range(0, len(rows), CHUNK):
        report = await intake.declare_batch(
            pool, settings.topic(TOPIC), args.donor, args.reference, rows[start : start + CHUNK], OPERATOR, uuid.uuid4()
        )
        created, existing, errors = created + report.created, existing + report.existing, errors + report.errors
        done = min(start + CHUNK, len(rows))
        filled = 30 * done // max(len(rows), 1)
        sys.stderr.write(f"\r  [{'#' * filled}{'.' * (30 - filled)}] {done}/{len(rows)} devices, "
                         f"{time.perf_counter() - started:.1f} s")
    sys.stderr.write("\n")
    print(json.dumps({"batch": args.reference, "created": created, "existing": existing, "errors": errors}, ensure_ascii=False))
    if errors:
        sys.exit(f"{len(errors)} rows were not imported (see the errors above)")


async def _labels(settings: ServiceSettings, args: argparse.Namespace, pool: asyncpg.Pool) -> None:
    from .documents import labels_pdf

    labels = await record.labels_for(pool, None, uuid.UUID(args.batch))
    Path(args.out).write_bytes(labels_pdf(labels))
    print(f"{len(labels)} labels written to {args.out}")


async def _certificate(settings: ServiceSettings, args: argparse.Namespace, pool: asyncpg.Pool) -> None:
    row = await pool.fetchrow(
        "SELECT content, sha256 FROM certificates WHERE device_id = $1 ORDER BY created_at DESC LIMIT 1", uuid.UUID(args.device)
    )
    if row is None:
        sys.exit(f"device {args.device} has no certificate: it is not fully sanitised")
    Path(args.out).write_bytes(row["content"])
    print(f"certificate written to {args.out} (sha256 {row['sha256']})")


def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--donor", required=True)
    p.add_argument("--reference", required=True, help="the batch's reference (idempotency key with the donor)")
    p.add_argument("--file", required=True, help="CSV: " + ", ".join(intake.CSV_COLUMNS))


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
