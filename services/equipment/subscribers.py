"""Thin subscribers: which consumer reads which topics, and which event type goes to which handler
(the runtime validated the contract and opened the unit of work, inbox row included).

``epn-register`` reads the funding topic for the EPN register's EPNs (``handlers.epn_register``);
the topic's other events (grants, label decisions) are ignored: nothing here depends on them."""

from __future__ import annotations

from collections.abc import Mapping

from passerelle_contracts.funding_v1 import TOPIC as FUNDING_TOPIC
from passerelle_contracts.funding_v1 import EpnDetailsChanged, EpnRegistered

from services.runtime.consumer import Handler
from services.runtime.service import Runtime

from .handlers.epn_register import on_epn_details_changed, on_epn_registered

CONSUMER = "epn-register"
TOPICS = (FUNDING_TOPIC,)
HANDLERS: Mapping[str, Handler] = {
    EpnRegistered.event_type: on_epn_registered,
    EpnDetailsChanged.event_type: on_epn_details_changed,
}


def register(runtime: Runtime) -> None:
    runtime.consume(CONSUMER, TOPICS, HANDLERS)
