"""The notifications domain, without I/O: partners and their contacts, the directory of the EPNs
the funding service's register announces, messages, and how a failed one is retried. Who is told
about an event, how and when is ``audience``; the texts are in ``texts/`` (``rendering``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Any, Literal, get_args

from passerelle_contracts.common import FieldChange, LabelStatus, Language

from services.runtime.errors import Invalid

from .audience import Channel, Frequency

DeliveryStatus = Literal["pending", "sent", "failed", "bounced", "suppressed"]


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
"""The event type the directory's ``reminded`` is about (addressed to the EPN and its operator)."""
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


OrgRole = Literal[
    "working_group", "copil", "action_owner", "epn_operator", "refurbisher", "donor", "recipient", "grant_holder"
]
ORG_ROLES: tuple[OrgRole, ...] = get_args(OrgRole)
ContactKind = Literal["person", "mailbox", "webhook"]
MEMBER_ROLE: dict[str, OrgRole] = {"working_group": "working_group", "copil": "copil"}
"""The role that makes an organisation a member of a meeting's body (``MeetingKind`` -> role)."""


@dataclass(frozen=True)
class PartnerDetails:
    """What the Coordination records about a partner organisation: its functional mailbox
    (``email``, kept as the organisation's ``mailbox`` contact), its language and its roles."""

    code: str
    name: str
    email: str
    language: Language
    roles: frozenset[OrgRole] = frozenset()
    active: bool = True


@dataclass(frozen=True)
class Partner:
    """A partner as kept: its details, the event types its mailbox subscribes to (sorted), when it changed."""

    details: PartnerDetails
    subscriptions: list[str]
    updated_at: datetime


@dataclass(frozen=True)
class ContactDetails:
    """A contact as its organisation describes it. ``name`` and ``email`` are personal data: they
    stay in this service, are read with a key only, and are erased on request."""

    kind: ContactKind
    language: Language
    name: str | None = None
    email: str | None = None
    webhook_url: str | None = None
    channels: tuple[Channel, ...] = ("email", "feed")
    quiet_from: time | None = None
    quiet_until: time | None = None
    active: bool = True


@dataclass(frozen=True)
class Contact:
    id: int
    partner_code: str
    details: ContactDetails
    hard_bounces: int
    suspended_at: datetime | None
    suspended_reason: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Subscription:
    """An event type a contact follows, narrowed by filters (``audience.FILTER_KEYS`` -> values)."""

    event_type: str
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    """A contact that may hear of an event: subscribed to it (its filters matching), or of an
    organisation the event is about; with its preferences for the event's topic."""

    contact_id: int
    partner_code: str
    kind: ContactKind
    address: str | None
    language: Language
    channels: tuple[Channel, ...]
    quiet_from: time | None
    quiet_until: time | None
    suspended: bool
    subscribed: bool
    preferences: Mapping[tuple[str, str], Frequency]


@dataclass(frozen=True)
class NewMessage:
    """A message for one contact on one channel, about an event or a digest, to be sent (or, in the
    feed, delivered at once)."""

    contact_id: int
    partner_code: str
    channel: Channel
    topic_key: str
    event_id: uuid.UUID | None
    event_type: str
    correlation_id: uuid.UUID
    address: str | None
    language: Language
    subject: str
    body: str
    link: str | None = None
    critical: bool = False
    unsubscribe: str | None = None
    not_before: datetime | None = None  # quiet hours: held until then


@dataclass(frozen=True)
class DueMessage:
    """What the dispatcher needs to send one message."""

    id: int
    contact_id: int | None
    partner_code: str
    channel: Channel
    topic_key: str
    event_id: uuid.UUID | None
    event_type: str
    correlation_id: uuid.UUID
    address: str | None
    language: Language
    subject: str
    body: str
    unsubscribe: str | None
    attempts: int
    queued_at: datetime
    suspended: bool
    webhook_secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivery:
    """One line of the delivery log: who was told what, on which channel, and how it went."""

    id: int
    partner_code: str
    contact_id: int | None
    channel: Channel
    event_id: uuid.UUID | None
    event_type: str
    correlation_id: uuid.UUID
    address: str | None
    language: Language
    subject: str
    critical: bool
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class FeedItem:
    id: int
    event_type: str
    event_id: uuid.UUID | None
    subject: str
    link: str | None
    critical: bool
    created_at: datetime
    read_at: datetime | None


@dataclass(frozen=True)
class FailedAttempt:
    """A send that failed: the attempts so far (this one included), and what happens next."""

    attempts: int
    gave_up: bool
    retry_in_s: float

    @property
    def status(self) -> DeliveryStatus:
        return "failed" if self.gave_up else "pending"


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
