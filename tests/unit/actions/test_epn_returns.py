"""Action 28's indicator, counted from the EPNs' quarterly activity returns (``ActivityReturnSubmitted``):
each return once, in the year it is about."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from passerelle_contracts import Actor, Envelope
from passerelle_contracts.funding_v1 import ActivityReturnSubmitted

from services.actions.handlers.indicators import count_activity_returns
from services.runtime.uow import Context

from .conftest import Store, in_context

A28 = "a28-epn-returns"
OPERATOR = Actor(organisation="commune-ixelles", role="partner", key_id="k-ixelles")


def returned(
    year: int = 2026, quarter: int = 1, revision: int = 1, *, epn: str = "epn-ixelles", at: datetime | None = None
) -> tuple[Envelope, ActivityReturnSubmitted]:
    """The funding service announcing ``epn``'s return of ``year``-Q``quarter``."""
    at = at or datetime(2026, 4, 20, 9, tzinfo=UTC)
    data = ActivityReturnSubmitted(
        epn=epn,
        year=year,
        quarter=quarter,
        revision=revision,
        visits=1200,
        sessions=40,
        participants=310 + revision,
        by_gender={"women": 170, "men": 130},
        submitted_on=at.date(),
    )
    envelope = Envelope.wrap(data, source="funding", subject=f"epn-{epn}", actor=OPERATOR, occurred_at=at)
    return envelope, data


async def read(store: Store, announced: tuple[Envelope, ActivityReturnSubmitted]) -> None:
    """The consumer 'indicators' reading one return, in its own unit of work."""
    envelope, data = announced
    async with (uow := in_context(store, Context.caused_by(envelope))):
        await count_activity_returns(uow, envelope, data)


async def a28_rows(store: Store) -> list[tuple[Decimal, Decimal, date]]:
    return [(r["value"], r["delta"], r["measured_on"]) for r in await store.repo.measurements(A28)]


async def test_each_epn_s_first_return_of_a_quarter_counts_once_and_its_corrections_do_not(store: Store) -> None:
    await read(store, returned(quarter=1))
    await read(store, returned(quarter=1, revision=2))
    await read(store, returned(quarter=1, epn="epn-forest"))

    assert [v for v, _, _ in await a28_rows(store)] == [Decimal(1), Decimal(2)], "two returns, one correction"
    indicator = await store.repo.get_indicator(A28)
    assert indicator is not None and (indicator["action_number"], indicator["current_value"]) == (28, Decimal(2))
    assert [e.data["indicator_code"] for e in store.events("IndicatorMeasured")] == [A28, A28]


async def test_a_return_read_again_past_the_inbox_is_not_counted_twice(store: Store) -> None:
    announced = returned()
    await read(store, announced)
    await read(store, announced)

    assert len(await a28_rows(store)) == 1


@pytest.mark.parametrize(
    ("year", "quarter", "at", "measured_on"),
    [
        (2026, 1, datetime(2026, 4, 20, 9, tzinfo=UTC), date(2026, 4, 20)),
        # Q4's return is due on 31 January: it counts in the year it is about, on its last day.
        (2025, 4, datetime(2026, 1, 20, 9, tzinfo=UTC), date(2025, 12, 31)),
        # sent at 00:30 on 1 January in Brussels (23:30 UTC): already the next year, so 31 December
        (2026, 4, datetime(2026, 12, 31, 23, 30, tzinfo=UTC), date(2026, 12, 31)),
    ],
)
async def test_a_return_counts_in_the_year_it_is_about_whenever_it_is_sent(
    store: Store, year: int, quarter: int, at: datetime, measured_on: date
) -> None:
    await read(store, returned(year, quarter, at=at))

    assert await a28_rows(store) == [(Decimal(1), Decimal(1), measured_on)]


async def test_returns_of_two_years_each_count_in_their_own_year(store: Store) -> None:
    await read(store, returned(2025, 3, at=datetime(2025, 10, 15, 9, tzinfo=UTC)))
    await read(store, returned(2025, 4, at=datetime(2026, 1, 20, 9, tzinfo=UTC)))
    await read(store, returned(2026, 1, at=datetime(2026, 4, 20, 9, tzinfo=UTC)))

    assert await a28_rows(store) == [
        (Decimal(1), Decimal(1), date(2025, 10, 15)),
        (Decimal(2), Decimal(1), date(2025, 12, 31)),
        (Decimal(1), Decimal(1), date(2026, 4, 20)),
    ], "2026 starts again from 0"
