"""Events published by the equipment service (topic ``passerelle.equipment.v1``).

Recipients are organisations; beneficiaries are counts by public. No pupil or resident is named.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from .actions_v1 import Public
from .envelope import EventData

TOPIC = "passerelle.equipment.v1"

RecipientKind = Literal[
    "secondary-school",
    "homework-school",
    "pupils-association",
    "retirement-home",
    "epn",
    "first-line-actor",
    "cpas",
    "non-profit",
]
DeviceKind = Literal["laptop", "desktop", "tablet", "chromebook", "screen", "other"]
DonorKind = Literal["regional-administration", "regional-public-body", "other"]
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


EVENTS: tuple[type[EventData], ...] = (DevicesDelivered,)
