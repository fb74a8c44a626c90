"""The topic registry: who produces and consumes each topic, its key, size and retention,
and the event types it carries. Infrastructure creates topics from here, never by auto-creation.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from . import actions_v1, equipment_v1, funding_v1, notifications_v1, partners
from .envelope import Envelope, EventData

DAY_MS = 24 * 60 * 60 * 1000
FOREVER_MS = -1

DLQ_SUFFIX = ".dlq"


class TopicSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    producer: str = Field(description="The one service that writes to this topic.")
    consumers: tuple[str, ...]
    key: str = Field(description="What the Kafka key holds (the envelope's subject).")
    partitions: int = Field(ge=1)
    cleanup_policy: Literal["delete", "compact"] = "delete"
    retention_ms: int = Field(description="-1 keeps records forever.")
    event_types: tuple[str, ...] = ()
    audience: Literal["internal", "partner"] = Field(
        default="internal",
        description="internal: the services' own (free text included); partner: what partners may be granted "
        "(organisations, counts, codes and the plan's public texts; see passerelle_contracts.partners).",
    )
    projection_of: str | None = Field(
        default=None, description="The internal topic a partner topic is the projection of (same events, same keys)."
    )

    def kafka_config(self) -> dict[str, str]:
        return {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}

    @property
    def dead_letter(self) -> TopicSpec:
        """The topic's dead-letter topic: any consumer of the topic may write there."""
        return TopicSpec(
            name=self.name + DLQ_SUFFIX,
            description=f"Messages of {self.name} that a consumer could not process, with the reason in headers.",
            producer="any consumer of " + self.name,
            consumers=("operators",),
            key=self.key,
            partitions=self.partitions,
            retention_ms=90 * DAY_MS,  # long enough for an operator back from holidays
        )


def _types(events: tuple[type[EventData], ...]) -> tuple[str, ...]:
    return tuple(e.event_type for e in events)


# Domain event topics are the plan's audit trail (the annual report is reproducible from them),
# so they are kept forever; volumes are small (thousands of events a year).
TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        name=actions_v1.TOPIC,
        description="Lifecycle of the plan's 66 actions: registration, status, indicators.",
        producer="actions",
        consumers=("notifications", "dashboard"),
        key="action-<number>, so one action's events stay in order",
        partitions=3,
        retention_ms=FOREVER_MS,
        event_types=_types(actions_v1.EVENTS),
    ),
    TopicSpec(
        name=equipment_v1.TOPIC,
        description="Decommissioned IT equipment: intake, sanitisation, refurbishing, redistribution.",
        producer="equipment",
        consumers=("actions", "notifications", "dashboard"),
        key="delivery-<id> (later: device or batch id)",
        partitions=3,
        retention_ms=FOREVER_MS,
        event_types=_types(equipment_v1.EVENTS),
    ),
    TopicSpec(
        name=funding_v1.TOPIC,
        description="The register of the EPNs and of their funding: labels, calls, applications, grants, payments.",
        producer="funding",
        consumers=("actions", "equipment", "notifications", "dashboard"),
        key="grant-<id>; epn-<code> (one EPN's events in order); funding-line-<id>; cadastre-<year>",
        partitions=3,
        retention_ms=FOREVER_MS,
        event_types=_types(funding_v1.EVENTS),
    ),
    TopicSpec(
        name=notifications_v1.TOPIC,
        description="What became of the messages sent to partners: sent, bounced, failed; channels suspended.",
        producer="notifications",
        consumers=("dashboard",),
        key="message-<id>; contact-<id> (one contact's channel events in order)",
        partitions=3,
        # The delivery log is the record; these events feed the dashboard and the audit trail.
        # A year is long enough to answer "was this partner told?" for the annual report's year.
        retention_ms=400 * DAY_MS,
        event_types=_types(notifications_v1.EVENTS),
    ),
)


def _partner_topic(internal: TopicSpec) -> TopicSpec:
    return TopicSpec(
        name=partners.partner_topic(internal.name),
        description=f"What partners may read of {internal.name}: the same events, keys and order, without the "
        "free text people wrote (notes, comments, reasons, agendas, minutes) nor the lists of changes.",
        producer=internal.producer,  # written with the internal event, in the same transaction
        consumers=("partners", "gateway"),
        key=internal.key,
        partitions=internal.partitions,
        retention_ms=internal.retention_ms,
        event_types=internal.event_types,
        audience="partner",
        projection_of=internal.name,
    )


TOPICS = TOPICS + tuple(_partner_topic(spec) for spec in TOPICS if spec.name in partners.PROJECTED)

EVENT_MODELS: dict[tuple[str, int], type[EventData]] = {
    (model.event_type, model.event_version): model
    for model in (*actions_v1.EVENTS, *equipment_v1.EVENTS, *funding_v1.EVENTS, *notifications_v1.EVENTS)
}


def all_topics() -> tuple[TopicSpec, ...]:
    """Every topic to create: the domain topics, the partner topics, and the dead-letter topics
    of those services consume (nobody inside Passerelle consumes a partner topic)."""
    return TOPICS + tuple(t.dead_letter for t in TOPICS if t.audience == "internal")


def topic(name: str) -> TopicSpec:
    for spec in all_topics():
        if spec.name == name:
            return spec
    raise KeyError(f"unknown topic {name!r}")


class UnknownEventType(LookupError):
    pass


def parse_data(envelope: Envelope, models: dict[tuple[str, int], type[EventData]] | None = None) -> EventData:
    """Validate an envelope's payload against its event type's model (of ``models``: the partner
    topics' are ``partners.PARTNER_EVENT_MODELS``)."""
    try:
        model = (EVENT_MODELS if models is None else models)[(envelope.event_type, envelope.event_version)]
    except KeyError:
        raise UnknownEventType(f"no contract for {envelope.event_type} v{envelope.event_version}") from None
    return model.model_validate(envelope.data)
