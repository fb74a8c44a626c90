"""The notifications repository's contract, run against the fake and against PostgreSQL, so the
fake the use-case tests rely on cannot drift from the SQL."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from services.notifications.app import MIGRATIONS
from services.notifications.domain import DirectoryEpn, NewDelivery, PartnerDetails, RetryRule, failed_attempt
from services.notifications.repository import NotificationsRepository
from services.runtime import db
from tests.conftest import CreateDatabase
from tests.fakes.notifications import FakeNotificationsRepository

pytestmark = pytest.mark.infra

EASY = PartnerDetails(
    code="easy-brussels", name="easy.brussels", email="easy@partners.example", language="fr", working_group=True
)
ACTIRIS = PartnerDetails(code="actiris", name="Actiris", email="actiris@partners.example", language="nl", copil=True)
CABAN = PartnerDetails(code="caban", name="CABAN", email="caban@partners.example", language="fr", active=False)


def delivery(
    partner: PartnerDetails, event_id: uuid.UUID | None = None, event_type: str = "IndicatorMeasured"
) -> NewDelivery:
    return NewDelivery(
        partner_code=partner.code,
        event_id=event_id or uuid.uuid4(),
        event_type=event_type,
        correlation_id=uuid.uuid4(),
        email=partner.email,
        language=partner.language,
        subject="[Passerelle] Sujet",
        body="Bonjour,\n",
    )


@pytest.fixture(params=["fake", "postgres"])
async def repo(
    request: pytest.FixtureRequest, create_database: CreateDatabase
) -> AsyncIterator[NotificationsRepository]:
    if request.param == "fake":
        yield FakeNotificationsRepository()  # type: ignore[misc]  # the fake stands in for the repository
        return
    pool = await db.create_pool(await create_database("notifications"))
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "notifications": MIGRATIONS})
        yield NotificationsRepository(pool)
    finally:
        await pool.close()


async def partners(repo: NotificationsRepository, *details: PartnerDetails) -> None:
    for p in details:
        await repo.upsert_partner(p)


# -- partners and subscriptions ---------------------------------------------------------------
async def test_a_partner_is_kept_as_given_with_no_subscriptions_and_when_it_changed(
    repo: NotificationsRepository,
) -> None:
    assert not await repo.has_partners()
    await repo.upsert_partner(EASY)

    partner = await repo.partner("easy-brussels")
    assert partner is not None
    assert (partner.details, partner.subscriptions) == (EASY, [])
    assert partner.updated_at.tzinfo is not None
    assert await repo.has_partners()
    assert await repo.partner("nobody") is None


async def test_saving_a_partner_again_updates_it_and_keeps_its_subscriptions(repo: NotificationsRepository) -> None:
    await repo.upsert_partner(EASY)
    await repo.set_subscriptions("easy-brussels", ["IndicatorMeasured"])
    before = await repo.partner("easy-brussels")

    changed = dataclasses.replace(EASY, email="info@easy.example", language="nl", copil=True, active=False)
    await repo.upsert_partner(changed)

    after = await repo.partner("easy-brussels")
    assert after is not None and before is not None
    assert (after.details, after.subscriptions) == (changed, ["IndicatorMeasured"])
    assert after.updated_at >= before.updated_at


async def test_partners_are_listed_by_code(repo: NotificationsRepository) -> None:
    await partners(repo, EASY, CABAN, ACTIRIS)
    await repo.set_subscriptions("caban", ["GrantAwarded"])

    listed = await repo.partners()
    assert [p.details.code for p in listed] == ["actiris", "caban", "easy-brussels"]
    assert [p.subscriptions for p in listed] == [[], ["GrantAwarded"], []]


async def test_subscriptions_are_replaced_sorted_and_once_each(repo: NotificationsRepository) -> None:
    await repo.upsert_partner(ACTIRIS)
    await repo.set_subscriptions("actiris", ["IndicatorMeasured", "GrantAwarded"])
    await repo.set_subscriptions("actiris", ["MeetingHeld", "ActionStatusChanged", "MeetingHeld"])

    partner = await repo.partner("actiris")
    assert partner is not None and partner.subscriptions == ["ActionStatusChanged", "MeetingHeld"]
    await repo.set_subscriptions("actiris", [])
    partner = await repo.partner("actiris")
    assert partner is not None and partner.subscriptions == []


async def test_an_unknown_partner_cannot_subscribe(repo: NotificationsRepository) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the foreign key's violation, or the fake's error
        await repo.set_subscriptions("nobody", ["IndicatorMeasured"])


async def test_subscribers_are_the_active_partners_subscribed_to_the_type_by_code(
    repo: NotificationsRepository,
) -> None:
    await partners(repo, EASY, ACTIRIS, CABAN)
    for p in (EASY, ACTIRIS, CABAN):
        await repo.set_subscriptions(p.code, ["IndicatorMeasured"])
    await repo.set_subscriptions("easy-brussels", ["ActionStatusChanged"])

    now = datetime.now(UTC)
    found = await repo.subscribers("IndicatorMeasured", now)
    assert [(s.code, s.email, s.language) for s in found] == [("actiris", "actiris@partners.example", "nl")]
    assert await repo.subscribers("GrantAwarded", now) == []


# -- the EPN directory ------------------------------------------------------------------------
IXELLES = DirectoryEpn("epn-ixelles", "EPN d'Ixelles", "easy-brussels", "Ixelles", "candidate")
FOREST = DirectoryEpn("epn-forest", "EPN de Forest", "caban", None, "candidate")


async def test_an_epn_is_kept_as_the_register_gave_it_and_a_registration_again_updates_it(
    repo: NotificationsRepository,
) -> None:
    assert await repo.epn("epn-ixelles") is None
    await repo.register_epn(IXELLES)
    assert await repo.epn("epn-ixelles") == IXELLES
    assert await repo.epn("epn-ixelles", lock=True) == IXELLES
    renamed = dataclasses.replace(
        IXELLES, name="EPN Ixelles", operator="actiris", commune=None, label_status="labelled"
    )
    await repo.register_epn(renamed)
    assert await repo.epn("epn-ixelles") == renamed, "no label decision applied yet: the registration's label"


async def test_a_registration_again_keeps_the_label_a_decision_set(repo: NotificationsRepository) -> None:
    await repo.register_epn(IXELLES)
    decided = dataclasses.replace(IXELLES, label_status="suspended", label_version=7)
    await repo.save_epn(decided)
    assert await repo.epn("epn-ixelles") == decided
    await repo.register_epn(dataclasses.replace(IXELLES, name="EPN Ixelles"))
    assert await repo.epn("epn-ixelles") == dataclasses.replace(decided, name="EPN Ixelles")


async def test_saving_an_epn_the_directory_does_not_hold_adds_nothing(repo: NotificationsRepository) -> None:
    await repo.save_epn(FOREST)
    assert await repo.epn("epn-forest") is None
    assert await repo.epn_directory() == []


async def test_the_directory_names_the_active_partners_of_each_epns_code_or_operator_and_their_reminders(
    repo: NotificationsRepository,
) -> None:
    inactive_caban = CABAN  # active=False: reaches nobody
    ixelles_itself = dataclasses.replace(ACTIRIS, code="epn-ixelles")
    await partners(repo, EASY, inactive_caban, ixelles_itself, ACTIRIS)
    await repo.set_subscriptions("easy-brussels", ["ActivityReturnReminder", "GrantAwarded"])
    await repo.set_subscriptions("caban", ["ActivityReturnReminder"])
    await repo.set_subscriptions("epn-ixelles", ["GrantAwarded"])
    await repo.register_epn(IXELLES)
    await repo.register_epn(FOREST)

    [forest, ixelles] = await repo.epn_directory()
    assert (forest.epn, forest.contacts, forest.reminded) == (FOREST, [], [])
    assert (ixelles.epn, ixelles.contacts, ixelles.reminded) == (
        IXELLES,
        ["easy-brussels", "epn-ixelles"],
        ["easy-brussels"],
    )
    assert [e.epn.code for e in await repo.epn_directory(without_contact=True)] == ["epn-forest"]
    await repo.upsert_partner(dataclasses.replace(CABAN, active=True))
    assert await repo.epn_directory(without_contact=True) == []


# -- deliveries -------------------------------------------------------------------------------
async def test_an_e_mail_is_queued_once_per_partner_and_event(repo: NotificationsRepository) -> None:
    await partners(repo, EASY, ACTIRIS)
    event_id = uuid.uuid4()
    first = delivery(EASY, event_id)
    await repo.add_deliveries([first, delivery(ACTIRIS, event_id)])
    await repo.add_deliveries([dataclasses.replace(first, subject="[Passerelle] Autre")])
    await repo.add_deliveries([])

    log = await repo.deliveries(None, None, 10)
    assert [(d.partner_code, d.subject, d.status, d.attempts) for d in log] == [
        ("actiris", "[Passerelle] Sujet", "pending", 0),
        ("easy-brussels", "[Passerelle] Sujet", "pending", 0),
    ], "newest first; the repetition added nothing"
    assert (log[1].event_id, log[1].correlation_id, log[1].event_type) == (
        event_id,
        first.correlation_id,
        "IndicatorMeasured",
    )
    assert (log[1].last_error, log[1].sent_at, log[1].created_at.tzinfo is not None) == (None, None, True)


async def test_an_e_mail_to_an_unknown_partner_is_refused(repo: NotificationsRepository) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the foreign key's violation, or the fake's error
        await repo.add_deliveries([delivery(EASY)])


async def test_the_log_filters_by_partner_and_status_and_is_limited(repo: NotificationsRepository) -> None:
    await partners(repo, EASY, ACTIRIS)
    await repo.add_deliveries([delivery(EASY), delivery(ACTIRIS), delivery(EASY), delivery(EASY)])
    [oldest, *_] = await repo.due_deliveries(10)
    await repo.mark_sent(oldest.id)

    assert len(await repo.deliveries("easy-brussels", None, 10)) == 3
    assert [d.id for d in await repo.deliveries(None, "sent", 10)] == [oldest.id]
    assert len(await repo.deliveries("easy-brussels", "pending", 10)) == 2
    newest = await repo.deliveries(None, None, 2)
    assert len(newest) == 2 and newest[0].id > newest[1].id


async def test_due_e_mails_come_oldest_first_with_what_sending_needs(repo: NotificationsRepository) -> None:
    await partners(repo, EASY, ACTIRIS)
    queued = [delivery(EASY), delivery(ACTIRIS), delivery(EASY)]
    await repo.add_deliveries(queued)

    due = await repo.due_deliveries(2)
    assert len(due) == 2 and due[0].id < due[1].id
    assert (due[0].email, due[0].language, due[0].subject, due[0].body) == (
        "easy@partners.example",
        "fr",
        "[Passerelle] Sujet",
        "Bonjour,\n",
    )
    assert (due[0].event_id, due[0].correlation_id, due[0].attempts) == (
        queued[0].event_id,
        queued[0].correlation_id,
        0,
    )


async def test_a_sent_e_mail_is_not_due_again(repo: NotificationsRepository) -> None:
    await repo.upsert_partner(EASY)
    await repo.add_deliveries([delivery(EASY)])
    [due] = await repo.due_deliveries(10)
    await repo.mark_sent(due.id)

    assert await repo.due_deliveries(10) == []
    [sent] = await repo.deliveries(None, None, 10)
    assert (sent.status, sent.attempts, sent.sent_at is not None) == ("sent", 1, True)


async def test_a_failed_attempt_is_recorded_and_waits_for_its_backoff_or_gives_up(
    repo: NotificationsRepository,
) -> None:
    await partners(repo, EASY, ACTIRIS)
    await repo.add_deliveries([delivery(EASY), delivery(ACTIRIS)])
    easy, actiris = await repo.due_deliveries(10)
    assert timedelta(0) <= datetime.now(UTC) - easy.queued_at < timedelta(minutes=1), "when it was queued"

    rule = RetryRule(backoff_max_s=300, give_up_after_s=3600)
    await repo.record_failed_attempt(easy.id, failed_attempt(0, 10, rule), "ConnectionRefusedError(111)")
    await repo.record_failed_attempt(actiris.id, failed_attempt(7, 3601, rule), "SMTPRecipientsRefused")

    assert await repo.due_deliveries(10) == []
    log = {d.partner_code: d for d in await repo.deliveries(None, None, 10)}
    assert (log["easy-brussels"].status, log["easy-brussels"].attempts) == ("pending", 1)
    assert log["easy-brussels"].last_error == "ConnectionRefusedError(111)"
    assert (log["actiris"].status, log["actiris"].attempts, log["actiris"].sent_at) == ("failed", 8, None)


async def test_a_new_database_starts_now_and_keeps_its_start(repo: NotificationsRepository) -> None:
    started = await repo.started_at()
    assert timedelta(0) <= datetime.now(UTC) - started < timedelta(minutes=1)
    assert await repo.started_at() == started, "the start does not move"
    await partners(repo, EASY)
    await repo.set_subscriptions(EASY.code, ["IndicatorMeasured"])
    assert await repo.subscribers("IndicatorMeasured", started - timedelta(days=1)) == [], "history, not news"
    assert [s.code for s in await repo.subscribers("IndicatorMeasured", datetime.now(UTC))] == [EASY.code]


async def test_e_mails_are_counted_by_status(repo: NotificationsRepository) -> None:
    assert await repo.deliveries_by_status() == {}
    await partners(repo, EASY, ACTIRIS)
    await repo.add_deliveries([delivery(EASY), delivery(ACTIRIS)])
    easy, _ = await repo.due_deliveries(10)
    await repo.mark_sent(easy.id)
    assert await repo.deliveries_by_status() == {"pending": 1, "sent": 1}


async def test_the_oldest_pending_e_mail_gives_the_age_of_the_mail_queue(repo: NotificationsRepository) -> None:
    assert await repo.oldest_pending_age_s() == 0, "no e-mail waits"
    await partners(repo, EASY, ACTIRIS)
    await repo.add_deliveries([delivery(EASY)])
    first = await repo.oldest_pending_age_s()
    assert 0 <= first < 60
    (easy,) = await repo.due_deliveries(10)
    await repo.mark_sent(easy.id)
    assert await repo.oldest_pending_age_s() == 0, "a sent e-mail no longer waits"
