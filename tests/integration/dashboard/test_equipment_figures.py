"""The Equipment page's figures, from events applied through the projector on a real PostgreSQL:
the funnel, the refurbished stock by kind and grade, the deliveries, the follow-ups, the donors
and their batches; the same events applied twice change nothing; and the funnel equals what the
equipment service's own figure code says for the devices the events describe."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from passerelle_contracts import Actor, Envelope, EventData
from passerelle_contracts.equipment_v1 import (
    BatchDeclared,
    BatchMilestoneReached,
    DeliveryFollowUpDue,
    DeviceConditionChanged,
    DeviceDisposed,
    DevicesAllocated,
    DeviceSanitised,
    DevicesDelivered,
    DevicesTransferred,
)

from services.dashboard.pages import equipment
from services.dashboard.viewers import Viewer, signed_in
from services.equipment import figures as service_figures
from tests.integration.dashboard.conftest import apply

AS_OF = date(2025, 3, 14)
BEFORE = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
AFTER = datetime(2025, 3, 15, 9, 0, tzinfo=UTC)  # the day after AS_OF, in Brussels too
COORDINATION = Actor(organisation="coordination", role="coordination")
DONOR, OTHER_DONOR, REFURBISHER, SCHOOL = "ores", "stib", "refurb-1", "school-x"
B1, B2 = "b1", "b2"


def wrap(data: EventData, subject: str, at: datetime = BEFORE) -> tuple[Envelope, EventData]:
    return Envelope.wrap(data, source="equipment", subject=subject, actor=COORDINATION, occurred_at=at), data


def sanitised(device: str, kind: str, state: str) -> tuple[Envelope, EventData]:
    data = DeviceSanitised(
        device_id=device, batch_id=B1, donor=DONOR, kind=kind, sanitisation=state, media=1, changes=[]
    )
    return wrap(data, f"device-{device}")


def condition(device: str, kind: str, physical: str, grade: str | None = None) -> tuple[Envelope, EventData]:
    data = DeviceConditionChanged(
        device_id=device, batch_id=B1, donor=DONOR, kind=kind, physical=physical, grade=grade, changes=[]
    )
    return wrap(data, f"device-{device}")


def story() -> list[tuple[Envelope, EventData]]:
    """A donor's batch of three laptops and two screens, received by a refurbisher; one laptop
    fails its wipe and is recycled, two are wiped (one after a failed pass) and refurbished, one
    screen refurbished; one laptop allocated and delivered to a school, its follow-up due. A
    second donor's batch is declared the day after: not in the figures at AS_OF."""
    return [
        wrap(
            BatchDeclared(
                batch_id=B1, donor=DONOR, reference="R-2025-1", devices={"laptop": 3, "screen": 2}, total_devices=5
            ),
            f"batch-{B1}",
        ),
        wrap(
            DevicesTransferred(
                transfer_id="t1",
                from_organisation=DONOR,
                to_organisation=REFURBISHER,
                devices={"laptop": 3, "screen": 2},
                total_devices=5,
                batches=[B1],
            ),
            "transfer-t1",
        ),
        # Between refurbishers: not a receipt.
        wrap(
            DevicesTransferred(
                transfer_id="t2",
                from_organisation=REFURBISHER,
                to_organisation="refurb-2",
                devices={"screen": 1},
                total_devices=1,
                batches=[B1],
            ),
            "transfer-t2",
        ),
        sanitised("l1", "laptop", "wiped"),
        condition("l1", "laptop", "refurbished", "A"),
        sanitised("l2", "laptop", "failed"),
        wrap(
            DeviceDisposed(
                device_id="l2",
                kind="laptop",
                donor=DONOR,
                recycler="recycler-1",
                disposed_on=date(2025, 3, 10),
                method="shredding",
                certificate_reference="C-1",
            ),
            "device-l2",
        ),
        sanitised("l3", "laptop", "failed"),
        sanitised("l3", "laptop", "wiped"),
        condition("l3", "laptop", "to_repair"),
        condition("l3", "laptop", "refurbished", "B"),
        condition("s1", "screen", "refurbished", "A"),
        wrap(
            DevicesAllocated(
                allocation_run="run-1",
                request_id="q1",
                recipient=SCHOOL,
                recipient_kind="secondary-school",
                devices={"laptop": 1},
                total_devices=1,
                still_waiting={},
            ),
            "request-q1",
        ),
        wrap(
            DevicesDelivered(
                delivery_id="d1",
                recipient=SCHOOL,
                recipient_kind="secondary-school",
                donor=DONOR,
                donor_kind="other",
                devices={"laptop": 1},
                total_devices=1,
                commune="Anderlecht",
                delivered_on=date(2024, 9, 1),
            ),
            "delivery-d1",
        ),
        wrap(
            DeliveryFollowUpDue(
                delivery_id="d1", recipient=SCHOOL, delivered_on=date(2024, 9, 1), due_on=date(2025, 3, 1), devices=1
            ),
            "delivery-d1",
        ),
        wrap(
            BatchMilestoneReached(
                batch_id=B1,
                donor=DONOR,
                reference="R-2025-1",
                milestone="received",
                declared=5,
                received=5,
                wiped=2,
                failed=1,
                delivered=0,
            ),
            f"batch-{B1}",
        ),
        wrap(
            BatchDeclared(batch_id=B2, donor=OTHER_DONOR, reference="S-1", devices={"tablet": 4}, total_devices=4),
            f"batch-{B2}",
            AFTER,
        ),
    ]


async def test_the_funnel_counts_each_stage_as_the_equipment_service_does(pool: asyncpg.Pool) -> None:
    await apply(pool, story())

    f = await equipment.figures(pool, AS_OF)

    assert f["flow"] == {
        "declared": 5,
        "received": 5,  # the transfer between refurbishers is no receipt
        "wiped": 4,  # two laptops, and the two screens declared without storage
        "failed": 1,
        "refurbished": 3,
        "allocated": 1,
        "delivered": 1,
        "returned": 0,
        "disposed": 1,
    }


async def test_a_later_day_includes_the_events_that_came_after(pool: asyncpg.Pool) -> None:
    await apply(pool, story())

    f = await equipment.figures(pool, AS_OF + timedelta(days=1))

    assert f["flow"]["declared"] == 9
    assert f["by_donor"][OTHER_DONOR]["declared"] == 4


async def test_the_stock_counts_refurbished_sanitised_devices_by_kind_and_grade(pool: asyncpg.Pool) -> None:
    await apply(pool, story())

    f = await equipment.figures(pool, AS_OF)

    assert f["stock"] == [
        {"kind": "laptop", "grade": "A", "devices": 1},
        {"kind": "laptop", "grade": "B", "devices": 1},
        {"kind": "screen", "grade": "A", "devices": 1},
    ]
    assert f["allocated_by_kind"] == {"laptop": 1}
    assert f["delivered_by_kind"] == {"laptop": 1}


async def test_deliveries_follow_ups_donors_and_batches_are_counted(pool: asyncpg.Pool) -> None:
    await apply(pool, story())

    f = await equipment.figures(pool, AS_OF)

    assert f["deliveries"] == 1
    assert f["delivered_by"] == {"recipient_kind": {"secondary-school": 1}, "commune": {"Anderlecht": 1}}
    assert f["follow_ups"] == [
        {"delivery_id": "d1", "recipient": SCHOOL, "delivered_on": "2024-09-01", "due_on": "2025-03-01", "devices": 1}
    ]
    assert f["by_donor"] == {
        DONOR: {
            "declared": 5,
            "received": 5,
            "wiped": 4,
            "failed": 1,
            "refurbished": 3,
            "delivered": 1,
            "disposed": 1,
        }
    }
    assert f["batches"] == [
        {
            "batch_id": B1,
            "donor": DONOR,
            "reference": "R-2025-1",
            "declared": 5,
            "wiped": 4,
            "failed": 1,
            "refurbished": 3,
            "milestones": ["received"],
        }
    ]


async def test_applying_the_same_events_twice_changes_nothing(pool: asyncpg.Pool) -> None:
    events = story()
    first = await apply(pool, events)
    before = await equipment.figures(pool, AS_OF)

    again = await apply(pool, events)

    assert all(p is not None for p in first)
    assert again == [None] * len(events)
    assert await equipment.figures(pool, AS_OF) == before


def _path(device: str, kind: str, **stages: Any) -> dict[str, Any]:
    """A device's row as ``EquipmentRepository.paths_until`` gives it."""
    at = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    row: dict[str, Any] = {
        "id": device,
        "donor": DONOR,
        "kind": kind,
        "declared_at": at,
        "received_at": at,
        "wipe_state": None,
        "refurbished_at": None,
        "allocated_at": None,
        "delivered_at": None,
        "returns": 0,
        "disposed_at": None,
        "last_action": "transferred",
        "holder": REFURBISHER,
        "holder_kind": "refurbisher",
        "recipient_kind": None,
        "public": None,
        "commune": None,
    }
    for name, value in stages.items():
        row[name] = at if value is True else value
    return row


async def test_the_funnel_equals_the_equipment_services_own_figure_code(pool: asyncpg.Pool) -> None:
    # The devices the story's events describe, as the equipment service's history would hold them.
    rows = [
        _path(
            "l1",
            "laptop",
            wipe_state="wiped",
            refurbished_at=True,
            allocated_at=True,
            delivered_at=True,
            last_action="delivered",
            holder=SCHOOL,
            holder_kind="secondary-school",
            recipient_kind="secondary-school",
            commune="Anderlecht",
        ),
        _path("l2", "laptop", wipe_state="failed", disposed_at=True, last_action="disposed"),
        _path("l3", "laptop", wipe_state="wiped", refurbished_at=True, last_action="refurbished"),
        _path("s1", "screen", wipe_state="wiped", refurbished_at=True, last_action="refurbished"),
        _path("s2", "screen", wipe_state="wiped"),
    ]
    await apply(pool, story())

    ours = await equipment.figures(pool, AS_OF)
    theirs = service_figures.figures(rows, AS_OF)

    assert ours["flow"] == theirs["flow"]
    assert ours["delivered_by"]["recipient_kind"] == theirs["delivered_by"]["recipient_kind"]
    assert ours["delivered_by"]["commune"] == theirs["delivered_by"]["commune"]
    assert ours["by_donor"][DONOR] == {s: theirs["by_donor"][DONOR][s] for s in equipment.DONOR_STAGES}


class Page(HTMLParser):
    """What the accessibility checks read of a page: its headings' levels, its tables' captions or
    labels, its header cells' scopes, and the numbers of the funnel's steps."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.tables: list[bool] = []  # captioned or labelled
        self.unscoped_th = 0
        self.steps: dict[str, str] = {}
        self._step: str | None = None
        self._in_funnel = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("h1", "h2", "h3", "h4"):
            self.headings.append(int(tag[1]))
        elif tag == "table":
            self.tables.append("aria-labelledby" in a)
            self._in_funnel = a.get("data-testid") == "eq-funnel"
        elif tag == "caption" and self.tables:
            self.tables[-1] = True
        elif tag == "th" and "scope" not in a:
            self.unscoped_th += 1
        elif tag == "td" and self._in_funnel and a.get("data-step"):
            self._step = a["data-step"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_funnel = False
        if tag == "td":
            self._step = None

    def handle_data(self, data: str) -> None:
        if self._step and data.strip():
            self.steps[self._step] = data.strip()


def accessible(html: str) -> Page:
    page = Page()
    page.feed(html)
    assert page.headings[0] == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(page.headings)), page.headings
    assert all(page.tables), "a table without a caption or a label"
    assert page.unscoped_th == 0
    return page


async def test_the_page_shows_the_figures_in_both_languages_accessibly(pool: asyncpg.Pool) -> None:
    await apply(pool, story())
    app = FastAPI()
    app.include_router(equipment.router)
    app.state.runtime = SimpleNamespace(pool=pool)
    app.dependency_overrides[signed_in] = lambda: Viewer("coordination", "coordination", "k1")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dashboard") as client:
        for lang in ("fr", "nl"):
            response = await client.get(f"/equipment?lang={lang}", headers={"accept": "text/html"})
            assert response.status_code == 200
            page = accessible(response.text)
            as_json = (await client.get("/api/equipment")).json()
            assert page.steps == {step: str(n) for step, n in as_json["flow"].items()}
