"""The notifications rules: who is told, and how a failed send is retried."""

from __future__ import annotations

from services.notifications.domain import BACKOFF_MAX_S, Subscriber, failed_attempt, recipients

PARADIGM = Subscriber(code="paradigm", email="p@donors.example", language="fr")
CABAN = Subscriber(code="caban", email="c@donors.example", language="nl")


def test_every_subscriber_is_told_about_an_event_addressed_to_nobody_in_particular() -> None:
    assert recipients("IndicatorMeasured", {"donor": "paradigm"}, [CABAN, PARADIGM]) == [CABAN, PARADIGM]


def test_a_batch_milestone_is_for_its_donor_only_and_for_nobody_when_the_donor_is_not_subscribed() -> None:
    assert recipients("BatchMilestoneReached", {"donor": "paradigm"}, [CABAN, PARADIGM]) == [PARADIGM]
    assert recipients("BatchMilestoneReached", {"donor": "cirb"}, [CABAN, PARADIGM]) == []


def test_failed_sends_back_off_exponentially_up_to_an_hour_then_give_up() -> None:
    assert [failed_attempt(n, 20).retry_in_s for n in range(4)] == [2.0, 4.0, 8.0, 16.0]
    assert failed_attempt(15, 20).retry_in_s == BACKOFF_MAX_S
    assert (failed_attempt(6, 8).status, failed_attempt(7, 8).status) == ("pending", "failed")
    assert failed_attempt(7, 8).attempts == 8
