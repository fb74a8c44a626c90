"""Thin subscribers: which consumer reads which topics, and which event type goes to which handler
(the runtime validated the contract and opened the unit of work, inbox row included).

``EpnLabelled`` is not routed: action 11 follows ``EpnLabelStatusChanged.labelled_epns``, and
counting ``EpnLabelled`` as well would count each label twice and never a withdrawal. The consumer
acknowledges an event type it has no handler for as ``ignored`` (no transaction, no inbox row, no
dead letter), so old and new ``EpnLabelled`` events pass by harmlessly, and so do the cadastre's
lines (``FundingLineRecorded``, ``FundingLineChanged``): action 36 reads the figure the funding
service derives from them, ``CadastreCoverageChanged``."""

from __future__ import annotations

from passerelle_contracts.equipment_v1 import TOPIC as EQUIPMENT_TOPIC
from passerelle_contracts.equipment_v1 import DevicesDelivered
from passerelle_contracts.funding_v1 import TOPIC as FUNDING_TOPIC
from passerelle_contracts.funding_v1 import CadastreCoverageChanged, EpnLabelStatusChanged, GrantAwarded

from services.runtime.service import Runtime

from .handlers.indicators import (
    count_devices_delivered,
    count_grant_awarded,
    count_labelled_epns,
    measure_cadastre_coverage,
)


def register(runtime: Runtime) -> None:
    runtime.consume(
        "indicators",
        [EQUIPMENT_TOPIC, FUNDING_TOPIC],
        {
            DevicesDelivered.event_type: count_devices_delivered,
            GrantAwarded.event_type: count_grant_awarded,
            EpnLabelStatusChanged.event_type: count_labelled_epns,
            CadastreCoverageChanged.event_type: measure_cadastre_coverage,
        },
    )
