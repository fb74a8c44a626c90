"""Who is told about an event, on which channel, how often and when: pure functions.

Why this shape
--------------
An event reaches a contact for one of two reasons. It *subscribed* to the event type, perhaps with
filters (an action, a commune, an EPN …), or the event is *its organisation's own business*: an
owner follows its actions, a donor its batches, an applicant its applications, a recipient its
requests and follow-ups, a grant holder its grant and reporting duties, the members of the Working
Group or of the COPIL their meetings (the *automatic* subscriptions, ``ADDRESSEES``). The
organisations an event is about come from its fields and from what this service learnt of the plan
(an action's axis, chantier and lead; an EPN's operator and commune; a grant's holder), so that a
filter on a commune matches an EPN's reminder although the reminder names only the EPN.

Some events are nobody else's business (``PRIVATE``: a returned report's comment, an application's
score, a payment): they reach their addressees and the Coordination only, whoever subscribed.

How often is the contact's choice per topic and channel (``Preferences``: immediate, daily, weekly
or off), except for *critical* messages (``CRITICAL``: the contact's own deadline, its own overdue
milestone or returned report, a convocation to its own meeting), which cannot be muted, are never
folded into a digest and are not held by quiet hours. Quiet hours hold the other immediate messages
until they end (Brussels time, as the contacts live it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Literal

from services.runtime.inputs import BRUSSELS

COORDINATION = "coordination-inclusion-numerique"

Channel = Literal["email", "feed", "webhook"]
Frequency = Literal["immediate", "daily", "weekly", "off"]
CHANNELS: tuple[Channel, ...] = ("email", "feed", "webhook")
FREQUENCIES: tuple[Frequency, ...] = ("immediate", "daily", "weekly", "off")
ALL_TOPICS = "*"
DIGEST_TOPICS = {"daily": "digest:daily", "weekly": "digest:weekly", "meeting": "digest:meeting"}
"""Preference topics of the digests themselves: a digest's unsubscribe link mutes its kind of digest."""

FILTER_KEYS = ("axis", "chantier", "action", "organisation", "commune", "epn", "call")
"""What a subscription may be narrowed by. An event's values for each are its ``facets``."""

ORGANISATION_FIELDS = (
    "lead",
    "partners",
    "donor",
    "recipient",
    "applicant",
    "beneficiary",
    "epn",
    "operator",
    "from_organisation",
    "to_organisation",
    "returned_to",
    "recycler",
    "attendees",
    "invited",
    "absent",
)
"""The fields of the contracts that name organisations (a code or a list of codes)."""

OWNER = "owner"
"""In ``ADDRESSEES``: the lead organisation of the event's action, as the plan directory knows it."""
OPERATOR = "operator"
"""In ``ADDRESSEES``: the organisation that runs the event's EPN, as the EPN directory knows it."""
HOLDER = "holder"
"""In ``ADDRESSEES``: the beneficiary of the event's grant, as the grant holders table knows it."""
MEMBERS = "members"
"""In ``ADDRESSEES``: the members of the meeting's body (Working Group or COPIL, by role)."""

# What an owner hears of its actions without asking: what moves them and what it must act on. Not
# their registration, an indicator's definition or a milestone planned: the plan's loading makes
# hundreds of those at once, and the owner (or the Coordination with it) wrote them.
_ACTION_OWNED = (
    "ActionStatusChanged",
    "ActionDetailsChanged",
    "ActionProgressUpdated",
    "MilestoneReached",
    "MilestoneOverdue",
    "IndicatorMeasured",
    "ReportSubmitted",
    "ReportApproved",
    "ReportReturned",
    "DecisionRecorded",
)
ADDRESSEES: Mapping[str, tuple[str, ...]] = {
    **{t: (OWNER,) for t in _ACTION_OWNED},
    "MeetingScheduled": (MEMBERS, "invited"),
    "MeetingRescheduled": (MEMBERS, "invited"),
    "MeetingCancelled": (MEMBERS, "invited"),
    "MeetingHeld": (MEMBERS, "attendees", "absent"),
    "BatchMilestoneReached": ("donor",),
    "RequestSubmitted": ("recipient",),
    "RequestReviewed": ("recipient",),
    "DevicesAllocated": ("recipient",),
    "DevicesDelivered": ("recipient",),
    "DeliveryFollowUpDue": ("recipient",),
    "DeviceReturned": ("recipient",),
    "ApplicationSubmitted": ("applicant",),
    "ApplicationDecided": ("applicant",),
    "GrantAwarded": ("beneficiary",),
    "GrantAgreementSigned": ("beneficiary",),
    "GrantAmended": (HOLDER,),
    "PaymentClaimSubmitted": ("beneficiary",),
    "PaymentClaimChecked": (HOLDER,),
    "PaymentMade": ("beneficiary",),
    "ReclaimIssued": ("beneficiary",),
    "ReportingReminder": ("beneficiary",),
    "GrantReportSubmitted": ("beneficiary",),
    "GrantReportReviewed": (HOLDER,),
    "GrantClosed": ("beneficiary",),
    "EpnLabelStatusChanged": ("epn", OPERATOR),
    "EpnDetailsChanged": ("epn", OPERATOR),
    "ActivityReturnSubmitted": ("epn", OPERATOR),
    "ActivityReturnReminder": ("epn", OPERATOR),
}
"""The automatic subscriptions: for each event type, whose own business it is (fields of the event,
or one of ``OWNER``, ``OPERATOR``, ``HOLDER``, ``MEMBERS``). A donor follows its batches by their
milestones (received, wiped, delivered: counts), not by each declaration or delivery, which would
be one e-mail per school delivered."""

PRIVATE = frozenset(
    {
        "BatchMilestoneReached",
        "ReportReturned",
        "ApplicationSubmitted",
        "ApplicationDecided",
        "PaymentClaimSubmitted",
        "PaymentClaimChecked",
        "ReclaimIssued",
        "ReportingReminder",
        "GrantReportReviewed",
        "ActivityReturnReminder",
        "DeliveryFollowUpDue",
    }
)
"""Events that reach their addressees and the Coordination only, whoever else subscribed."""

CRITICAL = frozenset(
    {
        "ReportingReminder",
        "ActivityReturnReminder",
        "MilestoneOverdue",
        "ReportReturned",
        "DeliveryFollowUpDue",
        "ReclaimIssued",
        "MeetingScheduled",
        "MeetingRescheduled",
        "MeetingCancelled",
    }
)
"""Critical to their addressees (not to other subscribers): the contact's own deadline, overdue
milestone or returned report, its own meeting's convocation. They cannot be muted."""

AUTOMATIC_DEFAULT: Mapping[str, Frequency] = {"IndicatorMeasured": "daily", "ActionProgressUpdated": "daily"}
"""How often an automatic subscription is heard by e-mail when the contact chose nothing: an owner
hears of each indicator increment in the daily digest, not once per increment (one season sent 303
e-mails to each partner, one per increment)."""


@dataclass(frozen=True)
class Context:
    """What the service knows around an event: its action's place in the plan, its EPN, its grant."""

    axis: int | None = None
    chantier: int | None = None
    owner: str | None = None
    epn_operator: str | None = None
    epn_commune: str | None = None
    grant_holder: str | None = None
    members: frozenset[str] = frozenset()


def _codes(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return []


def facets(event_type: str, data: Mapping[str, Any], context: Context) -> dict[str, list[str]]:
    """The event's values for each filter key, as text (filters compare text)."""
    found: dict[str, set[str]] = {k: set() for k in FILTER_KEYS}
    number = data.get("action_number")
    if isinstance(number, int):
        found["action"].add(str(number))
    for key, value in (("axis", data.get("axis", context.axis)), ("chantier", data.get("chantier", context.chantier))):
        if isinstance(value, int):
            found[key].add(str(value))
    for name in ORGANISATION_FIELDS:
        found["organisation"].update(_codes(data.get(name)))
    for extra in (context.owner, context.epn_operator, context.grant_holder):
        if extra:
            found["organisation"].add(extra)
    epn = data.get("epn")
    if isinstance(epn, str):
        found["epn"].add(epn)
    for commune in (data.get("commune"), context.epn_commune):
        if isinstance(commune, str) and commune:
            found["commune"].add(commune)
    call = data.get("call_code")
    if isinstance(call, str):
        found["call"].add(call)
    return {k: sorted(v) for k, v in found.items() if v}


def matches(filters: Mapping[str, Iterable[str]], event_facets: Mapping[str, Iterable[str]]) -> bool:
    """Whether a subscription's filters let the event through: every key given must share a value
    with the event's (an event without a value for a filtered key does not match)."""
    return all(set(values) & set(event_facets.get(key, ())) for key, values in filters.items())


def addressees(event_type: str, data: Mapping[str, Any], context: Context) -> frozenset[str]:
    """The organisations whose own business the event is (``ADDRESSEES``)."""
    found: set[str] = set()
    for source in ADDRESSEES.get(event_type, ()):
        if source == OWNER:
            found.update(_codes(context.owner) or _codes(data.get("lead")))
        elif source == OPERATOR:
            found.update(_codes(context.epn_operator))
        elif source == HOLDER:
            found.update(_codes(context.grant_holder))
        elif source == MEMBERS:
            found.update(context.members)
        else:
            found.update(_codes(data.get(source)))
    return frozenset(found)


def may_hear(event_type: str, partner: str, own: bool) -> bool:
    """Whether an organisation may be told at all: a private event only reaches its addressees and
    the Coordination."""
    return own or event_type not in PRIVATE or partner == COORDINATION


def is_critical(event_type: str, own: bool) -> bool:
    return own and event_type in CRITICAL


def frequency(
    preferences: Mapping[tuple[str, str], Frequency], topic: str, channel: Channel, *, automatic_only: bool
) -> Frequency:
    """How often the contact hears of ``topic`` on ``channel``: its preference for the topic, else
    for every topic (``*``), else immediately — or, for an automatic subscription it did not ask
    for, the topic's ``AUTOMATIC_DEFAULT``."""
    chosen = preferences.get((topic, channel)) or preferences.get((ALL_TOPICS, channel))
    if chosen is not None:
        return chosen
    if automatic_only and channel == "email":
        return AUTOMATIC_DEFAULT.get(topic, "immediate")
    return "immediate"


def in_quiet_hours(at: datetime, quiet_from: time | None, quiet_until: time | None) -> bool:
    if quiet_from is None or quiet_until is None or quiet_from == quiet_until:
        return False
    local = at.astimezone(BRUSSELS).time()
    if quiet_from < quiet_until:
        return quiet_from <= local < quiet_until
    return local >= quiet_from or local < quiet_until  # spans midnight


def quiet_hours_end(at: datetime, quiet_from: time | None, quiet_until: time | None) -> datetime | None:
    """When the quiet hours ``at`` falls in end (none if it is not in quiet hours): the next
    ``quiet_until`` in Brussels, a daylight-saving change included."""
    if not in_quiet_hours(at, quiet_from, quiet_until):
        return None
    assert quiet_until is not None
    local = at.astimezone(BRUSSELS)
    end = datetime.combine(local.date(), quiet_until, tzinfo=BRUSSELS)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), quiet_until, tzinfo=BRUSSELS)
    return end


@dataclass(frozen=True)
class Route:
    """How one contact hears of one event on one channel: now (``not_before`` none, or the end of
    its quiet hours) or in its next digest (``digest``: daily or weekly)."""

    contact_id: int
    channel: Channel
    critical: bool
    own: bool
    digest: Literal["daily", "weekly"] | None = None
    not_before: datetime | None = None


def routes(
    event_type: str,
    candidate_partner: str,
    contact_id: int,
    kind: str,
    channels: Iterable[Channel],
    preferences: Mapping[tuple[str, str], Frequency],
    *,
    subscribed: bool,
    own: bool,
    suspended: bool,
    quiet: tuple[time | None, time | None],
    now: datetime,
) -> list[Route]:
    """The channels on which a contact hears of an event, and when (see the module docstring).

    A webhook contact hears of every event at once, or not at all (a system has no use for a digest
    or for quiet hours); a person's or a mailbox's e-mail follows its preferences; its feed is
    immediate unless muted. A suspended e-mail channel sends nothing (the feed still shows it)."""
    if not may_hear(event_type, candidate_partner, own):
        return []
    critical = is_critical(event_type, own)
    automatic_only = own and not subscribed
    found: list[Route] = []
    if kind == "webhook":
        if suspended or (not critical and frequency(preferences, event_type, "webhook", automatic_only=False) == "off"):
            return []
        return [Route(contact_id, "webhook", critical, own)]
    for channel in channels:
        if channel == "webhook":
            continue
        if channel == "email" and suspended:
            continue
        chosen: Frequency = (
            "immediate" if critical else frequency(preferences, event_type, channel, automatic_only=automatic_only)
        )
        if chosen == "off":
            continue
        if channel == "feed" or chosen == "immediate":
            held = None if critical or channel == "feed" else quiet_hours_end(now, *quiet)
            found.append(Route(contact_id, channel, critical, own, not_before=held))
        elif preferences.get((DIGEST_TOPICS[chosen], "email")) != "off":  # its digest unsubscribed: nothing
            found.append(Route(contact_id, channel, critical, own, digest=chosen))
    return found
