"""Requests, their review and allocation under caps, on the fake unit of work."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from services.equipment import figures
from services.equipment.domain import SanitisationRequired
from services.equipment.handlers import allocation, delivery, requests
from services.runtime.errors import Conflict, Forbidden, Invalid, NotFound
from tests.unit.equipment.conftest import (
    COORDINATION,
    HOME,
    HOME_KEY,
    SCHOOL,
    SCHOOL_KEY,
    TODAY,
    World,
    laptop,
    wipe,
)


async def test_a_recipient_asks_for_itself_only_and_its_commune_is_the_default(world: World) -> None:
    asked = await requests.submit_request(
        world.acting(SCHOOL_KEY), requests.SubmitRequest(SCHOOL, {"laptop": 5}, "young-people", 120)
    )
    assert (asked["status"], asked["recipient_kind"], asked["commune"]) == ("submitted", "secondary-school", "Ixelles")
    [event] = world.events("RequestSubmitted")
    assert (event.subject, event.actor, event.data["beneficiaries"]) == (f"request-{asked['id']}", SCHOOL_KEY, 120)
    with pytest.raises(Forbidden, match="may not ask devices for maison-de-repos"):
        await requests.submit_request(world.acting(SCHOOL_KEY), requests.SubmitRequest(HOME, {"laptop": 1}))
    with pytest.raises(Invalid, match="not a known recipient organisation"):
        await requests.submit_request(world.acting(), requests.SubmitRequest("cirb-paradigm", {"laptop": 1}))


async def test_a_review_grants_all_part_or_nothing_and_happens_once(world: World) -> None:
    asked = await requests.submit_request(world.acting(), requests.SubmitRequest(HOME, {"tablet": 2, "laptop": 2}))
    review = requests.ReviewRequest(asked["id"], "partially_accepted", {"tablet": 3})
    with pytest.raises(Invalid, match="between 1 and the requested number"):
        await requests.review_request(world.acting(), review)
    with pytest.raises(Invalid, match="a refusal needs a reason"):
        await requests.review_request(world.acting(), requests.ReviewRequest(asked["id"], "refused", reason=" "))
    with pytest.raises(Forbidden):
        await requests.review_request(world.acting(HOME_KEY), requests.ReviewRequest(asked["id"], "accepted"))
    reviewed = await requests.review_request(
        world.acting(),
        requests.ReviewRequest(asked["id"], "partially_accepted", {"tablet": 2, "laptop": 1}, priority=2),
    )
    assert (reviewed["granted"], reviewed["priority"]) == ({"tablet": 2, "laptop": 1}, 2)
    [event] = world.events("RequestReviewed")
    assert [(c["old"], c["new"]) for c in event.data["changes"]] == [("submitted", "partially_accepted")]
    with pytest.raises(Conflict, match="already partially_accepted"):
        await requests.review_request(world.acting(), requests.ReviewRequest(asked["id"], "accepted"))
    with pytest.raises(NotFound):
        await requests.review_request(world.acting(), requests.ReviewRequest(uuid.uuid4(), "accepted"))


async def test_allocation_is_refused_without_a_passing_wipe(world: World) -> None:
    ids = await world.stock(laptop("A1"), laptop("A2"))
    await world.wipe(ids[1], wipe("m1", "failed"))  # and it stays "refurbished"
    request_id = await world.accepted(SCHOOL, {"laptop": 2})
    done = await world.allocate()
    [line] = done["allocations"]
    assert line["device_ids"] == [str(ids[0])], "the device whose latest wipe failed is not in the stock"
    assert done["waiting"] == {str(request_id): {"laptop": 1}}
    [event] = world.events("DevicesAllocated")
    assert (event.subject, event.data["total_devices"], event.data["still_waiting"]) == (
        f"request-{request_id}",
        1,
        {"laptop": 1},
    )
    assert world.device(ids[1])["allocation"] == "available"


async def test_a_confirmation_is_refused_when_the_stock_or_the_requests_changed_since_the_preview(world: World) -> None:
    await world.stock(laptop("A1"), laptop("A2"))
    await world.accepted(SCHOOL, {"laptop": 1})
    preview = await allocation.preview_allocation(world.reads, "2024")
    await world.accepted(HOME, {"laptop": 1})
    with pytest.raises(Conflict, match="preview again"):
        await allocation.confirm_allocation(
            world.acting(), allocation.ConfirmAllocation("2024", preview["preview_token"])
        )
    with pytest.raises(Forbidden):
        await allocation.confirm_allocation(world.acting(SCHOOL_KEY), allocation.ConfirmAllocation("2024", "x"))
    done = await world.allocate()
    assert len(done["allocations"]) == 2 and world.repo.allocation_runs_locked == 1, "one run at a time, under a lock"


async def test_a_cap_holds_across_the_runs_of_its_year(world: World) -> None:
    await world.stock(*(laptop(f"A{i}") for i in range(5)))
    await requests.set_cap(world.acting(), requests.SetCap("2024", "secondary-school", "laptop", 3))
    request_id = await world.accepted(SCHOOL, {"laptop": 5})
    first = await world.allocate("2024")
    assert first["capped"] == {str(request_id): {"laptop": 2}}
    again = await allocation.preview_allocation(world.reads, "2024")
    assert again["allocations"] == [] and again["waiting"] == {str(request_id): {"laptop": 2}}
    next_year = await allocation.preview_allocation(world.reads, "2025")
    assert [len(a["device_ids"]) for a in next_year["allocations"]] == [2]


async def test_a_handover_is_refused_when_a_devices_latest_record_is_not_a_pass(world: World) -> None:
    """The delivery re-check reads the records themselves, not the state column."""
    [device] = await world.stock(laptop("A1"))
    await world.accepted(SCHOOL, {"laptop": 1})
    await world.allocate()
    failing = wipe("m1", "failed")
    await world.repo.add_sanitisations(device, [failing], COORDINATION)  # a record the state does not reflect
    with pytest.raises(SanitisationRequired, match="no passing sanitisation for medium m1"):
        await delivery.record_handover(world.acting(), delivery.RecordHandover(SCHOOL, [device], TODAY))
    assert world.repo.handovers == {}


def test_the_figures_at_a_date_count_that_whole_day_in_brussels() -> None:
    assert figures.cutoff(date(2024, 7, 1)) == datetime(2024, 7, 1, 22, 0, tzinfo=UTC), "summer: UTC+2"
    assert figures.cutoff(date(2024, 1, 15)) == datetime(2024, 1, 15, 23, 0, tzinfo=UTC), "winter: UTC+1"
