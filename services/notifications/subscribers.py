"""Thin subscribers: every event type partners can subscribe to becomes queued e-mails."""

from __future__ import annotations

from typing import Any

from passerelle_contracts import Envelope, EventData, actions_v1, equipment_v1, funding_v1

from services.runtime.service import Runtime
from services.runtime.uow import UnitOfWork

from .handlers import notify_subscribers
from .templates import RENDERERS


async def on_event(uow: UnitOfWork[Any], envelope: Envelope, data: EventData) -> None:
    await notify_subscribers(uow.connection, envelope)  # type: ignore[attr-defined]


def register(runtime: Runtime) -> None:
    runtime.consume(
        "mailer",
        [actions_v1.TOPIC, equipment_v1.TOPIC, funding_v1.TOPIC],
        {event_type: on_event for event_type in RENDERERS},
    )
