"""Refurbishing: the physical condition, and the sanitisation of every storage medium (NIST SP
800-88) with a certificate when a device becomes sanitised; records one at a time or in bulk from
a wiping station's log."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.runtime.errors import Conflict, PasserelleError
from services.runtime.inputs import brussels_today

from .. import csv_formats, domain, events
from ..documents import CertificateData, MediumRecord, certificate_pdf
from ..domain import Sanitisation
from .common import Row, Uow, found, held_device, wipe_records
from .milestones import announce_milestones

__all__ = [
    "ChangeCondition",
    "ImportSanitisations",
    "RecordMedia",
    "RecordSanitisation",
    "change_condition",
    "import_sanitisations",
    "record_media",
    "record_sanitisation",
    "wipe_records",
]

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


@dataclass(frozen=True)
class RecordMedia:
    device_id: uuid.UUID
    media: Sequence[tuple[str, int | None, str]]  # (type, capacity GB, serial) of each medium found; none: it has none


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


async def record_sanitisation(uow: Uow, command: RecordSanitisation) -> Row:
    """Add NIST SP 800-88 records (one per medium sanitised); the device's sanitisation state is
    derived from the latest record of every medium. A complete pass issues a certificate. A
    record already recorded for the device (a log sent again, or a wipe from before its return)
    is left out: it is no new wipe."""
    device_id = command.device_id
    async with uow:
        device = await held_device(uow, device_id, HOLDER)
        media = (await uow.repo.media_of([device_id])).get(device_id, [])
        domain.require_known_media(str(device_id), media, command.records)
        await _record(uow, device, media, command.records)
        return found(await uow.repo.device(device_id), f"device {device_id}")


async def _record(uow: Uow, device: Row, media: Sequence[str], records: Sequence[Sanitisation]) -> int:
    """The records not recorded yet, added and settled (in the caller's transaction, the device
    locked and checked); how many were new."""
    fresh = domain.unrecorded(records, await uow.repo.recorded_sanitisations([device["id"]]))
    if fresh:
        await uow.repo.add_sanitisations(device["id"], fresh, uow.actor)
        data = {"media": [r.medium_id for r in fresh], "results": [r.result for r in fresh]}
        await _settle(uow, device, media, "sanitised", data)
    return len(fresh)


async def _settle(uow: Uow, device: Row, media: Sequence[str], action: str, data: dict[str, Any]) -> None:
    """The device's sanitisation state from its records (a certificate when it becomes
    sanitised), with its history row and its DeviceSanitised event; then the donor's milestones."""
    device_id = device["id"]
    counting = await uow.repo.counting_sanitisations([device_id])
    state = domain.sanitisation_state(media, wipe_records(counting), media_known=device["media_known"])
    certificate_id, digest = None, None
    if domain.completes_sanitisation(device["sanitisation"], state):
        certificate_id, digest = await _issue_certificate(uow, device, counting)
    await uow.repo.set_sanitisation(device_id, state)
    history = {**data, "state": state, "certificate_id": certificate_id}
    await uow.repo.add_history(device_id, action, uow.actor, device["custodian"], history)
    changes = domain.sanitisation_changes(device["sanitisation"], state)
    uow.emit(*events.device_sanitised(device, state, len(media), certificate_id, digest, changes))
    await announce_milestones(uow, device["batch_id"])


async def record_media(uow: Uow, command: RecordMedia) -> Row:
    """The storage media a refurbisher found when it opened the device: added to those declared
    (a device declared without storage has its media unknown until then; "none found" is an
    answer too). New media must be wiped before the device is allocated, delivered or handed to a
    recipient: an allocated device with new media leaves its allocation."""
    device_id = command.device_id
    async with uow:
        device = await held_device(uow, device_id, HOLDER)
        if device["allocation"] == "delivered":
            raise Conflict(f"device {device_id} was delivered: it must be returned first")
        added = await uow.repo.add_media(device_id, command.media)
        if added and device["allocation"] in ("reserved", "allocated"):
            await uow.repo.release_allocation(device_id, uow.actor, f"storage found at inspection: {', '.join(added)}")
        media = (await uow.repo.media_of([device_id])).get(device_id, [])
        data = {"found": [{"medium_id": m, "type": t} for m, (t, _, _) in zip(added, command.media, strict=True)]}
        await _settle(uow, {**device, "media_known": True}, media, "media-inspected", data)
        return found(await uow.repo.device(device_id), f"device {device_id}")


async def _issue_certificate(uow: Uow, device: Row, counting: Sequence[Row]) -> tuple[str, str]:
    """The certificate of the latest record of every medium, stored with its SHA-256 (which the
    event carries, so anybody can check a certificate they are shown)."""
    latest = domain.latest_per_medium(_medium_record(r) for r in counting)
    certificate_id = uuid.uuid4()
    issued_on = brussels_today()  # the day in Brussels, as follow-ups and figures use
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
    """A wiping station's log, checked whole before anything is applied, then applied in one
    transaction (all of it, or nothing if the database refuses any of it). Rows that cannot be
    applied (malformed, an unknown device, a device not held, a medium it has not) are reported
    with their line and left out; rows already recorded (the same log sent again) count as
    ``unchanged`` and change nothing."""
    by_device, errors = csv_formats.parse_sanitisations(command.text)
    report: dict[str, Any] = {"devices": 0, "records": 0, "unchanged": 0, "errors": errors}
    if not by_device:
        return report

    def refuse(rows: Sequence[tuple[int, Sanitisation]], reason: str) -> None:
        errors.extend({"line": line, "column": "device", "reason": reason} for line, _ in rows)

    async with uow:
        codes = await uow.repo.device_ids_by_code(list(by_device))
        named: dict[uuid.UUID, list[tuple[int, Sanitisation]]] = {}
        for name, rows in by_device.items():
            try:
                device_id = codes.get(name) or uuid.UUID(name)
            except ValueError:
                refuse(rows, f"no device {name}")
                continue
            named.setdefault(device_id, []).extend(rows)  # its short code and its id name one device
        checked: list[tuple[Row, list[str], list[Sanitisation]]] = []
        for device_id in sorted(named):  # locked in id order: two logs never wait on each other
            rows = sorted(named[device_id], key=lambda row: row[0])
            try:
                device = await held_device(uow, device_id, HOLDER)
                media = (await uow.repo.media_of([device_id])).get(device_id, [])
                domain.require_known_media(str(device_id), media, [r for _, r in rows])
            except PasserelleError as error:
                refuse(rows, error.reason)
                continue
            checked.append((device, media, [r for _, r in rows]))
        for device, media, records in checked:
            fresh = await _record(uow, device, media, records)
            report["devices"] += 1 if fresh else 0
            report["records"] += fresh
            report["unchanged"] += len(records) - fresh
    report["errors"] = sorted(errors, key=lambda e: e["line"])
    return report
