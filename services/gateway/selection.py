"""What a stream reads: its topics, its event types, where it starts. Pure: checked from the
request first (422 for a name the registry does not know, 400 for a position that is not one),
then against the partner's grants (403)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from passerelle_contracts.registry import TOPICS

from services.runtime.errors import Forbidden, Invalid, PasserelleError

from . import position as positions

Start = Literal["beginning", "end"]

PARTNER_TOPICS: dict[str, frozenset[str]] = {
    spec.name: frozenset(spec.event_types) for spec in TOPICS if spec.audience == "partner"
}
"""Every partner topic of the registry, with the event types it carries."""


class InvalidPositionError(PasserelleError):
    """``Last-Event-ID`` (or ``last_event_id``) is not a position this gateway made."""

    status_code = 400
    code = "invalid-position"


@dataclass(frozen=True)
class Selection:
    """A stream asked for: ``topics`` None means every topic granted, ``types`` None every type."""

    topics: tuple[str, ...] | None
    types: frozenset[str] | None
    start: Start
    resume: positions.Position


def _names(text: str | None, what: str) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not names:
        raise Invalid(f"{what} names nothing: leave it out for all, or give comma-separated names")
    return names


def parse(topics: str | None, types: str | None, start: Start, last_event_id: str | None) -> Selection:
    """The request's own checks, before anyone's grants: names the registry knows, a position."""
    wanted = _names(topics, "topics")
    unknown = [name for name in wanted or () if name not in PARTNER_TOPICS]
    if unknown:
        raise Invalid(
            f"not partner topics: {', '.join(unknown)} (the partner topics: {', '.join(sorted(PARTNER_TOPICS))})"
        )
    kinds = _names(types, "types")
    every_type = frozenset().union(*PARTNER_TOPICS.values())
    unknown = [name for name in kinds or () if name not in every_type]
    if unknown:
        raise Invalid(f"not event types of any partner topic: {', '.join(unknown)}")
    resume: positions.Position = {}
    if last_event_id is not None and last_event_id.strip():
        try:
            resume = positions.decode(last_event_id.strip())
        except positions.InvalidPosition as error:
            raise InvalidPositionError(f"Last-Event-ID: {error}") from None
    return Selection(wanted, frozenset(kinds) if kinds else None, start, resume)


def resolve(
    selection: Selection, granted: Iterable[str], organisation: str
) -> tuple[tuple[str, ...], frozenset[str] | None]:
    """The topics and types to stream, once the grants are known: a topic not granted is refused
    by name; a type none of the streamed topics carries is refused too (it would never come)."""
    granted = frozenset(granted)
    if not granted:
        raise Forbidden(f"no partner topic is granted to {organisation}")
    topics = selection.topics or tuple(sorted(granted))
    refused = [name for name in topics if name not in granted]
    if refused:
        raise Forbidden(f"not granted to {organisation}: {', '.join(refused)}")
    if selection.types is not None:
        carried = frozenset().union(*(PARTNER_TOPICS[name] for name in topics))
        absent = sorted(selection.types - carried)
        if absent:
            raise Invalid(f"the topics streamed ({', '.join(topics)}) never carry {', '.join(absent)}")
    return topics, selection.types
