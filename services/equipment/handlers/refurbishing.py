"""Refurbishing: the physical condition, and the sanitisation of every storage medium (NIST SP
800-88) with a certificate when a device becomes sanitised; records one at a time or in bulk from
a wiping station's log."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.runtime.errors import PasserelleError

from .. import csv_formats, domain, events
from ..documents import CertificateData, MediumRecord, certificate_pdf
from ..domain import Sanitisation
from .common import Row, Uow, found, held_device, today
from .milestones import announce_milestones

HOLDER = "record work on this device"


@dataclass(frozen=True)
class ChangeCondition:
    device_id: uuid.UUID
    physical: str
    grade: str | None = None
    final_spec: dict[str, Any] | None = None


@dataclass(frozen=True)
class RecordSanitisation:
    device_id: uuid.UUID
    records: Sequence[Sanitisation]  # one per medium sanitised


@dataclass(frozen=True)
class ImportSanitisations:
    text: str  # CSV: csv_formats.SANITISATION_COLUMNS, one row per medium


async def change_condition(uow: Uow, command: ChangeCondition) -> Row:
    async with uow:
        device = await held_device(uow, command.device_id, HOLDER)
        grade, changes = domain.condition_change(
            str(command.device_id), device["physical"], device["grade"], command.physical, command.grade
        )
        if changes or command.final_spec not in (None, device["final_spec"]):
            await uow.repo.set_condition(command.device_id, command.physical, grade, command.final_spec)
            await uow.repo.add_history(
                command.device_id,
                command.physical,
                uow.actor,
                device["custodian"],
                {"grade": grade, "final_spec": command.final_spec},
            )
            uow.emit(*events.condition_changed(device, command.physical, grade, changes))
        return found(await uow.repo.device(command.device_id), f"device {command.device_id}")


def wipe_records(rows: Sequence[Row]) -> list[domain.WipeRecord]:
    """The domain's view of the records ``counting_sanitisations`` read."""
    return [domain.WipeRecord(r["medium_id"], r["method"], r["result"], r["order"]) for r in rows]


async def record_sanitisation(uow: Uow, command: RecordSanitisation) -> Row:
    """Add NIST SP 800-88 records (one per medium sanitised); the device's sanitisation state is
    derived from the latest record of every medium. A complete pass issues a certificate."""
    device_id = command.device_id
    async with uow:
        device = await held_device(uow, device_id, HOLDER)
        media = (await uow.repo.media_of([device_id])).get(device_id, [])
        domain.require_known_media(str(device_id), media, command.records)
        await uow.repo.add_sanitisations(device_id, command.records, uow.actor)
        counting = await uow.repo.counting_sanitisations([device_id])
        state = domain.sanitisation_state(media, wipe_records(counting))
        certificate_id, digest = None, None
        if domain.completes_sanitisation(device["sanitisation"], state):
            certificate_id, digest = await _issue_certificate(uow, device, counting)
        await uow.repo.set_sanitisation(device_id, state)
        await uow.repo.add_history(
            device_id,
            "sanitised",
            uow.actor,
            device["custodian"],
            {
                "media": [r.medium_id for r in command.records],
                "results": [r.result for r in command.records],
                "state": state,
                "certificate_id": certificate_id,
            },
        )
        changes = domain.sanitisation_changes(device["sanitisation"], state)
        uow.emit(*events.device_sanitised(device, state, len(media), certificate_id, digest, changes))
        await announce_milestones(uow, device["batch_id"])
        return found(await uow.repo.device(device_id), f"device {device_id}")


async def _issue_certificate(uow: Uow, device: Row, counting: Sequence[Row]) -> tuple[str, str]:
    """The certificate of the latest record of every medium, stored with its SHA-256 (which the
    event carries, so anybody can check a certificate they are shown)."""
    latest = domain.latest_per_medium(_medium_record(r) for r in counting)
    certificate_id = uuid.uuid4()
    issued_on = today()  # the local day, as follow-ups and figures use
    data = CertificateData(
        certificate_id=str(certificate_id),
        device_id=str(device["id"]),
        short_code=device["short_code"],
        kind=device["kind"],
        make=device["make"],
        model=device["model"],
        serial=device["serial"],
        donor=device["donor"],
        refurbisher=device["custodian"],
        issued_on=issued_on,
        qr_payload=domain.label_payload(device["id"]),
        records=tuple(latest[medium] for medium in sorted(latest)),
    )
    content = certificate_pdf(data)
    digest = hashlib.sha256(content).hexdigest()
    await uow.repo.add_certificate(certificate_id, device["id"], digest, content, issued_on)
    return str(certificate_id), digest


def _medium_record(r: Row) -> MediumRecord:
    return MediumRecord(
        medium_id=r["medium_id"],
        medium_type=r["medium_type"],
        capacity_gb=r["capacity_gb"],
        serial=r["medium_serial"],
        method=r["method"],
        tool=r["tool"],
        tool_version=r["tool_version"],
        passes=r["passes"],
        verification=r["verification"],
        operator=r["operator"],
        started_at=r["started_at"],
        ended_at=r["ended_at"],
        result=r["result"],
        warnings=r["warnings"],
        order=r["order"],
    )


async def import_sanitisations(uow: Uow, command: ImportSanitisations) -> dict[str, Any]:
    """A wiping station's log: each device's records applied in a transaction of its own (one
    device refused does not hold back the others), with a report per row."""
    by_device, errors = csv_formats.parse_sanitisations(command.text)
    if not by_device:
        return {"devices": 0, "records": 0, "errors": errors}
    codes = await uow.repo.device_ids_by_code(list(by_device))
    done = records = 0
    for device, rows in by_device.items():
        try:
            device_id = codes.get(device) or uuid.UUID(device)
            await record_sanitisation(uow, RecordSanitisation(device_id, [r for _, r in rows]))
        except (ValueError, PasserelleError) as error:
            reason = error.reason if isinstance(error, PasserelleError) else f"no device {device}"
            errors.extend({"line": line, "column": "device", "reason": reason} for line, _ in rows)
            continue
        done, records = done + 1, records + len(rows)
    return {"devices": done, "records": records, "errors": sorted(errors, key=lambda e: e["line"])}
