"""The one envelope every Passerelle event travels in.

The envelope is what partners code against first: the routing and tracing fields are the same
for every event, and ``data`` carries the event type's own payload (see ``registry``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

# Defined in ``common``; still importable from here, where partners' code found it first.
from .common import Role as Role


class Actor(BaseModel):
    """Who caused an event: an organisation and the role it acted in, never a person's name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    organisation: str = Field(description="Organisation code, e.g. 'easy-brussels'.")
    # Always an event role (``Role``), never a key's finer role (``common.KeyRole``): a key of a
    # finer role acts in the role ``common.WIRE_ROLE`` names, so that new key roles never widen
    # this enum (strict readers would reject the events). Comments only here: a docstring or a
    # description would change every event's committed schema.
    role: Role
    key_id: str | None = Field(default=None, description="Id of the API key used, when a person acted.")


SYSTEM_ACTOR = Actor(organisation="passerelle", role="system")


class EventData(BaseModel):
    """Base of every event payload. Subclasses declare their type, version and topic.

    Readers are tolerant: unknown fields are ignored, so adding an optional field keeps the
    version (see ``compat``); anything else is a new version.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1
    topic: ClassVar[str]


class Envelope(BaseModel):
    """Routing and tracing fields shared by every event; ``subject`` is also the Kafka key."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: uuid.UUID
    event_type: str
    event_version: int = Field(ge=1)
    source: str = Field(description="The producing service, e.g. 'actions'.")
    subject: str = Field(min_length=1, description="Aggregate id; also the Kafka message key.")
    occurred_at: AwareDatetime
    correlation_id: uuid.UUID = Field(description="Shared by every event of one business flow.")
    causation_id: uuid.UUID | None = Field(default=None, description="The event or command that caused this one.")
    actor: Actor
    data: dict[str, Any]

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @classmethod
    def wrap(
        cls,
        data: EventData,
        *,
        source: str,
        subject: str,
        actor: Actor,
        correlation_id: uuid.UUID | None = None,
        causation_id: uuid.UUID | None = None,
        event_id: uuid.UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        event_id = event_id or uuid.uuid4()
        return cls(
            event_id=event_id,
            event_type=data.event_type,
            event_version=data.event_version,
            source=source,
            subject=subject,
            occurred_at=occurred_at or datetime.now(UTC),
            correlation_id=correlation_id or event_id,
            causation_id=causation_id,
            actor=actor,
            data=data.model_dump(mode="json"),
        )
