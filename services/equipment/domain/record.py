"""The device record's rules: who may act on what, intake, a device's state derived from its
history (the sanitisation rule above all), the refurbishing flow and donors' milestones."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol, TypeVar

from passerelle_contracts import Actor
from passerelle_contracts.common import RECIPIENT_KINDS, FieldChange

from services.runtime.errors import Conflict, Forbidden, Invalid

# The physical and sanitisation states and the grades are the contracts' vocabulary
# (``passerelle_contracts.common``: PhysicalState, SanitisationState, Grade).
ALLOCATION = ("available", "reserved", "allocated", "delivered", "returned")
METHODS = ("clear", "purge", "destroy")
RESULTS = ("passed", "failed", "passed_with_warnings")
SANITISED = ("wiped", "destroyed")  # what the rule (and the database trigger) accepts
NO_STORAGE_KINDS = ("screen",)  # kinds that hold no data by nature: declared without storage, nothing to wipe
SEES_EVERYTHING = ("coordination", "operator")  # the roles that read every device, request and document

# Physical moves a refurbisher may record.
PHYSICAL_MOVES: dict[str, frozenset[str]] = {
    "received": frozenset({"to_repair", "refurbished", "for_parts", "disposed"}),
    "to_repair": frozenset({"refurbished", "for_parts", "disposed"}),
    "refurbished": frozenset({"to_repair", "for_parts", "disposed"}),
    "for_parts": frozenset({"disposed"}),
    "disposed": frozenset(),
}


class SanitisationRequired(Conflict):
    code = "sanitisation-required"


class InvalidMove(Conflict):
    code = "invalid-transition"


# --- who may act ------------------------------------------------------------------------------


def require_holder(actor: Actor, holder: str, doing: str) -> None:
    """The Coordination, or the organisation concerned (the device's holder, a transfer's or a
    delivery's receiving side), and nobody else: ``doing`` says what was refused."""
    if actor.role != "coordination" and actor.organisation != holder:
        raise Forbidden(f"{actor.organisation} ({actor.role}) may not {doing}: only {holder} or the Coordination may")


def require_coordination(actor: Actor, doing: str) -> None:
    if actor.role != "coordination":
        raise Forbidden(f"only the Coordination {doing}")


def require_may_declare(actor: Actor, donor: str) -> None:
    """A donor declares its own devices; the Coordination declares anybody's."""
    if actor.role not in ("coordination", "donor") or (actor.role == "donor" and actor.organisation != donor):
        raise Forbidden(f"{actor.organisation} ({actor.role}) may not declare devices for {donor}")


def reader_scope(actor: Actor) -> str | None:
    """The organisation whose devices, documents and requests ``actor`` reads, or None for all of
    them (the Coordination and operators). A donor reads the devices it gave; any organisation
    those it holds now and those a transfer or a delivery still open offers it, not those it held
    before (``sql.base.visible``); a recipient its own requests."""
    return None if actor.role in SEES_EVERYTHING else actor.organisation


def require_recipient(organisation: str, kind: str | None, doing: str) -> None:
    if kind not in RECIPIENT_KINDS:
        raise Invalid(f"{organisation} is not a recipient organisation ({', '.join(RECIPIENT_KINDS)}): {doing}")


def require_may_ask(actor: Actor, recipient: str) -> None:
    """A recipient asks for itself; the Coordination asks for anybody."""
    if actor.role != "coordination" and not (actor.role == "recipient" and actor.organisation == recipient):
        raise Forbidden(f"{actor.organisation} ({actor.role}) may not ask devices for {recipient}")


# --- intake -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceRow:
    """A device as a donor declares it (a CSV row or an item of a JSON batch)."""

    asset_tag: str
    kind: str
    serial: str = ""
    make: str = ""
    model: str = ""
    cpu: str = ""
    ram_gb: int | None = None
    year: int | None = None
    storage: tuple[tuple[str, int | None, str], ...] = ()  # (type, capacity GB, serial) per medium


class DeclaredDevice(NamedTuple):
    """A device about to be recorded: its Passerelle id and short code, and its state at intake."""

    id: uuid.UUID
    short_code: str
    row: DeviceRow
    sanitisation: str
    media_known: bool = True


def short_code(device_id: uuid.UUID) -> str:
    """What people read on the label: 8 base32 characters of the id (1 in 10^12 odds of a clash)."""
    text = base64.b32encode(device_id.bytes).decode()[:8]
    return f"PSR-{text[:4]}-{text[4:]}"


def label_payload(device_id: uuid.UUID | str) -> str:
    """What a label's (and a certificate's) QR code encodes."""
    return f"passerelle:device:{device_id}"


def media_known_at_intake(row: DeviceRow) -> bool:
    """Whether the declaration says what storage the device holds. "No storage declared" on a
    laptop means "not known until a refurbisher inspects it" (a donor's inventory often leaves the
    column empty), not "nothing to wipe"; only a kind without storage by nature (a screen) is known
    to hold none."""
    return bool(row.storage) or row.kind in NO_STORAGE_KINDS


def declared(device_id: uuid.UUID, row: DeviceRow) -> DeclaredDevice:
    # A screen declared without media has nothing to wipe: it is "wiped" from the start; any other
    # device without declared media waits for its inspection ("pending").
    known = media_known_at_intake(row)
    state = sanitisation_state([m[0] for m in row.storage], [], media_known=known)
    return DeclaredDevice(device_id, short_code(device_id), row, state, known)


def duplicates_in(rows: Iterable[tuple[int, DeviceRow]]) -> tuple[list[tuple[int, DeviceRow]], list[dict[str, Any]]]:
    """The rows of a batch with each asset tag once, and an error for every repetition."""
    seen: dict[str, int] = {}
    fresh: list[tuple[int, DeviceRow]] = []
    errors: list[dict[str, Any]] = []
    for line, row in rows:
        if row.asset_tag in seen:
            errors.append(
                {
                    "line": line,
                    "column": "asset_tag",
                    "reason": f"asset tag {row.asset_tag} already on line {seen[row.asset_tag]}",
                }
            )
            continue
        seen[row.asset_tag] = line
        fresh.append((line, row))
    return fresh, errors


# --- sanitisation -----------------------------------------------------------------------------


class RecordOfMedium(Protocol):
    @property
    def medium_id(self) -> str: ...

    @property
    def order(self) -> int: ...


M = TypeVar("M", bound=RecordOfMedium)


@dataclass(frozen=True)
class WipeRecord:
    """One NIST SP 800-88 sanitisation record of one storage medium."""

    medium_id: str
    method: str  # clear | purge | destroy
    result: str  # passed | failed | passed_with_warnings
    order: int = 0  # the record's position in the device's history (the sanitisation record's id)

    @property
    def passing(self) -> bool:
        # "Passed with warnings" (e.g. hidden areas not erased) is not a pass: the data may remain.
        return self.result == "passed"


@dataclass(frozen=True)
class Sanitisation:
    """One record as a refurbisher submits it (one medium wiped), before it has a place in the history.

    Its text is kept without the spaces around it, however it came: a wiping station's log (whose
    cells are read so) or the JSON API (whose fields a client may pad). The same record sent both
    ways is then one record (``record_identity``), recorded once. A medium, a tool or an operator
    that is only spaces is no value: refused (422)."""

    medium_id: str
    method: str
    tool: str
    tool_version: str
    passes: int
    verification: str
    operator: str
    started_at: datetime
    ended_at: datetime
    result: str
    warnings: str = ""

    def __post_init__(self) -> None:
        for name in SANITISATION_TEXT:
            object.__setattr__(self, name, getattr(self, name).strip())
        blank = [name for name in ("medium_id", "tool", "operator") if not getattr(self, name)]
        if blank:
            raise Invalid(f"{', '.join(blank)}: required, and not only spaces")


SANITISATION_TEXT = ("medium_id", "method", "tool", "tool_version", "verification", "operator", "result", "warnings")


def latest_per_medium(records: Iterable[M]) -> dict[str, M]:
    """The latest record of every medium: the later in the device's history (``order``) wins,
    whatever the order given (on equal positions, the later one given).

    The one definition of "latest" — the sanitisation rule, the delivery re-check and the
    certificate's verdict all use it. The history order is the order in which records were made,
    not the end times they report: a wiping station's log uploaded late cannot turn a failure
    recorded since into a pass."""
    latest: dict[str, M] = {}
    for record in sorted(records, key=lambda r: r.order):
        latest[record.medium_id] = record
    return latest


def sanitisation_state(media: Sequence[str], records: Iterable[WipeRecord], *, media_known: bool = True) -> str:
    """pending / wiped / failed / destroyed, from the latest record of every medium.

    A device known to hold no storage media (a screen, or a device inspected and found without)
    needs no sanitisation: it counts as wiped. One whose media are unknown is pending.
    """
    latest = latest_per_medium(records)
    if not media:
        return "wiped" if media_known else "pending"
    last = [latest.get(m) for m in media]
    if any(r is not None and not r.passing for r in last):
        return "failed"
    if any(r is None for r in last):
        return "pending"
    if all(r is not None and r.method == "destroy" for r in last):
        return "destroyed"
    return "wiped"


def unwiped_media(media: Sequence[str], records: Iterable[WipeRecord]) -> list[str]:
    """The media whose latest record is not a pass (or that have none)."""
    latest = latest_per_medium(records)
    return [m for m in media if m not in latest or not latest[m].passing]


def require_sanitised(
    device_id: str, media: Sequence[str], records: Iterable[WipeRecord], *, media_known: bool = True
) -> None:
    """The rule: no allocation or delivery (and no custody of a recipient) unless the device's
    storage media are known and every one has a passing record."""
    if not media_known:
        raise SanitisationRequired(
            f"device {device_id} cannot be allocated or delivered: its storage media are unknown until it is "
            "inspected (POST /devices/{id}/media)"
        )
    missing = unwiped_media(media, records)
    if missing:
        raise SanitisationRequired(
            f"device {device_id} cannot be allocated or delivered: no passing sanitisation for medium "
            + ", ".join(missing)
        )


def require_known_media(device_id: str, media: Sequence[str], records: Iterable[Sanitisation]) -> None:
    unknown = sorted({r.medium_id for r in records} - set(media))
    if unknown:
        raise Invalid(f"device {device_id} has no medium {', '.join(unknown)}; it has {', '.join(media) or 'none'}")


RECORD_FIELDS = (
    "medium_id",
    "method",
    "tool",
    "tool_version",
    "passes",
    "verification",
    "operator",
    "started_at",
    "ended_at",
    "result",
    "warnings",
)


def record_identity(record: Sanitisation | Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes a record the same record: every field the refurbisher gives (times as instants)."""
    values = record if isinstance(record, Mapping) else vars(record)
    return tuple(values[f] for f in RECORD_FIELDS)


def unrecorded(
    records: Iterable[Sanitisation], known: Iterable[Sanitisation | Mapping[str, Any]]
) -> list[Sanitisation]:
    """The records not recorded yet (each once): a wiping station's log sent again, or a record
    made before the device's return sent after it, adds nothing and counts as no new wipe."""
    seen = {record_identity(r) for r in known}
    fresh = []
    for record in records:
        identity = record_identity(record)
        if identity not in seen:
            seen.add(identity)
            fresh.append(record)
    return fresh


def sanitisation_changes(old: str, new: str) -> list[FieldChange]:
    return [FieldChange(field="sanitisation", old=old, new=new)] if new != old else []


def completes_sanitisation(old: str, new: str) -> bool:
    """A certificate is issued when a device becomes sanitised (again, after a return)."""
    return new in SANITISED and old not in SANITISED


# --- condition --------------------------------------------------------------------------------


def physical_move(device_id: str, current: str, new: str) -> None:
    if new not in PHYSICAL_MOVES[current]:
        allowed = ", ".join(sorted(PHYSICAL_MOVES[current])) or "none"
        raise InvalidMove(f"device {device_id} is {current}: it cannot become {new} (allowed: {allowed})")


def condition_change(
    device_id: str, physical: str, grade: str | None, new_physical: str, new_grade: str | None
) -> tuple[str | None, list[FieldChange]]:
    """The grade the device keeps and the fields that change, or an error for a move the
    refurbishing flow does not allow (a refurbished device needs a grade)."""
    if new_physical != physical:
        physical_move(device_id, physical, new_physical)
    if new_physical == "refurbished" and new_grade is None:
        raise Invalid("a refurbished device needs a grade (A, B or C)")
    kept = new_grade if new_physical == "refurbished" else grade
    changes = [
        FieldChange(field=f, old=o, new=n)
        for f, o, n in (("physical", physical, new_physical), ("grade", grade, kept))
        if o != n
    ]
    return kept, changes


# --- donors' milestones -----------------------------------------------------------------------

MILESTONES = ("received", "sanitised", "delivered")


def milestones_reached(announced: Mapping[str, bool], counts: Mapping[str, int]) -> list[str]:
    """The milestones a batch reached and its donor was not told of yet: all received, all
    sanitised (wiped or failed), all delivered or at its end of life (with at least one delivered)."""
    reached = {
        "received": counts["received"] == counts["declared"],
        "sanitised": counts["wiped"] + counts["failed"] == counts["declared"],
        "delivered": counts["settled"] == counts["declared"] and counts["delivered"] > 0,
    }
    return [m for m in MILESTONES if reached[m] and not announced[m]]
