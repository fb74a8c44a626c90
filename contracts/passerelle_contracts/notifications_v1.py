"""Events published by the notifications service (topic ``passerelle.notifications.v1``): what
happened to the messages it sends, for the dashboard and the audit trail.

Contacts are the only personal data in Passerelle and they stay in the notifications service: an
event names the organisation (``partner``) and the contact by its number (``contact``), never by
name or address. After a contact is erased its number points at nothing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .envelope import EventData

TOPIC = "passerelle.notifications.v1"

Channel = Literal["email", "webhook", "feed"]


class _MessageEvent(EventData):
    message_id: int = Field(ge=1, description="The message's number in the delivery log.")
    partner: str = Field(description="The organisation the message was for.")
    contact: int | None = Field(default=None, ge=1, description="The contact's number (none once erased).")
    channel: Channel
    about: str = Field(
        description="The event type the message is about, or what else it is: Digest, MeetingReminder, BounceAlert."
    )
    about_event_id: str | None = Field(default=None, description="The event's id, when the message is about one event.")


class MessageSent(_MessageEvent):
    """A message left Passerelle: accepted by the SMTP server, acknowledged (2xx) by a webhook
    receiver, or placed in a contact's in-app feed."""

    event_type = "MessageSent"
    topic = TOPIC

    attempts: int = Field(ge=1)


class MessageBounced(_MessageEvent):
    """A message was refused by the recipient's mailbox: at submission (SMTP 5xx) or later by a
    delivery status notification sent back to the bounce address."""

    event_type = "MessageBounced"
    topic = TOPIC

    hard: bool = Field(description="A permanent refusal (5.x.x): counts toward suspending the channel.")
    status: str = Field(max_length=200, description="The SMTP or DSN status, e.g. '5.1.1'.")


class MessageFailed(_MessageEvent):
    """A message will not be delivered: refused for good (SMTP 5xx, webhook 410 or 4xx) or still
    undeliverable after the retry period. It stays in the delivery log as a dead letter, which an
    operator may send again."""

    event_type = "MessageFailed"
    topic = TOPIC

    reason: str = Field(
        max_length=200,
        description="Why, as a code and status ('smtp 550 5.1.1', 'http 410', 'gave up after 72 h'), never the "
        "server's text, which may quote the address.",
    )
    attempts: int = Field(ge=0)


class ChannelSuspended(EventData):
    """A contact's channel was suspended: its e-mail after repeated hard bounces, its webhook after
    the receiver answered 410 Gone. The Coordination is told; the organisation fixes the address."""

    event_type = "ChannelSuspended"
    topic = TOPIC

    partner: str
    contact: int = Field(ge=1)
    channel: Channel
    reason: str = Field(max_length=200, description="As in MessageFailed: a code and a status, no address.")
    hard_bounces: int = Field(default=0, ge=0)


EVENTS: tuple[type[EventData], ...] = (MessageSent, MessageBounced, MessageFailed, ChannelSuspended)
