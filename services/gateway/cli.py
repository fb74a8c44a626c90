"""The gateway's own commands: none yet. ``python -m services.gateway --help`` lists the runtime's
(``serve``, ``migrate``, ``keys create|list|revoke|expire``, ``dlq``, ``outbox``): a partner's key
is made with ``keys create --organisation <partner code> --role partner`` (or ``reader``); what it
may stream is what the partner's Kafka principal may read (its ACLs: ``python -m services.access
partners onboard|offboard``)."""

from __future__ import annotations

from services.runtime.cli import Command

COMMANDS: dict[str, Command] = {}
