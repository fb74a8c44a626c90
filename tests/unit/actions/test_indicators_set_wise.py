"""The consumer 'indicators' counts a batch of events at once (``record_derived_measurements_many``):
the effects must be those of the same events counted one after the other, in the same order --
running sums, yearly sums, stale figures, earlier years, replays past the inbox included."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from passerelle_contracts import Envelope
from passerelle_contracts.funding_v1 import GrantAwarded

from services.actions.handlers.indicators import count_derived
from services.runtime.uow import Context

from .conftest import COORDINATION, Store, in_context, seeded_store
from .test_epn_returns import returned
from .test_indicators import coverage, decision, delivery


def grant(awarded_on: date, public: str = "seniors") -> tuple[Envelope, GrantAwarded]:
    data = GrantAwarded(
        grant_id=str(uuid.uuid4()),
        call_code="AAP-2024",
        call_kind="regional-call",
        public=public,
        beneficiary="asbl-x",
        beneficiary_kind="non-profit",
        amount_eur="1000.00",
        awarded_on=awarded_on,
    )
    return Envelope.wrap(data, source="funding", subject="grant-x", actor=COORDINATION), data


def season() -> list[tuple[Envelope, Any]]:
    """A mixed stream, in the order a batch could hold it."""
    first_delivery = delivery(total_devices=3, devices={"laptop": 3})
    first_coverage = coverage(10, 2026, 17)
    return [
        first_delivery,
        delivery(total_devices=7, devices={"laptop": 7}),
        decision(2, 4, epn="epn-anderlecht"),
        decision(1, 3, epn="epn-ixelles"),  # stale: read after order 2
        grant(date(2024, 5, 2)),
        first_coverage,
        coverage(9, 2025, 12),  # an earlier year: counted there, not the current value
        coverage(9, 2026, 11, at=datetime(2026, 5, 4, 9, tzinfo=UTC)),  # stale for 2026
        returned(2026, 1),
        returned(2025, 4, at=datetime(2026, 1, 12, 9, tzinfo=UTC)),
        returned(2026, 1, revision=2),  # a correction: not counted
        first_delivery,  # replayed past the inbox
        delivery(recipient_kind="cpas", donor_kind="other", total_devices=2, devices={"laptop": 2}),
        decision(3, 2, "withdrawn", epn="epn-anderlecht", decided_on=date(2024, 9, 2)),
        coverage(11, 2026, 19),
        first_coverage,  # replayed past the inbox
    ]


async def effects(store: Store) -> dict[str, Any]:
    """Everything the counting leaves behind, without the ids and times it draws afresh."""
    measurements = [
        (r["indicator_code"], r["value"], r["delta"], r["measured_on"], r["source"], r["source_event_id"])
        for r in await store.repo.measurements()
    ]
    indicators = {
        code: (i["current_value"], store.repo.indicators_[code]["set_order"])
        for code in sorted(await store.repo.indicator_codes())
        if (i := await store.repo.get_indicator(code)) is not None
    }
    events = [(e.event_type, e.subject, e.causation_id, e.correlation_id, e.actor, e.data) for e in store.events()]
    history = [(h["action_number"], h["event_type"], h["data"]) for h in store.repo.history_]
    return {"measurements": measurements, "indicators": indicators, "events": events, "history": history}


async def test_a_batch_counted_at_once_has_the_effects_of_its_events_counted_one_after_the_other() -> None:
    stream = season()
    one_by_one, at_once = await seeded_store(), await seeded_store()
    for store in (one_by_one, at_once):
        store.outbox.clear()
    for envelope, data in stream:
        async with (uow := in_context(one_by_one, Context.caused_by(envelope))):
            await count_derived(uow, envelope, data)
    commits = at_once.commits
    async with (uow := in_context(at_once, Context.caused_by(stream[0][0]))):
        await count_derived.many(uow, stream)

    expected, got = await effects(one_by_one), await effects(at_once)
    assert len(expected["measurements"]) == 13, "the stream counts what it should (stale, replays, corrections not)"
    assert got == expected
    assert at_once.commits == commits + 1


async def test_a_batch_counted_at_once_locks_and_reads_each_indicator_once() -> None:
    """The point of counting at once: the round trips per indicator, not per event."""
    store = await seeded_store()
    calls: dict[str, int] = {}
    repo = store.repo
    for name in ("lock_indicator", "mappings_for", "counted_sources", "add_measurements", "add_history_many"):
        method = getattr(repo, name)

        async def counting(*args: Any, _method: Any = method, _name: str = name, **kwargs: Any) -> Any:
            calls[_name] = calls.get(_name, 0) + 1
            return await _method(*args, **kwargs)

        setattr(repo, name, counting)
    deliveries = [delivery(total_devices=n, devices={"laptop": n}) for n in range(1, 101)]
    async with (uow := in_context(store, Context.caused_by(deliveries[0][0]))):
        await count_derived.many(uow, deliveries)
    assert calls == {
        "mappings_for": 1,
        "lock_indicator": 2,
        "counted_sources": 2,
        "add_measurements": 1,
        "add_history_many": 1,
    }
    indicator = await store.repo.get_indicator("a46-devices-pupils")
    assert indicator is not None and indicator["current_value"] == Decimal(sum(range(1, 101)))
