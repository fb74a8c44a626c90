"""From an event to messages, on PostgreSQL: who is told on which channel and when, digests that
fold a season into one line per indicator, meetings' reminders and digests, the dispatcher's
outcomes (sent, retried, bounced, suspended), the one-click unsubscribe and erasure."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from passerelle_contracts.actions_v1 import MeetingScheduled

from services.notifications import links
from services.notifications.audience import BRUSSELS
from services.notifications.channels import Outcome
from services.notifications.handlers import contacts
from services.notifications.handlers.plan import on_meeting_planned
from services.notifications.mailer import Mailer
from services.notifications.schedule import Scheduler
from services.runtime.testing import COORDINATION as COORDINATION_KEY
from services.runtime.uow import Context

from .given import ACTIRIS, CABAN, COORDINATION, EASY, SETTINGS, Store, example, handle, person, subscribe, system

pytestmark = pytest.mark.infra


class Outbox:
    """A stand-in SMTP client for the dispatcher: what it was given, and what to answer."""

    def __init__(self) -> None:
        self.sent: list[tuple[EmailMessage, str, str]] = []
        self.answers: dict[str, Outcome] = {}

    async def __call__(self, message: EmailMessage, envelope_from: str, recipient: str) -> Outcome:
        self.sent.append((message, envelope_from, recipient))
        return self.answers.get(recipient, Outcome("sent", "250 OK"))


def mailer(store: Store, outbox: Outbox) -> Mailer:
    return Mailer(SETTINGS, lambda: system(store), send=outbox)


async def plan_action(store: Store, number: int = 46, lead: str = "easy-brussels", axis: int = 3) -> None:
    await store.repo.save_plan_action(number, axis, 11, lead, [])


# -- who hears of an event -------------------------------------------------------------------
async def test_a_subscriber_gets_one_e_mail_in_its_language_and_a_redelivery_adds_nothing(store: Store) -> None:
    await subscribe(store, ACTIRIS, "ActionStatusChanged")
    envelope = example("ActionStatusChanged")
    await handle(store, envelope)
    await handle(store, envelope)

    [message] = await store.messages()
    assert (message["partner_code"], message["channel"], message["language"]) == ("actiris", "email", "nl")
    assert message["event_id"] == envelope.event_id and message["status"] == "pending"
    assert "/unsubscribe/" in message["body"], "every e-mail that may be muted says how, in one click"


async def test_filters_narrow_a_subscription_to_an_axis_and_an_action(store: Store) -> None:
    await plan_action(store, 46, axis=3)
    axis_3 = await person(store, CABAN, "a@caban.example")
    axis_1 = await person(store, CABAN, "b@caban.example")
    await store.repo.replace_contact_subscriptions(
        axis_3, [contacts.Subscription("ActionStatusChanged", {"axis": ("3",)})]
    )
    await store.repo.replace_contact_subscriptions(
        axis_1, [contacts.Subscription("ActionStatusChanged", {"axis": ("1",)})]
    )

    await handle(store, example("ActionStatusChanged", action_number=46))

    told = {(m["contact_id"], m["channel"]) for m in await store.messages()}
    assert told == {(axis_3, "email"), (axis_3, "feed")}


async def test_an_actions_owner_hears_of_it_without_subscribing_and_another_partner_does_not(store: Store) -> None:
    await plan_action(store, 46, lead="easy-brussels")
    await subscribe(store, EASY)
    await subscribe(store, CABAN)
    await handle(store, example("MilestoneOverdue", action_number=46))

    [message] = await store.messages()
    assert message["partner_code"] == "easy-brussels"
    assert message["critical"], "its own overdue milestone is critical"
    assert message["unsubscribe"] is None and "/unsubscribe/" not in message["body"], (
        "a critical message cannot be muted"
    )


async def test_a_returned_reports_comment_reaches_its_owner_and_the_coordination_not_other_subscribers(
    store: Store,
) -> None:
    await plan_action(store, 46, lead="easy-brussels")
    for partner in (EASY, CABAN, COORDINATION):
        await subscribe(store, partner, "ReportReturned")
    await handle(store, example("ReportReturned", action_number=46))
    assert sorted(m["partner_code"] for m in await store.messages()) == [
        "coordination-inclusion-numerique",
        "easy-brussels",
    ]


async def test_quiet_hours_hold_an_e_mail_until_they_end_and_the_feed_shows_it_at_once(store: Store) -> None:
    now = datetime.now(UTC)
    local = now.astimezone(BRUSSELS)
    # Quiet from an hour ago to an hour from now, Brussels time: now is within.
    quiet_from, quiet_until = (local - timedelta(hours=1)).time(), (local + timedelta(hours=1)).time()
    contact = await person(store, CABAN, "quiet@caban.example", quiet_from=quiet_from, quiet_until=quiet_until)
    await store.repo.replace_contact_subscriptions(contact, [contacts.Subscription("ActionStatusChanged")])

    await handle(store, example("ActionStatusChanged"))

    by_channel = {m["channel"]: m for m in await store.messages(contact_id=contact)}
    assert by_channel["feed"]["status"] == "sent"
    held_until = by_channel["email"]["next_attempt_at"]
    assert timedelta(minutes=50) < held_until - now < timedelta(minutes=70)
    assert await mailer(store, Outbox()).send_due() == 0, "nothing is due before the quiet hours end"


# -- digests ----------------------------------------------------------------------------------
async def test_a_daily_digest_folds_a_seasons_indicator_increments_into_one_line_per_indicator(store: Store) -> None:
    await plan_action(store, 46, lead="easy-brussels")
    owner = await person(store, EASY, "owner@easy.example")  # hears of increments in the daily digest by default
    for value in range(100, 130):
        await handle(store, example("IndicatorMeasured", action_number=46, previous_value=value, value=value + 1))
    assert [m["channel"] for m in await store.messages(contact_id=owner)] == ["feed"] * 30, "no e-mail per increment"

    done = await Scheduler(SETTINGS, lambda: system(store)).run_once(datetime.now(UTC) + timedelta(days=1))
    assert done["daily"] == 2, "the owner's person and its mailbox, each its digest"
    [digest] = await store.messages(contact_id=owner, channel="email")
    assert digest["event_type"] == "Digest" and digest["unsubscribe"] == "digest:daily"
    assert digest["body"].count("100") == 1 and "130" in digest["body"], "one line: from the first value to the last"

    again = await Scheduler(SETTINGS, lambda: system(store)).run_once(datetime.now(UTC) + timedelta(days=1))
    assert again["daily"] == 0, "a digest is built once per slot"


async def test_every_item_an_immediate_subscriber_got_is_in_the_daily_digest_of_a_digest_subscriber(
    store: Store,
) -> None:
    await subscribe(store, ACTIRIS, "ActionStatusChanged", "MilestoneReached")
    daily = await person(store, CABAN, "daily@caban.example")
    await store.repo.replace_contact_subscriptions(
        daily, [contacts.Subscription("ActionStatusChanged"), contacts.Subscription("MilestoneReached")]
    )
    await store.repo.replace_preferences(daily, {("*", "email"): "daily"})
    for event_type in ("ActionStatusChanged", "MilestoneReached", "ActionStatusChanged"):
        await handle(store, example(event_type))

    await Scheduler(SETTINGS, lambda: system(store)).run_once(datetime.now(UTC) + timedelta(days=1))
    immediate = await store.messages(partner_code="actiris")
    [digest] = await store.messages(contact_id=daily, channel="email")
    assert len(immediate) == 3
    assert "3 changements" in digest["subject"], "the digest counts every event"
    for line in {m["body"] for m in await store.messages(contact_id=daily, channel="feed")}:
        assert line in digest["body"], f"{line!r} is missing from the digest"
    assert await store.pool.fetchval("SELECT count(*) FROM digest_entries") == 0, "every entry went into the digest"


# -- meetings -------------------------------------------------------------------------------
async def test_members_get_a_convocation_then_a_reminder_the_day_before_and_a_digest_before_the_meeting(
    store: Store,
) -> None:
    await subscribe(store, EASY)
    await subscribe(store, ACTIRIS)
    await subscribe(store, CABAN)
    await plan_action(store, 46, lead="caban")
    returned = example("ReportReturned", action_number=46, comment="Les chiffres de Molenbeek manquent.")
    await handle(store, returned)  # private: its owner's business, not the Working Group's
    starts_at = datetime.now(UTC) + timedelta(days=2)
    scheduled = example("MeetingScheduled", starts_at=starts_at.isoformat(), invited=[])
    await handle(store, scheduled)
    uow = system(store, Context.caused_by(scheduled))
    async with uow:
        await on_meeting_planned(uow, scheduled, MeetingScheduled.model_validate(scheduled.data))

    convocations = await store.messages(event_type="MeetingScheduled")
    assert sorted(m["partner_code"] for m in convocations) == ["actiris", "easy-brussels"], "members only"
    assert all(m["critical"] for m in convocations)

    scheduler = Scheduler(SETTINGS, lambda: system(store))
    done = await scheduler.run_once()
    assert (done["meeting_digests"], done["reminders"]) == (2, 0), "the digest three days before, no reminder yet"
    digests = await store.messages(event_type="Digest")
    assert digests and not [d for d in digests if "Molenbeek" in d["body"]], "no private event before every member"
    done = await scheduler.run_once(starts_at - timedelta(hours=12))
    assert (done["meeting_digests"], done["reminders"]) == (0, 2)
    assert (await scheduler.run_once(starts_at - timedelta(hours=11)))["reminders"] == 0, "reminded once"


# -- sending ----------------------------------------------------------------------------------
async def test_a_sent_e_mail_is_published_with_a_stable_message_id_and_a_one_click_unsubscribe(store: Store) -> None:
    await subscribe(store, EASY, "ActionStatusChanged")
    await handle(store, example("ActionStatusChanged"))
    outbox = Outbox()
    assert await mailer(store, outbox).send_due() == 1

    [(message, envelope_from, recipient)] = outbox.sent
    assert recipient == "easy@partners.example" and envelope_from.startswith("bounces+")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [sent] = await store.events("MessageSent")
    assert sent.data["partner"] == "easy-brussels" and sent.data["channel"] == "email"
    assert "@" not in str(sent.data), "events name no address"


async def test_three_hard_bounces_suspend_a_contacts_e_mail_and_tell_the_coordination(store: Store) -> None:
    await subscribe(store, COORDINATION)
    await subscribe(store, CABAN, "ActionStatusChanged")
    outbox = Outbox()
    outbox.answers["caban@partners.example"] = Outcome("refused", "550 5.1.1 <caban@partners.example>: unknown", True)
    for _ in range(4):
        await handle(store, example("ActionStatusChanged"))
    await mailer(store, outbox).send_due()

    caban = await store.messages(partner_code="caban")
    assert [m["status"] for m in caban] == ["bounced", "bounced", "bounced", "suppressed"]
    [suspended] = await store.events("ChannelSuspended")
    assert suspended.data["partner"] == "caban" and suspended.data["hard_bounces"] == 3
    assert "@" not in suspended.data["reason"], "the reason is a status, not the server's text"
    alerts = await store.messages(event_type="BounceAlert")
    assert {m["partner_code"] for m in alerts} == {"coordination-inclusion-numerique"}
    assert len(await store.events("MessageBounced")) == 3


async def test_a_refused_e_mail_is_tried_again_later_and_not_lost(store: Store) -> None:
    await subscribe(store, EASY, "ActionStatusChanged")
    await handle(store, example("ActionStatusChanged"))
    outbox = Outbox()
    outbox.answers["easy@partners.example"] = Outcome("retry", "451 4.3.0 try later")
    assert await mailer(store, outbox).send_due() == 0
    [m] = await store.messages()
    assert (m["status"], m["attempts"]) == ("pending", 1) and m["next_attempt_at"] > datetime.now(UTC)


async def test_a_message_waiting_when_the_address_is_corrected_goes_to_the_new_address(store: Store) -> None:
    contact = await person(store, CABAN, "old@caban.example")
    await store.repo.replace_contact_subscriptions(contact, [contacts.Subscription("ActionStatusChanged")])
    await handle(store, example("ActionStatusChanged"))
    found = await store.repo.contact(contact)
    assert found is not None
    await store.repo.update_contact(contact, dataclasses.replace(found.details, email="new@caban.example"))

    outbox = Outbox()
    await mailer(store, outbox).send_due()
    assert [recipient for _, _, recipient in outbox.sent] == ["new@caban.example"]
    [sent] = await store.messages(contact_id=contact, channel="email")
    assert sent["address"] == "new@caban.example", "the log says where it went"


async def test_one_contact_whose_digest_cannot_be_built_does_not_stop_the_others(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.notifications import schedule

    for language, email in (("nl", "nl@caban.example"), ("fr", "fr@caban.example")):
        contact = await person(store, CABAN, email, language=language)
        await store.repo.replace_contact_subscriptions(contact, [contacts.Subscription("ActionStatusChanged")])
        await store.repo.replace_preferences(contact, {("*", "email"): "daily"})
    await handle(store, example("ActionStatusChanged"))
    render = schedule.render_digest

    def broken_in_dutch(*args: object, **kwargs: object) -> object:
        if args[1] == "nl":
            raise RuntimeError("a template error in Dutch")
        return render(*args, **kwargs)  # type: ignore[arg-type]  # passed through as given

    monkeypatch.setattr(schedule, "render_digest", broken_in_dutch)
    done = await Scheduler(SETTINGS, lambda: system(store)).run_once(datetime.now(UTC) + timedelta(days=1))
    assert done["daily"] == 1
    assert [m["address"] for m in await store.messages(event_type="Digest")] == ["fr@caban.example"]


# -- self-service and erasure ---------------------------------------------------------------
async def test_a_one_click_unsubscribe_mutes_the_topic_for_the_contacts_e_mail(store: Store) -> None:
    contact = await person(store, CABAN, "x@caban.example")
    await store.repo.replace_contact_subscriptions(contact, [contacts.Subscription("ActionStatusChanged")])
    key = await store.repo.service_key(links.KEY_NAME)

    assert await contacts.unsubscribe(system(store), links.token(key, contact, "ActionStatusChanged")) is not None
    assert (
        await contacts.unsubscribe(system(store), links.token(key, contact, "ActionStatusChanged")[:-2] + "xx") is None
    )
    await handle(store, example("ActionStatusChanged"))
    assert [m["channel"] for m in await store.messages(contact_id=contact)] == ["feed"]


async def test_an_erased_contact_leaves_its_messages_in_the_log_without_its_address(store: Store) -> None:
    contact = await person(store, CABAN, "someone@caban.example", name="Someone")
    await store.repo.replace_contact_subscriptions(contact, [contacts.Subscription("ActionStatusChanged")])
    await handle(store, example("ActionStatusChanged"))
    outbox = Outbox()
    outbox.answers["someone@caban.example"] = Outcome("refused", "550 5.1.1 <someone@caban.example>: unknown", True)
    await mailer(store, outbox).send_due()
    coordination = system(store, Context(actor=COORDINATION_KEY))

    assert await contacts.erase_contact(coordination, contact) == 2
    assert await store.repo.contact(contact) is None
    rows = await store.messages(partner_code="caban")
    assert [(m["contact_id"], m["address"]) for m in rows] == [(None, None), (None, None)]
    assert not await store.pool.fetchval(
        """SELECT count(*) FROM messages
           WHERE body LIKE '%someone%' OR subject LIKE '%Someone%' OR last_error LIKE '%someone%'
              OR body LIKE '%/unsubscribe/' || $1 || '.%'""",
        str(contact),
    ), "nothing left that names the person or its number"
