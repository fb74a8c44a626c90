"""Events published by the equipment service (topic ``passerelle.equipment.v1``).

Recipients are organisations; beneficiaries are counts by public. No pupil or resident is named.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

# The shared vocabulary is defined in ``common``; these names stay importable from here because
# partners' code imports them from ``equipment_v1`` (a public module): re-exports, not copies.
from .common import DeviceKind as DeviceKind
from .common import DonorKind as DonorKind
from .common import FieldChange, Grade, PhysicalState, Public, ReviewDecision, SanitisationState
from .common import RecipientKind as RecipientKind
from .envelope import EventData

TOPIC = "passerelle.equipment.v1"

DeviceCount = Annotated[int, Field(gt=0)]


class DevicesDelivered(EventData):
    """A batch of refurbished devices was delivered to a recipient organisation."""

    event_type = "DevicesDelivered"
    topic = TOPIC

    delivery_id: str
    recipient: str = Field(description="Recipient organisation code.")
    recipient_kind: RecipientKind
    donor: str | None = Field(default=None, description="Donor organisation code, when the batch came from one donor.")
    donor_kind: DonorKind | None = None
    devices: dict[DeviceKind, DeviceCount] = Field(description="Number of devices delivered, by kind.")
    total_devices: int = Field(ge=1)
    public: Public | None = Field(default=None, description="The public the devices serve.")
    beneficiaries: int | None = Field(default=None, ge=0, description="How many people benefit (a count only).")
    commune: str | None = None
    delivered_on: date


class BatchDeclared(EventData):
    """A donor declared a batch of decommissioned devices (counts by kind; devices are in the API)."""

    event_type = "BatchDeclared"
    topic = TOPIC

    batch_id: str
    donor: str
    reference: str
    devices: dict[DeviceKind, DeviceCount]
    total_devices: int = Field(ge=1)


class DevicesTransferred(EventData):
    """Custody of devices moved from one organisation to another; the receiving side confirmed it."""

    event_type = "DevicesTransferred"
    topic = TOPIC

    transfer_id: str
    from_organisation: str
    to_organisation: str
    devices: dict[DeviceKind, DeviceCount]
    total_devices: int = Field(ge=1)
    batches: list[str] = Field(description="The batches the devices came from.")


class DeviceSanitised(EventData):
    """Sanitisation records were added to a device (NIST SP 800-88); its state is derived from them."""

    event_type = "DeviceSanitised"
    topic = TOPIC

    device_id: str
    batch_id: str
    donor: str
    kind: DeviceKind
    sanitisation: SanitisationState
    media: int = Field(ge=0, description="How many storage media the device has.")
    certificate_id: str | None = None
    certificate_sha256: str | None = Field(default=None, description="SHA-256 of the certificate PDF, when issued.")
    changes: list[FieldChange]


class DeviceConditionChanged(EventData):
    """A device's physical state changed (to repair, refurbished with a grade, for parts, disposed)."""

    event_type = "DeviceConditionChanged"
    topic = TOPIC

    device_id: str
    batch_id: str
    donor: str
    kind: DeviceKind
    physical: PhysicalState
    grade: Grade | None = None
    changes: list[FieldChange]


class BatchMilestoneReached(EventData):
    """A donor's batch reached a milestone: all received, all sanitised (counts only)."""

    event_type = "BatchMilestoneReached"
    topic = TOPIC

    batch_id: str
    donor: str
    reference: str
    milestone: Literal["received", "sanitised", "delivered"]
    declared: int
    received: int
    wiped: int
    failed: int
    delivered: int


class RequestSubmitted(EventData):
    """A recipient organisation asked for devices (counts by kind, the public served; no names)."""

    event_type = "RequestSubmitted"
    topic = TOPIC

    request_id: str
    recipient: str
    recipient_kind: RecipientKind
    devices: dict[DeviceKind, DeviceCount]
    public: Public | None = None
    beneficiaries: int | None = Field(default=None, ge=0)
    commune: str | None = None


class RequestReviewed(EventData):
    """A request was accepted, partially accepted or refused (with a reason)."""

    event_type = "RequestReviewed"
    topic = TOPIC

    request_id: str
    recipient: str
    recipient_kind: RecipientKind
    decision: ReviewDecision
    granted: dict[DeviceKind, int]
    reason: str = ""
    changes: list[FieldChange]


class DevicesAllocated(EventData):
    """Devices were allocated to requests (one event per request served by an allocation run)."""

    event_type = "DevicesAllocated"
    topic = TOPIC

    allocation_run: str
    request_id: str
    recipient: str
    recipient_kind: RecipientKind
    devices: dict[DeviceKind, DeviceCount]
    total_devices: int = Field(ge=1)
    still_waiting: dict[DeviceKind, int] = Field(description="What the request still waits for.")


class DeliveryFollowUpDue(EventData):
    """Six months (or a multiple) after a delivery: time to check the devices are in use."""

    event_type = "DeliveryFollowUpDue"
    topic = TOPIC

    delivery_id: str
    recipient: str
    delivered_on: date
    due_on: date
    devices: int = Field(ge=1)


class DeviceReturned(EventData):
    event_type = "DeviceReturned"
    topic = TOPIC

    device_id: str
    kind: DeviceKind
    recipient: str
    returned_to: str
    reason: str


class DeviceDisposed(EventData):
    """A device reached its end of life with a recycler (for the WEEE register)."""

    event_type = "DeviceDisposed"
    topic = TOPIC

    device_id: str
    kind: DeviceKind
    donor: str
    recycler: str
    disposed_on: date
    method: str
    certificate_reference: str


EVENTS: tuple[type[EventData], ...] = (
    DevicesDelivered,
    BatchDeclared,
    DevicesTransferred,
    DeviceSanitised,
    DeviceConditionChanged,
    BatchMilestoneReached,
    RequestSubmitted,
    RequestReviewed,
    DevicesAllocated,
    DeliveryFollowUpDue,
    DeviceReturned,
    DeviceDisposed,
)
