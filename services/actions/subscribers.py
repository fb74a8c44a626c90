"""Thin subscribers: which consumer reads which topics, and which event type goes to which handler
(the runtime validated the contract and opened the unit of work, inbox row included).

``EpnLabelled`` is not routed: action 11 follows ``EpnLabelStatusChanged.labelled_epns``, and
counting ``EpnLabelled`` as well would count each label twice and never a withdrawal. The consumer
acknowledges an event type it has no handler for as ``ignored`` (no transaction, no inbox row, no
dead letter), so old and new ``EpnLabelled`` events pass by harmlessly, and so do the cadastre's
lines (``FundingLineRecorded``, ``FundingLineChanged``): action 36 reads the figure the funding
service derives from them, ``CadastreCoverageChanged``. Action 28 counts the EPNs' activity returns
(``ActivityReturnSubmitted``; the seed's mapping counts revision 1 only, so a correction is not a
second return); their reminders (``ActivityReturnReminder``) pass by.

``epn-register`` reads the funding topic too, for the EPN register's EPNs (``handlers.epn_register``:
``EpnRegistered``, ``EpnDetailsChanged``), in a consumer group of its own rather than as two more
handlers of ``indicators``:

* A new group starts at the topic's first record (``auto_offset_reset`` earliest), so on an
  existing deployment it learns every EPN registered before this version; ``indicators`` has
  committed its offsets past those events and, given the handlers, would learn only the EPNs
  registered from now on.
* A partition moves only as fast as its slowest record: a registration under a code that is
  another kind of organisation here is retried (with backoff) and dead-lettered, and an
  organisation's update waiting on a lock would wait with it. In a group of their own, neither holds
  back the plan's indicators on that partition, and a slow indicator never delays an EPN.
* Each group has its own inbox rows, dead letters (``x-dlq-consumer``), lag and metrics, so an
  operator sees which concern a dead letter or a lag belongs to, and replays one without the other.

The two groups apply independent facts (an indicator does not name organisations), so nothing
depends on the order in which they read the same record."""

from __future__ import annotations

from collections.abc import Mapping

from passerelle_contracts.equipment_v1 import TOPIC as EQUIPMENT_TOPIC
from passerelle_contracts.equipment_v1 import DevicesDelivered
from passerelle_contracts.funding_v1 import TOPIC as FUNDING_TOPIC
from passerelle_contracts.funding_v1 import (
    ActivityReturnSubmitted,
    CadastreCoverageChanged,
    EpnDetailsChanged,
    EpnLabelStatusChanged,
    EpnRegistered,
    GrantAwarded,
)

from services.runtime.consumer import Handler
from services.runtime.service import Runtime

from .handlers.epn_register import on_epn_details_changed, on_epn_registered
from .handlers.indicators import (
    count_activity_returns,
    count_devices_delivered,
    count_grant_awarded,
    count_labelled_epns,
    measure_cadastre_coverage,
)

EPN_REGISTER = "epn-register"
EPN_REGISTER_TOPICS = (FUNDING_TOPIC,)
EPN_REGISTER_HANDLERS: Mapping[str, Handler] = {
    EpnRegistered.event_type: on_epn_registered,
    EpnDetailsChanged.event_type: on_epn_details_changed,
}


def register(runtime: Runtime) -> None:
    runtime.consume(
        "indicators",
        [EQUIPMENT_TOPIC, FUNDING_TOPIC],
        {
            DevicesDelivered.event_type: count_devices_delivered,
            GrantAwarded.event_type: count_grant_awarded,
            EpnLabelStatusChanged.event_type: count_labelled_epns,
            CadastreCoverageChanged.event_type: measure_cadastre_coverage,
            ActivityReturnSubmitted.event_type: count_activity_returns,
        },
    )
    runtime.consume(EPN_REGISTER, EPN_REGISTER_TOPICS, EPN_REGISTER_HANDLERS)
