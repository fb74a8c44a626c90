"""The notifications rules: who is told, and how a failed send is retried."""

from __future__ import annotations

from services.notifications.domain import RetryRule, Subscriber, failed_attempt, recipients

PARADIGM = Subscriber(code="paradigm", email="p@donors.example", language="fr")
CABAN = Subscriber(code="caban", email="c@donors.example", language="nl")


def test_every_subscriber_is_told_about_an_event_addressed_to_nobody_in_particular() -> None:
    assert recipients("IndicatorMeasured", {"donor": "paradigm"}, [CABAN, PARADIGM]) == [CABAN, PARADIGM]


def test_a_batch_milestone_is_for_its_donor_only_and_for_nobody_when_the_donor_is_not_subscribed() -> None:
    assert recipients("BatchMilestoneReached", {"donor": "paradigm"}, [CABAN, PARADIGM]) == [PARADIGM]
    assert recipients("BatchMilestoneReached", {"donor": "cirb"}, [CABAN, PARADIGM]) == []


RULE = RetryRule(backoff_max_s=300, give_up_after_s=72 * 3600)


def test_failed_sends_back_off_exponentially_up_to_the_cap() -> None:
    assert [failed_attempt(n, 0, RULE).retry_in_s for n in range(4)] == [2.0, 4.0, 8.0, 16.0]
    assert failed_attempt(15, 0, RULE).retry_in_s == 300
    assert failed_attempt(7, 0, RULE).attempts == 8


def test_an_smtp_outage_of_a_day_gives_up_nothing_and_a_delivery_is_given_up_only_when_too_old() -> None:
    """Giving up after a number of attempts failed every queued e-mail for ever after an outage of
    about four minutes; the rule is now the e-mail's age."""
    a_day_of_retries = failed_attempt(300, 24 * 3600, RULE)
    assert (a_day_of_retries.status, a_day_of_retries.gave_up) == ("pending", False)
    too_old = failed_attempt(3, 72 * 3600 + 1, RULE)
    assert (too_old.status, too_old.gave_up) == ("failed", True)


def test_a_report_reminder_goes_to_the_grant_holder_and_the_coordination_not_to_other_grant_holders() -> None:
    subscribers = [
        Subscriber("asbl-seniors-connectes", "a@example.org", "fr"),
        Subscriber("coordination-inclusion-numerique", "c@example.org", "fr"),
        Subscriber("asbl-other", "o@example.org", "nl"),
    ]
    told = recipients("ReportingReminder", {"beneficiary": "asbl-seniors-connectes"}, subscribers)
    assert [s.code for s in told] == ["asbl-seniors-connectes", "coordination-inclusion-numerique"]
