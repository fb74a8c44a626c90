"""Thin subscribers: which consumer reads which topics, and which event type goes to which handler.

``mailer``: every event type partners can subscribe to becomes queued e-mails.

``epn-directory``: the funding register's EPNs (``EpnRegistered``, ``EpnDetailsChanged``,
``EpnLabelStatusChanged``) kept in the EPN directory (``handlers.directory``), in a consumer group
of its own rather than as more handlers of ``mailer``:

* A new group starts at the topic's first record, so on an existing deployment the directory learns
  every EPN registered before this version; ``mailer`` has committed its offsets past them. And the
  directory wants the register's whole history, where ``mailer`` e-mails only what happened since
  the service first started (``mailer_start``).
* A partition moves only as fast as its slowest record: a register event the directory refuses
  (an EPN whose registration was not applied) is retried with backoff, then dead-lettered, and in
  ``mailer`` it would delay every e-mail behind it on that partition; in a group of its own it
  delays only the directory.
* Each group has its own inbox rows, dead letters (``x-dlq-consumer``), lag and metrics.

The two groups read the same records independently: a reminder handled by ``mailer`` before the
directory has learned its EPN (registered moments before, or its registration dead-lettered)
reaches the EPN's own partner only, as before the directory existed."""

from __future__ import annotations

from collections.abc import Mapping

from passerelle_contracts import actions_v1, equipment_v1, funding_v1
from passerelle_contracts.funding_v1 import EpnDetailsChanged, EpnLabelStatusChanged, EpnRegistered

from services.runtime.consumer import Handler
from services.runtime.service import Runtime

from .handlers import notify_subscribers, on_epn_details_changed, on_epn_label_status_changed, on_epn_registered
from .templates import RENDERERS

MAILER = "mailer"
MAILER_TOPICS = (actions_v1.TOPIC, equipment_v1.TOPIC, funding_v1.TOPIC)
EPN_DIRECTORY = "epn-directory"
EPN_DIRECTORY_TOPICS = (funding_v1.TOPIC,)
EPN_DIRECTORY_HANDLERS: Mapping[str, Handler] = {
    EpnRegistered.event_type: on_epn_registered,
    EpnDetailsChanged.event_type: on_epn_details_changed,
    EpnLabelStatusChanged.event_type: on_epn_label_status_changed,
}


def register(runtime: Runtime) -> None:
    runtime.consume(MAILER, MAILER_TOPICS, {event_type: notify_subscribers for event_type in RENDERERS})
    runtime.consume(EPN_DIRECTORY, EPN_DIRECTORY_TOPICS, EPN_DIRECTORY_HANDLERS)
