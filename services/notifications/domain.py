"""The notifications domain, without I/O: partners, the directory of the EPNs the funding
service's register announces, who is told about an event, and how a failed e-mail is retried.
The texts themselves are in ``templates``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from passerelle_contracts.common import FieldChange, LabelStatus, Language

from services.runtime.errors import Invalid

DeliveryStatus = Literal["pending", "sent", "failed"]

# Events about one organisation's own business go to that organisation only, not to every
# subscriber of the type: the field of the event that names it.
ADDRESSED_TO = {
    "BatchMilestoneReached": "donor",
    "ReportingReminder": "beneficiary",
    "ActivityReturnReminder": "epn",
}
# Reminders of a deadline go to the organisation that owes it and to the Coordination, which
# follows every deadline of the plan (if subscribed): never to the other grant holders.
COORDINATION = "coordination-inclusion-numerique"
COPIED_TO_COORDINATION = frozenset({"ReportingReminder", "ActivityReturnReminder"})
# Events addressed to an EPN (their ``ADDRESSED_TO`` field is its code) reach the partner whose
# code is the EPN's and the partner whose code is the EPN's operator's (the commune, CPAS or
# non-profit that runs it, as the EPN directory knows it): the operator usually has the mailbox.
ADDRESSED_TO_EPN = frozenset({"ActivityReturnReminder"})


@dataclass(frozen=True)
class DirectoryEpn:
    """An EPN as the funding service's register announces it (``EpnRegistered``,
    ``EpnDetailsChanged``, ``EpnLabelStatusChanged``), kept in the EPN directory: who runs it (its
    ``operator``, an organisation code) and where it stands. Nothing here names a person.

    ``label_version`` is the ``register_version`` of the last label decision applied (none before
    the first): a decision that is not above it is stale (a dead letter replayed late) and ignored,
    and a registration read again never takes the label back to its first status."""

    code: str
    name: str
    operator: str
    commune: str | None
    label_status: LabelStatus
    label_version: int | None = None


@dataclass(frozen=True)
class DirectoryEntry:
    """A line of the EPN directory for the Coordination: the EPN, the active partners its e-mails
    reach (``contacts``: the partner whose code is the EPN's, the one whose code is its
    operator's), and those of them subscribed to its activity-return reminders (``reminded``)."""

    epn: DirectoryEpn
    contacts: list[str]
    reminded: list[str]


REMINDER = "ActivityReturnReminder"
"""The event type the directory's ``reminded`` is about (``ADDRESSED_TO_EPN``)."""
DIRECTORY_FIELDS = frozenset({"epn_name", "operator", "commune"})
"""The register's fields the directory keeps (``EpnDetailsChanged``); the register's other details
(address, hours, computers …) are the funding service's."""


def register_text(epn: str, field: str, value: Any) -> str:
    """A name or an operator from the register: a non-empty text, or the event is refused (an EPN
    without a name cannot be shown, one without an operator cannot be reached through it)."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"EPN {epn}: {field} must be a non-empty text, not {value!r}")
    return value


def optional_commune(value: Any) -> str | None:
    """A commune as the directory keeps it: none rather than an empty text."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid(f"commune must be text, not {value!r}")
    return value


def registered_epn(code: str, name: Any, operator: Any, commune: Any, label_status: LabelStatus) -> DirectoryEpn:
    """The directory's entry for an ``EpnRegistered``, its values checked."""
    return DirectoryEpn(
        code=code,
        name=register_text(code, "epn_name", name),
        operator=register_text(code, "operator", operator),
        commune=optional_commune(commune),
        label_status=label_status,
    )


def touches_directory(changes: Iterable[FieldChange]) -> bool:
    """Whether an ``EpnDetailsChanged`` changes a field the directory keeps (``DIRECTORY_FIELDS``)."""
    return any(change.field in DIRECTORY_FIELDS for change in changes)


def changed_epn(epn: DirectoryEpn, changes: Iterable[FieldChange]) -> DirectoryEpn:
    """The directory's entry after an ``EpnDetailsChanged``, its new values checked; the register's
    other details are left out."""
    for change in changes:
        if change.field == "epn_name":
            epn = replace(epn, name=register_text(epn.code, change.field, change.new))
        elif change.field == "operator":
            epn = replace(epn, operator=register_text(epn.code, change.field, change.new))
        elif change.field == "commune":
            epn = replace(epn, commune=optional_commune(change.new))
    return epn


def label_is_stale(epn: DirectoryEpn, register_version: int) -> bool:
    """Whether a label decision numbered ``register_version`` is not above the last one the
    directory applied to the EPN (see ``DirectoryEpn``)."""
    return epn.label_version is not None and register_version <= epn.label_version


@dataclass(frozen=True)
class PartnerDetails:
    """What the Coordination records about a partner organisation."""

    code: str
    name: str
    email: str
    language: Language
    working_group: bool = False
    copil: bool = False
    active: bool = True


@dataclass(frozen=True)
class Partner:
    """A partner as kept: its details, the event types it subscribes to (sorted), when it changed."""

    details: PartnerDetails
    subscriptions: list[str]
    updated_at: datetime


@dataclass(frozen=True)
class Subscriber:
    """An active partner subscribed to an event type: where and in which language to write."""

    code: str
    email: str
    language: Language


@dataclass(frozen=True)
class NewDelivery:
    """An e-mail rendered for one partner about one event, waiting for the mailer."""

    partner_code: str
    event_id: uuid.UUID
    event_type: str
    correlation_id: uuid.UUID
    email: str
    language: Language
    subject: str
    body: str


@dataclass(frozen=True)
class DueDelivery:
    """What the mailer needs to send one e-mail."""

    id: int
    email: str
    language: Language
    subject: str
    body: str
    event_id: uuid.UUID
    correlation_id: uuid.UUID
    attempts: int
    queued_at: datetime


@dataclass(frozen=True)
class Delivery:
    """One line of the delivery log: who was told what, and how sending it went."""

    id: int
    partner_code: str
    event_id: uuid.UUID
    event_type: str
    correlation_id: uuid.UUID
    email: str
    language: Language
    subject: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class FailedAttempt:
    """A send that failed: the attempts so far (this one included), and what happens next."""

    attempts: int
    gave_up: bool
    retry_in_s: float

    @property
    def status(self) -> DeliveryStatus:
        return "failed" if self.gave_up else "pending"


def addressed_epn(event_type: str, data: Mapping[str, Any]) -> str | None:
    """The EPN an event is addressed to (``ADDRESSED_TO_EPN``), whose operator the directory knows;
    none for every other event."""
    if event_type not in ADDRESSED_TO_EPN:
        return None
    code = data.get(ADDRESSED_TO[event_type])
    return code if isinstance(code, str) else None


def recipients(
    event_type: str, data: Mapping[str, Any], subscribers: Iterable[Subscriber], operator: str | None = None
) -> list[Subscriber]:
    """The subscribers to tell about an event: all of them, or only the organisation the event is
    about when its type is addressed to one (a donor hears about its own batches only), and the
    Coordination too for the reminders of a deadline. An event addressed to an EPN reaches its
    ``operator`` too (the directory's; none if the directory does not know the EPN: the EPN's own
    partner alone, as before the directory)."""
    field = ADDRESSED_TO.get(event_type)
    if field is None:
        return list(subscribers)
    addressees = {data.get(field)}
    if operator is not None and event_type in ADDRESSED_TO_EPN:
        addressees.add(operator)
    copied = event_type in COPIED_TO_COORDINATION
    return [s for s in subscribers if s.code in addressees or (copied and s.code == COORDINATION)]


@dataclass(frozen=True)
class RetryRule:
    """How long a refused e-mail is tried again: backoff capped at ``backoff_max_s``, and given up
    only once it was queued ``give_up_after_s`` ago. Giving up after a number of attempts instead
    failed every queued e-mail for ever after an SMTP outage of a few minutes."""

    backoff_max_s: float
    give_up_after_s: float


def failed_attempt(previous_attempts: int, queued_for_s: float, rule: RetryRule) -> FailedAttempt:
    """After a failed send: retry later with exponential backoff, or give up if the e-mail is too old."""
    attempts = previous_attempts + 1
    return FailedAttempt(
        attempts=attempts,
        gave_up=queued_for_s > rule.give_up_after_s,
        retry_in_s=float(min(2 ** min(attempts, 30), rule.backoff_max_s)),
    )
