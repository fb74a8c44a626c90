"""Who hears of an event, on which channel, how often and when (``audience``): pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, time

from services.notifications import audience
from services.notifications.audience import Context, Route, addressees, facets, matches, quiet_hours_end, routes

NOON = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # 12:00 in Brussels
NIGHT = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)  # 23:30 in Brussels
ACTION_12 = Context(axis=2, chantier=5, owner="easy-brussels")


def route(event_type: str, partner: str = "caban", **options: object) -> list[Route]:
    settings: dict[str, object] = {
        "kind": "person",
        "channels": ("email", "feed"),
        "preferences": {},
        "subscribed": True,
        "own": False,
        "suspended": False,
        "quiet": (None, None),
        "now": NOON,
    }
    settings.update(options)
    return routes(event_type, partner, 7, **settings)  # type: ignore[arg-type]  # the keyword arguments, typed loosely


def test_an_indicator_of_an_action_has_the_actions_place_in_the_plan_and_its_owner_among_its_facets() -> None:
    found = facets("IndicatorMeasured", {"action_number": 12}, ACTION_12)
    assert found == {"action": ["12"], "axis": ["2"], "chantier": ["5"], "organisation": ["easy-brussels"]}


def test_a_reminder_to_an_epn_has_its_operator_and_commune_from_the_directory() -> None:
    context = Context(epn_operator="commune-ixelles", epn_commune="Ixelles")
    found = facets("ActivityReturnReminder", {"epn": "epn-ixelles"}, context)
    assert found == {"organisation": ["commune-ixelles", "epn-ixelles"], "commune": ["Ixelles"], "epn": ["epn-ixelles"]}
    assert addressees("ActivityReturnReminder", {"epn": "epn-ixelles"}, context) == {"epn-ixelles", "commune-ixelles"}


def test_filters_let_an_event_through_only_when_every_filtered_key_shares_a_value() -> None:
    event = {"action": ["12"], "axis": ["2"]}
    assert matches({}, event)
    assert matches({"axis": ["1", "2"]}, event)
    assert not matches({"axis": ["2"], "action": ["13"]}, event)
    assert not matches({"commune": ["Ixelles"]}, event), "an event without a commune does not match a commune filter"


def test_an_owner_hears_of_its_actions_and_members_of_their_meetings_without_subscribing() -> None:
    assert addressees("MilestoneOverdue", {"action_number": 12}, ACTION_12) == {"easy-brussels"}
    members = Context(members=frozenset({"actiris", "caban"}))
    assert addressees("MeetingScheduled", {"invited": ["cpas-ixelles"]}, members) == {
        "actiris",
        "caban",
        "cpas-ixelles",
    }
    assert addressees("GrantReportReviewed", {"grant_id": "g-1"}, Context(grant_holder="asbl-x")) == {"asbl-x"}


def test_a_private_event_reaches_its_addressee_and_the_coordination_not_another_subscriber() -> None:
    assert route("ReportReturned", "caban", own=False) == []
    assert route("ReportReturned", audience.COORDINATION, own=False) != []
    assert route("ReportReturned", "easy-brussels", own=True) != []


def test_a_contacts_own_deadline_is_critical_cannot_be_muted_and_is_not_held_by_quiet_hours() -> None:
    muted = {("*", "email"): "off", ("*", "feed"): "off"}
    found = route("ReportingReminder", "asbl-x", own=True, preferences=muted, quiet=(time(20), time(8)), now=NIGHT)
    assert [(r.channel, r.critical, r.not_before) for r in found] == [("email", True, None), ("feed", True, None)]


def test_another_subscribers_reminder_is_not_critical_and_follows_its_preferences() -> None:
    found = route("ReportingReminder", audience.COORDINATION, own=False, preferences={("*", "email"): "daily"})
    assert [(r.channel, r.critical, r.digest) for r in found] == [("email", False, "daily"), ("feed", False, None)]


def test_quiet_hours_hold_an_e_mail_until_they_end_in_brussels_and_never_the_feed() -> None:
    found = route("ActionStatusChanged", quiet=(time(20), time(8)), now=NIGHT)
    email, feed = found
    assert email.not_before == datetime(2026, 12, 1, 7, 0, tzinfo=UTC), "08:00 in Brussels is 07:00 UTC in winter"
    assert feed.not_before is None
    assert quiet_hours_end(NOON, time(20), time(8)) is None


def test_an_owner_hears_of_indicator_increments_in_the_daily_digest_unless_it_chose_otherwise() -> None:
    [email, _] = route("IndicatorMeasured", "easy-brussels", own=True, subscribed=False)
    assert email.digest == "daily"
    [email, _] = route(
        "IndicatorMeasured",
        "easy-brussels",
        own=True,
        subscribed=False,
        preferences={("IndicatorMeasured", "email"): "immediate"},
    )
    assert email.digest is None


def test_an_unsubscribed_digest_drops_what_would_have_gone_in_it() -> None:
    preferences = {("*", "email"): "weekly", ("digest:weekly", "email"): "off"}
    assert [r.channel for r in route("ActionStatusChanged", preferences=preferences)] == ["feed"]


def test_a_suspended_e_mail_still_shows_in_the_feed_and_a_webhook_hears_everything_at_once() -> None:
    assert [r.channel for r in route("ActionStatusChanged", suspended=True)] == ["feed"]
    [hook] = route(
        "ActionStatusChanged", kind="webhook", channels=("webhook",), preferences={("*", "webhook"): "daily"}
    )
    assert (hook.channel, hook.digest, hook.not_before) == ("webhook", None, None)


def test_the_guests_a_convocation_invited_hear_that_the_meeting_is_cancelled() -> None:
    members = Context(members=frozenset({"actiris"}))
    assert addressees("MeetingCancelled", {"invited": ["cpas-ixelles"]}, members) == {"actiris", "cpas-ixelles"}
