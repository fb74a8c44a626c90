"""How a failed send is retried (who is told is ``test_audience``)."""

from __future__ import annotations

from services.notifications.channels import Outcome
from services.notifications.domain import RetryRule, failed_attempt
from services.notifications.mailer import reason

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


def test_a_refusal_is_published_as_a_status_never_as_the_text_that_may_quote_the_address() -> None:
    assert reason("email", Outcome("refused", "550 5.1.1 <jane@x.be>: user unknown", True)) == "smtp 550 5.1.1"
    assert reason("email", Outcome("refused", "the recipient is not a bare e-mail address: '<jane@x.be>'")) == "refused"
    assert reason("email", Outcome("retry", "ConnectError('jane@x.be')")) == "unreachable"
    assert reason("webhook", Outcome("refused", "HTTP 410")) == "http 410"
