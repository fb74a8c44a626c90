"""Thin subscribers: validate the contract (the runtime did), build a command, call the handler."""

from __future__ import annotations

from typing import Any

from passerelle_contracts import Envelope
from passerelle_contracts.equipment_v1 import TOPIC as EQUIPMENT_TOPIC
from passerelle_contracts.equipment_v1 import DevicesDelivered
from passerelle_contracts.funding_v1 import TOPIC as FUNDING_TOPIC
from passerelle_contracts.funding_v1 import EpnLabelled, GrantAwarded

from services.runtime.service import Runtime
from services.runtime.uow import UnitOfWork

from .events import TOPIC
from .handlers import RecordDerivedMeasurements, record_derived_measurements


def register(runtime: Runtime) -> None:
    out = runtime.topic(TOPIC)

    async def on_devices_delivered(uow: UnitOfWork[Any], envelope: Envelope, data: DevicesDelivered) -> None:
        command = RecordDerivedMeasurements(envelope, data.model_dump(mode="json"), data.delivered_on)
        await record_derived_measurements(uow.connection, out, command)  # type: ignore[attr-defined]

    async def on_grant_awarded(uow: UnitOfWork[Any], envelope: Envelope, data: GrantAwarded) -> None:
        command = RecordDerivedMeasurements(envelope, data.model_dump(mode="json"), data.awarded_on)
        await record_derived_measurements(uow.connection, out, command)  # type: ignore[attr-defined]

    async def on_epn_labelled(uow: UnitOfWork[Any], envelope: Envelope, data: EpnLabelled) -> None:
        command = RecordDerivedMeasurements(envelope, data.model_dump(mode="json"), data.labelled_on)
        await record_derived_measurements(uow.connection, out, command)  # type: ignore[attr-defined]

    runtime.consume(
        "indicators",
        [EQUIPMENT_TOPIC, FUNDING_TOPIC],
        {
            DevicesDelivered.event_type: on_devices_delivered,
            GrantAwarded.event_type: on_grant_awarded,
            EpnLabelled.event_type: on_epn_labelled,
        },
    )
