"""Working Group and COPIL meetings, without I/O: when one may be scheduled, changed, cancelled or
recorded held, what changed in a re-schedule, and who was convened but absent.

A meeting is ``scheduled`` (its convocation: date, place, agenda, guests), then either
``cancelled`` or ``held`` (attendees, decisions, minutes), each once: a meeting held or cancelled
is history, and its events have been sent to the partners. A meeting recorded after the fact
(``POST /meetings``) is ``held`` from the start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from passerelle_contracts.common import FieldChange

from services.runtime.errors import Conflict, Invalid
from services.runtime.inputs import BRUSSELS, PLANNING_HORIZON_YEARS

MeetingStatus = Literal["scheduled", "cancelled", "held"]
MEETING_STATUSES: tuple[MeetingStatus, ...] = ("scheduled", "cancelled", "held")  # migration 0007's CHECK

LONGEST_MEETING = timedelta(hours=12)  # a Working Group or COPIL meeting lasts hours, not days
SCHEDULE_FIELDS = ("starts_at", "ends_at", "location", "agenda", "invited")
"""What a re-schedule may change (``MeetingRescheduled.changes`` names them); never the kind."""


class MeetingClosed(Conflict):
    """The meeting was held or cancelled: it cannot change any more."""

    code = "meeting-closed"


def check_times(starts_at: datetime, ends_at: datetime | None, now: datetime) -> None:
    """A meeting is scheduled ahead (not in the past, not beyond the planning horizon), with its
    offset, and ends after it starts, the same day or night."""
    if starts_at.tzinfo is None or (ends_at is not None and ends_at.tzinfo is None):
        raise Invalid("a meeting's times carry their offset (e.g. 2026-03-12T09:30:00+01:00)")
    if starts_at <= now:
        raise Invalid(f"starts_at {utc_text(starts_at)} has passed: a meeting is scheduled ahead")
    if starts_at - now > timedelta(days=365 * PLANNING_HORIZON_YEARS):
        raise Invalid(f"starts_at more than {PLANNING_HORIZON_YEARS} years ahead is not plausible")
    check_end(starts_at, ends_at)


def check_end(starts_at: datetime, ends_at: datetime | None) -> None:
    if ends_at is not None and not starts_at < ends_at <= starts_at + LONGEST_MEETING:
        raise Invalid(
            f"ends_at {utc_text(ends_at)} must come after starts_at {utc_text(starts_at)}, "
            f"and at most {LONGEST_MEETING // timedelta(hours=1)} hours later"
        )


def check_open(meeting: Mapping[str, Any], what: str) -> None:
    """Only a scheduled meeting is changed, cancelled or recorded held; ``what`` the caller tried."""
    status = meeting["status"]
    if status == "held":
        raise MeetingClosed(f"meeting {meeting['id']} was held on {meeting['held_on']}: it cannot be {what}")
    if status == "cancelled":
        raise MeetingClosed(f"meeting {meeting['id']} was cancelled: it cannot be {what}")


def reschedule(
    meeting: Mapping[str, Any], values: Mapping[str, Any], now: datetime
) -> tuple[dict[str, Any], list[FieldChange]]:
    """The meeting's schedule with ``values`` (a subset of ``SCHEDULE_FIELDS``) applied, and what
    changed. A new start must lie ahead; an unchanged one may have passed (the agenda of a
    meeting under way can still be corrected). The result ends after it starts either way."""
    unknown = set(values) - set(SCHEDULE_FIELDS)
    if unknown:
        raise Invalid(f"a meeting's {', '.join(sorted(unknown))} cannot be changed by a re-schedule")
    old = {name: meeting[name] for name in SCHEDULE_FIELDS}
    new = {**old, **values}
    if "invited" in values:
        new["invited"] = sorted(set(values["invited"]))
    diff = schedule_changes(old, new)
    if not diff:
        return new, []
    if new["starts_at"] != old["starts_at"]:
        check_times(new["starts_at"], new["ends_at"], now)
    else:
        check_end(new["starts_at"], new["ends_at"])
    return new, diff


def schedule_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldChange]:
    """Field by field, in ``SCHEDULE_FIELDS`` order, as the partners read them: times in UTC, the
    agenda as one line per item joined with "; ", the guests' codes joined with ", "."""
    return [
        FieldChange(field=name, old=shown(name, old[name]), new=shown(name, new[name]))
        for name in SCHEDULE_FIELDS
        if shown(name, old[name]) != shown(name, new[name])
    ]


def shown(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if name in ("starts_at", "ends_at"):
        return utc_text(value)
    if name == "agenda":
        return "; ".join(agenda_item(item) for item in value)
    if name == "invited":
        return ", ".join(value)
    return str(value)


def utc_text(moment: datetime) -> str:
    """A moment as the contracts' examples write it: UTC, ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def agenda_item(item: Mapping[str, Any]) -> str:
    number = item.get("action_number")
    return str(item["title"]) if number is None else f"{number} — {item['title']}"


def held_day(starts_at: datetime) -> date:
    """The day a scheduled meeting is held on unless told otherwise: its start's day in Brussels
    (a meeting at 00:30 on 13 March in Brussels starts on 12 March in UTC)."""
    return starts_at.astimezone(BRUSSELS).date()


def absent(members: Iterable[str], invited: Iterable[str], attendees: Sequence[str]) -> list[str]:
    """The organisations convened that did not attend: the members of the meeting's body (the
    Working Group's or the COPIL's, as the organisations say when the meeting is recorded held)
    and the guests invited, less the attendees; by code."""
    return sorted((set(members) | set(invited)) - set(attendees))
