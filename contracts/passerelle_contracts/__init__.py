"""Passerelle's event contracts: depends on pydantic only, so partners can install it alone."""

from .envelope import SYSTEM_ACTOR, Actor, Envelope, EventData, Role
from .registry import EVENT_MODELS, TOPICS, TopicSpec, UnknownEventType, all_topics, parse_data, topic

__all__ = [
    "EVENT_MODELS",
    "SYSTEM_ACTOR",
    "TOPICS",
    "Actor",
    "Envelope",
    "EventData",
    "Role",
    "TopicSpec",
    "UnknownEventType",
    "all_topics",
    "parse_data",
    "topic",
]
