"""An event partners subscribe to becomes e-mails, against the fake unit of work."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from services.notifications.handlers import notify_subscribers
from services.runtime.uow import Context

from .given import ACTIRIS, CABAN, EASY, Store, example, subscribe, system


async def handle(store: Store, event_type: str, *, occurred_at: datetime | None = None) -> None:
    """As the consumer does: a unit of work caused by the event, its inbox row, then the handler."""
    envelope = example(event_type, occurred_at=occurred_at)
    uow = system(store, Context.caused_by(envelope))
    async with uow:
        if await uow.claim_inbox("mailer", envelope, "passerelle.actions.v1", 0, 1):
            await notify_subscribers(uow, envelope, envelope.data)


async def test_each_subscribed_partner_gets_one_e_mail_about_the_event_in_its_own_language(store: Store) -> None:
    await subscribe(store, EASY, "IndicatorMeasured")
    await subscribe(store, ACTIRIS, "IndicatorMeasured", "ActionStatusChanged")
    await handle(store, "IndicatorMeasured")

    queued = {d.partner_code: d for d in await store.repo.deliveries(None, "pending", 10)}
    assert set(queued) == {"easy-brussels", "actiris"}
    assert queued["easy-brussels"].subject.startswith("[Passerelle] Action 46 :")
    assert (queued["easy-brussels"].language, queued["easy-brussels"].email) == ("fr", "easy@partners.example")
    assert queued["actiris"].subject.startswith("[Passerelle] Actie 46:")
    envelope = example("IndicatorMeasured")
    assert {(d.event_id, d.event_type, d.correlation_id) for d in queued.values()} == {
        (envelope.event_id, "IndicatorMeasured", envelope.correlation_id)
    }
    [due] = [d for d in await store.repo.due_deliveries(10) if d.language == "nl"]
    assert "is gewijzigd van 100 naar 125 toestellen." in due.body


async def test_partners_not_subscribed_to_the_type_or_inactive_are_told_nothing(store: Store) -> None:
    await subscribe(store, EASY, "ActionStatusChanged")
    await subscribe(store, dataclasses.replace(ACTIRIS, active=False), "IndicatorMeasured")
    await handle(store, "IndicatorMeasured")

    assert await store.repo.deliveries(None, None, 10) == []


async def test_a_batch_milestone_is_told_only_to_the_donor_it_is_about(store: Store) -> None:
    paradigm = dataclasses.replace(CABAN, code="paradigm", email="paradigm@donors.example")
    await subscribe(store, paradigm, "BatchMilestoneReached")
    await subscribe(store, CABAN, "BatchMilestoneReached")
    await handle(store, "BatchMilestoneReached")

    assert [d.partner_code for d in await store.repo.deliveries(None, None, 10)] == ["paradigm"]


async def test_an_event_handled_again_queues_no_second_e_mail(store: Store) -> None:
    await subscribe(store, EASY, "IndicatorMeasured")
    envelope = example("IndicatorMeasured")
    for _ in range(2):  # the handler alone, as if the inbox had been bypassed
        uow = system(store, Context.caused_by(envelope))
        await notify_subscribers(uow, envelope, envelope.data)
    await handle(store, "IndicatorMeasured")

    assert len(await store.repo.deliveries(None, None, 10)) == 1


async def test_queuing_e_mails_emits_no_event(store: Store) -> None:
    await subscribe(store, EASY, "IndicatorMeasured")
    await handle(store, "IndicatorMeasured")

    assert store.events() == [], "notifications publishes nothing"
    assert store.commits == 1


async def test_what_happened_before_the_service_first_started_is_not_e_mailed(store: Store) -> None:
    """A new notifications database (a new environment, a changed topic prefix) reads topics kept
    for ever from their first event: their history must not reach the partners' inboxes again."""
    await subscribe(store, EASY, "IndicatorMeasured", "ActionStatusChanged")
    started = await store.repo.started_at()
    await handle(store, "IndicatorMeasured", occurred_at=started - timedelta(days=400))
    assert await store.repo.deliveries(None, None, 10) == []
    await handle(store, "ActionStatusChanged", occurred_at=started + timedelta(seconds=1))
    assert [d.event_type for d in await store.repo.deliveries(None, None, 10)] == ["ActionStatusChanged"]
