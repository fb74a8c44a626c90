"""Refurbishing: the physical condition, and the sanitisation of every storage medium (NIST SP
800-88) with a certificate when a device becomes sanitised; records one at a time or in bulk from
a wiping station's log.

One path applies records, for one device or ten thousand: ``_record`` then ``_settle``, each a
fixed number of statements (COPY for the rows, ``unnest`` for the states), so a log costs a few
round trips rather than a dozen per device; the certificates are rendered in worker processes
(``services.equipment.certificates`` says why there, and why when issued) while the rest is
written."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from passerelle_contracts.common import FieldChange

from services.runtime.errors import Conflict, PasserelleError
from services.runtime.inputs import brussels_today

from .. import certificates, csv_formats, domain, events
from ..certificates import Rendered
from ..documents import CertificateData, MediumRecord
from ..domain import Sanitisation
from .common import Row, Uow, found, held_device, wipe_records
from .milestones import announce_milestones

__all__ = [
    "ChangeCondition",
    "ImportConditions",
    "ImportSanitisations",
    "RecordMedia",
    "RecordSanitisation",
    "change_condition",
    "import_conditions",
    "import_sanitisations",
    "record_media",
    "record_sanitisation",
    "wipe_records",
]

HOLDER = "record work on this device"
T = TypeVar("T")


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
        await _record(uow, [Checked(device, media, list(command.records))])
        return found(await uow.repo.device(device_id), f"device {device_id}")


@dataclass(frozen=True)
class Checked:
    """A device whose records may be applied: its row (locked, its holder checked), its media,
    and the records given for it (each naming one of its media), in the order given."""

    device: Row
    media: list[str]
    records: list[Sanitisation]


@dataclass(frozen=True)
class Settling:
    """A device whose state is derived again from its records, and the history row that says why."""

    device: Row
    media: list[str]
    action: str  # the history row's action: sanitised, media-inspected
    data: dict[str, Any]


async def _record(uow: Uow, checked: Sequence[Checked]) -> list[int]:
    """The records not recorded yet of each device, added at once (COPY) and settled, in the
    caller's transaction (the devices locked and checked); how many were new, device by device."""
    if not checked:
        return []
    known = _by_device(await uow.repo.recorded_sanitisations([c.device["id"] for c in checked]))
    fresh = [domain.unrecorded(c.records, known.get(c.device["id"], [])) for c in checked]
    rows = [(c.device["id"], r) for c, new in zip(checked, fresh, strict=True) for r in new]
    if rows:  # a log sent again: nothing to write
        await uow.repo.add_sanitisations_many(rows, uow.actor)
    await _settle(
        uow,
        [
            Settling(
                c.device,
                c.media,
                "sanitised",
                {"media": [r.medium_id for r in new], "results": [r.result for r in new]},
            )
            for c, new in zip(checked, fresh, strict=True)
            if new
        ],
    )
    return [len(new) for new in fresh]


async def _settle(uow: Uow, devices: Sequence[Settling]) -> None:
    """Each device's sanitisation state from its records (a certificate when it becomes
    sanitised), with its history row and its DeviceSanitised event; then the donors' milestones,
    once per batch. Set-wise: one read of the records that count, one update of the states, the
    history and the certificates with COPY, whatever the number of devices.

    The certificates are rendered in the worker processes (``certificates``) while the states and
    the history are written, and stored as they come; their digests then go on the events."""
    if not devices:
        return
    counting = _by_device(await uow.repo.counting_sanitisations([s.device["id"] for s in devices]))
    issued_on = brussels_today()  # the day in Brussels, as follow-ups and figures use
    states: list[str] = []
    issuing: dict[uuid.UUID, CertificateData] = {}
    for s in devices:
        device, records = s.device, counting.get(s.device["id"], [])
        state = domain.sanitisation_state(s.media, wipe_records(records), media_known=device["media_known"])
        states.append(state)
        if domain.completes_sanitisation(device["sanitisation"], state):
            issuing[device["id"]] = _certificate_data(device, records, issued_on)
    rendering = certificates.renderer().start(list(issuing.values()))
    digests: dict[str, str] = {}
    try:
        await uow.repo.set_sanitisations([(s.device["id"], state) for s, state in zip(devices, states, strict=True)])
        history = []
        for s, state in zip(devices, states, strict=True):
            issued = issuing.get(s.device["id"])
            certificate_id = None if issued is None else issued.certificate_id
            history.append(
                (
                    s.device["id"],
                    s.action,
                    s.device["custodian"],
                    {**s.data, "state": state, "certificate_id": certificate_id},
                )
            )
        await uow.repo.add_history_many(history, uow.actor)
        for done in rendering.as_completed():
            chunk = await done
            await uow.repo.add_certificates([_certificate_row(r) for r in chunk])
            digests.update((r.certificate.certificate_id, r.sha256) for r in chunk)
    finally:
        rendering.cancel()
    for s, state in zip(devices, states, strict=True):
        device = s.device
        issued = issuing.get(device["id"])
        certificate_id, digest = (
            (None, None) if issued is None else (issued.certificate_id, digests[issued.certificate_id])
        )
        changes = domain.sanitisation_changes(device["sanitisation"], state)
        uow.emit(*events.device_sanitised(device, state, len(s.media), certificate_id, digest, changes))
    for batch_id in sorted({s.device["batch_id"] for s in devices}):
        await announce_milestones(uow, batch_id)


def _by_device(rows: Sequence[Row]) -> dict[uuid.UUID, list[Row]]:
    """Rows grouped by their ``device_id``, each device's in the order read."""
    grouped: dict[uuid.UUID, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row["device_id"]].append(row)
    return grouped


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
        await _settle(uow, [Settling({**device, "media_known": True}, media, "media-inspected", data)])
        return found(await uow.repo.device(device_id), f"device {device_id}")


def _certificate_data(device: Row, counting: Sequence[Row], issued_on: date) -> CertificateData:
    """The certificate of the latest record of every medium (``counting``: the records that count,
    ``counting_sanitisations``'), issued to the device's holder on ``issued_on``; stored with its
    SHA-256, which the event carries, so anybody can check a certificate they are shown."""
    latest = domain.latest_per_medium(_medium_record(r) for r in counting)
    return CertificateData(
        certificate_id=str(uuid.uuid4()),
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


def _certificate_row(rendered: Rendered) -> tuple[uuid.UUID, uuid.UUID, str, bytes, date]:
    c = rendered.certificate
    return uuid.UUID(c.certificate_id), uuid.UUID(c.device_id), rendered.sha256, rendered.content, c.issued_on


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
    ``unchanged`` and change nothing.

    Set-wise, whatever the size of the log: the devices are read and locked by one statement (in
    id order: two logs never wait on each other in a cycle), their media, records and states by a
    few more, the new records, history rows and certificates written with COPY, the events with
    one outbox write at commit. No query runs once per row or per device."""
    by_device, errors = csv_formats.parse_sanitisations(command.text)
    report: dict[str, Any] = {"devices": 0, "records": 0, "unchanged": 0, "errors": errors}
    if not by_device:
        return report
    refuse = _refuser(errors)

    async with uow:
        named = await _named(uow, by_device, refuse)
        locked = await uow.repo.lock_devices(list(named))
        media_of = await uow.repo.media_of(list(locked))
        checked: list[Checked] = []
        for device_id in sorted(named):
            rows = sorted(named[device_id], key=lambda row: row[0])
            records = [r for _, r in rows]
            try:
                device = found(locked.get(device_id), f"device {device_id}")
                domain.require_holder(uow.actor, device["custodian"], HOLDER)
                media = media_of.get(device_id, [])
                domain.require_known_media(str(device_id), media, records)
            except PasserelleError as error:
                refuse(rows, error.reason)
                continue
            checked.append(Checked(device, media, records))
        for c, fresh in zip(checked, await _record(uow, checked), strict=True):
            report["devices"] += 1 if fresh else 0
            report["records"] += fresh
            report["unchanged"] += len(c.records) - fresh
    report["errors"] = sorted(errors, key=lambda e: e["line"])
    return report


def _refuser(errors: list[dict[str, Any]]) -> Callable[[Sequence[tuple[int, Any]], str], None]:
    """What refuses a device's rows of a file: each reported with its line, in ``errors``."""

    def refuse(rows: Sequence[tuple[int, Any]], reason: str) -> None:
        errors.extend({"line": line, "column": "device", "reason": reason} for line, _ in rows)

    return refuse


async def _named(
    uow: Uow, by_device: Mapping[str, list[tuple[int, T]]], refuse: Callable[[Sequence[tuple[int, T]], str], None]
) -> dict[uuid.UUID, list[tuple[int, T]]]:
    """A file's rows by device id: each name is a short code (looked up at once) or an id; the
    rows of a name that is neither are refused."""
    codes = await uow.repo.device_ids_by_code(list(by_device))
    named: dict[uuid.UUID, list[tuple[int, T]]] = {}
    for name, rows in by_device.items():
        try:
            device_id = codes.get(name) or uuid.UUID(name)
        except ValueError:
            refuse(rows, f"no device {name}")
            continue
        named.setdefault(device_id, []).extend(rows)  # its short code and its id name one device
    return named


@dataclass(frozen=True)
class ImportConditions:
    text: str  # CSV: csv_formats.CONDITION_COLUMNS, one row per change of a device's condition


async def import_conditions(uow: Uow, command: ImportConditions) -> dict[str, Any]:
    """A workshop's sheet of conditions (graded, to repair, for parts, disposed), checked whole
    before anything is applied, then applied in one transaction, as ``change_condition`` applies
    one: the same refurbishing flow, the holder only, a history row and a DeviceConditionChanged
    for each row that changes something. A device's rows are its steps in the file's order; if
    one cannot be applied (a move the flow does not allow, a refurbished device without a grade),
    none of that device's is, and each is reported with its line. A row that changes nothing (the
    same sheet sent again) counts as ``unchanged``.

    Set-wise: the devices read and locked by one statement, their new conditions written by
    another, the history with COPY, the events with one outbox write at commit."""
    by_device, errors = csv_formats.parse_conditions(command.text)
    report: dict[str, Any] = {"devices": 0, "changed": 0, "unchanged": 0, "errors": errors}
    if not by_device:
        return report
    refuse = _refuser(errors)

    async with uow:
        named = await _named(uow, by_device, refuse)
        locked = await uow.repo.lock_devices(list(named))
        updates: list[tuple[uuid.UUID, str, str | None, str, int]] = []
        history: list[tuple[uuid.UUID, str, str, dict[str, Any]]] = []
        changed: list[tuple[Row, str, str | None, list[FieldChange]]] = []
        for device_id in sorted(named):
            rows = sorted(named[device_id], key=lambda row: row[0])
            try:
                device = found(locked.get(device_id), f"device {device_id}")
                domain.require_holder(uow.actor, device["custodian"], HOLDER)
                steps = _steps(device, [condition for _, condition in rows])
            except PasserelleError as error:
                refuse(rows, error.reason)
                continue
            report["unchanged"] += len(rows) - len(steps)
            if not steps:
                continue
            physical, grade, _ = steps[-1]
            allocation = device["allocation"]
            if allocation == "returned" and any(p == "refurbished" for p, _, _ in steps):
                allocation = "available"  # a returned device refurbished again goes back to the stock
            updates.append((device_id, physical, grade, allocation, len(steps)))
            for physical, grade, changes in steps:
                history.append((device_id, physical, device["custodian"], {"grade": grade, "final_spec": None}))
                changed.append((device, physical, grade, changes))
        if updates:
            await uow.repo.set_conditions(updates)
            await uow.repo.add_history_many(history, uow.actor)
        for device, physical, grade, changes in changed:
            uow.emit(*events.condition_changed(device, physical, grade, changes))
        report["devices"], report["changed"] = len(updates), len(changed)
    report["errors"] = sorted(errors, key=lambda e: e["line"])
    return report


def _steps(
    device: Row, conditions: Sequence[tuple[str, str | None]]
) -> list[tuple[str, str | None, list[FieldChange]]]:
    """Each condition applied in turn from the device's own (``domain.condition_change``: the
    refurbishing flow, the grade); those that change something, with the grade kept and what changed."""
    physical, grade = device["physical"], device["grade"]
    steps = []
    for new_physical, new_grade in conditions:
        kept, changes = domain.condition_change(str(device["id"]), physical, grade, new_physical, new_grade)
        if changes:
            steps.append((new_physical, kept, changes))
        physical, grade = new_physical, kept
    return steps
