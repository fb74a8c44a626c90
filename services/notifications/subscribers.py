"""Thin subscribers: every event type partners can subscribe to becomes queued e-mails."""

from __future__ import annotations

from passerelle_contracts import actions_v1, equipment_v1, funding_v1

from services.runtime.service import Runtime

from .handlers import notify_subscribers
from .templates import RENDERERS


def register(runtime: Runtime) -> None:
    runtime.consume(
        "mailer",
        [actions_v1.TOPIC, equipment_v1.TOPIC, funding_v1.TOPIC],
        {event_type: notify_subscribers for event_type in RENDERERS},
    )
