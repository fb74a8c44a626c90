"""Thin subscribers: which consumer reads which topics, and which event type goes to which handler
(the runtime validated the contract and opened the unit of work, inbox row included)."""

from __future__ import annotations

from passerelle_contracts.equipment_v1 import TOPIC as EQUIPMENT_TOPIC
from passerelle_contracts.equipment_v1 import DevicesDelivered
from passerelle_contracts.funding_v1 import TOPIC as FUNDING_TOPIC
from passerelle_contracts.funding_v1 import EpnLabelled, GrantAwarded

from services.runtime.service import Runtime

from .handlers.indicators import count_devices_delivered, count_epn_labelled, count_grant_awarded


def register(runtime: Runtime) -> None:
    runtime.consume(
        "indicators",
        [EQUIPMENT_TOPIC, FUNDING_TOPIC],
        {
            DevicesDelivered.event_type: count_devices_delivered,
            GrantAwarded.event_type: count_grant_awarded,
            EpnLabelled.event_type: count_epn_labelled,
        },
    )
