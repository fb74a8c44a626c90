"""Thin subscribers: which consumer reads which topics, and which event type goes to which handler.

``mailer``: every event type partners can subscribe to (``rendering.SUBSCRIBABLE``) becomes
messages and digest entries (``handlers.deliveries.Notifier``).

``epn-directory``: the funding register's EPNs (``EpnRegistered``, ``EpnDetailsChanged``,
``EpnLabelStatusChanged``) kept in the EPN directory, and each grant's holder (``GrantAwarded``,
``GrantAgreementSigned``) (``handlers.directory``).

``plan-directory``: the plan's actions (``ActionRegistered``, ``ActionDetailsChanged``) and its
meetings (``MeetingScheduled``, ``MeetingRescheduled``, ``MeetingCancelled``, ``MeetingHeld``),
kept for filters, owners and meeting reminders (``handlers.plan``).

Why the directories are consumer groups of their own rather than more handlers of ``mailer``:

* A new group starts at the topic's first record, so on an existing deployment a directory learns
  everything announced before its version; ``mailer`` has committed its offsets past them. And a
  directory wants the whole history, where ``mailer`` tells only what happened since the service
  first started (``mailer_start``).
* A partition moves only as fast as its slowest record: an event a directory refuses (an EPN whose
  registration was not applied) is retried with backoff, then dead-lettered, and in ``mailer`` it
  would delay every message behind it on that partition; in a group of its own it delays only the
  directory.
* Each group has its own inbox rows, dead letters (``x-dlq-consumer``), lag and metrics.

The groups read the same records independently: an event handled by ``mailer`` before a directory
has learnt what it refers to (an EPN registered moments before, an action's lead) reaches the
organisations the event names itself, as before the directories existed."""

from __future__ import annotations

from collections.abc import Mapping

from passerelle_contracts import actions_v1, equipment_v1, funding_v1
from passerelle_contracts.actions_v1 import (
    ActionDetailsChanged,
    ActionRegistered,
    MeetingCancelled,
    MeetingHeld,
    MeetingRescheduled,
    MeetingScheduled,
)
from passerelle_contracts.funding_v1 import (
    EpnDetailsChanged,
    EpnLabelStatusChanged,
    EpnRegistered,
    GrantAgreementSigned,
    GrantAwarded,
)

from services.runtime.consumer import Handler
from services.runtime.service import Runtime

from .handlers import on_epn_details_changed, on_epn_label_status_changed, on_epn_registered, on_grant_holder
from .handlers.deliveries import Links, Notifier
from .handlers.plan import (
    on_action_details_changed,
    on_action_registered,
    on_meeting_cancelled,
    on_meeting_held,
    on_meeting_planned,
)
from .rendering import SUBSCRIBABLE

MAILER = "mailer"
MAILER_TOPICS = (actions_v1.TOPIC, equipment_v1.TOPIC, funding_v1.TOPIC)
EPN_DIRECTORY = "epn-directory"
EPN_DIRECTORY_TOPICS = (funding_v1.TOPIC,)
EPN_DIRECTORY_HANDLERS: Mapping[str, Handler] = {
    EpnRegistered.event_type: on_epn_registered,
    EpnDetailsChanged.event_type: on_epn_details_changed,
    EpnLabelStatusChanged.event_type: on_epn_label_status_changed,
    GrantAwarded.event_type: on_grant_holder,
    GrantAgreementSigned.event_type: on_grant_holder,
}
PLAN_DIRECTORY = "plan-directory"
PLAN_DIRECTORY_TOPICS = (actions_v1.TOPIC,)
PLAN_DIRECTORY_HANDLERS: Mapping[str, Handler] = {
    ActionRegistered.event_type: on_action_registered,
    ActionDetailsChanged.event_type: on_action_details_changed,
    MeetingScheduled.event_type: on_meeting_planned,
    MeetingRescheduled.event_type: on_meeting_planned,
    MeetingCancelled.event_type: on_meeting_cancelled,
    MeetingHeld.event_type: on_meeting_held,
}


def register(runtime: Runtime, links: Links) -> None:
    notifier = Notifier(links)
    runtime.consume(MAILER, MAILER_TOPICS, dict.fromkeys(SUBSCRIBABLE, notifier))
    runtime.consume(EPN_DIRECTORY, EPN_DIRECTORY_TOPICS, EPN_DIRECTORY_HANDLERS)
    runtime.consume(PLAN_DIRECTORY, PLAN_DIRECTORY_TOPICS, PLAN_DIRECTORY_HANDLERS)
