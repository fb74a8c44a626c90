"""The notifications repository on PostgreSQL: partners, their mailbox's subscriptions, the EPN
directory, the service's start (messages and digests: ``notifications/test_messages``)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from services.notifications.app import MIGRATIONS
from services.notifications.domain import DirectoryEpn, PartnerDetails
from services.notifications.repository import NotificationsRepository
from services.runtime import db
from tests.conftest import CreateDatabase

pytestmark = pytest.mark.infra

EASY = PartnerDetails(
    code="easy-brussels",
    name="easy.brussels",
    email="easy@partners.example",
    language="fr",
    roles=frozenset({"working_group"}),
)
ACTIRIS = PartnerDetails(
    code="actiris", name="Actiris", email="actiris@partners.example", language="nl", roles=frozenset({"copil"})
)
CABAN = PartnerDetails(code="caban", name="CABAN", email="caban@partners.example", language="fr", active=False)


@pytest.fixture
async def repo(create_database: CreateDatabase) -> AsyncIterator[NotificationsRepository]:
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

    changed = dataclasses.replace(
        EASY, email="info@easy.example", language="nl", roles=frozenset({"copil"}), active=False
    )
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
    muted = await repo.mailbox("epn-ixelles")
    assert muted is not None
    await repo.replace_preferences(muted, {("ActivityReturnReminder", "email"): "off"})
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


# -- the service's start ------------------------------------------------------------------------
async def test_a_new_database_starts_now_and_keeps_its_start(repo: NotificationsRepository) -> None:
    started = await repo.started_at()
    assert timedelta(0) <= datetime.now(UTC) - started < timedelta(minutes=1)
    assert await repo.started_at() == started, "the start does not move"
