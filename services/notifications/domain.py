"""The notifications domain, without I/O: partners, who is told about an event, and how a failed
e-mail is retried. The texts themselves are in ``templates``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from passerelle_contracts.common import Language

DeliveryStatus = Literal["pending", "sent", "failed"]

# Events about one organisation's own business go to that organisation only, not to every
# subscriber of the type: the field of the event that names it.
ADDRESSED_TO = {"BatchMilestoneReached": "donor"}


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


def recipients(event_type: str, data: Mapping[str, Any], subscribers: Iterable[Subscriber]) -> list[Subscriber]:
    """The subscribers to tell about an event: all of them, or only the organisation the event is
    about when its type is addressed to one (a donor hears about its own batches only)."""
    field = ADDRESSED_TO.get(event_type)
    if field is None:
        return list(subscribers)
    addressee = data.get(field)
    return [s for s in subscribers if s.code == addressee]


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
