"""Use cases of the equipment service on a fake unit of work: a world of organisations in the fake
repository, units of work acting for each kind of partner, and the steps of a device's life
(declared, received by the refurbisher, wiped, refurbished, requested, allocated) to start from."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
from passerelle_contracts import Actor, Envelope

from services.equipment.domain import DeviceRow, Sanitisation
from services.equipment.handlers import allocation, custody, intake, refurbishing, requests
from services.equipment.handlers.common import Uow
from services.equipment.sql import EquipmentRepository
from services.runtime.testing import FakeStore
from services.runtime.uow import Context
from tests.fakes.equipment import FakeEquipmentRepository, unit_of_work
from tests.fakes.equipment.clock import stop_the_clock

DONOR, OTHER_DONOR, REFURBISHER = "cirb-paradigm", "easy-brussels", "asbl-refurb"
OTHER_REFURBISHER = "asbl-refurb-bis"
SCHOOL, HOME, PUPILS, COCOF = "athenee-ixelles", "maison-de-repos", "asbl-devoirs", "cocof"

COORDINATION = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k-coord")
DONOR_KEY = Actor(organisation=DONOR, role="donor", key_id="k-donor")
OTHER_DONOR_KEY = Actor(organisation=OTHER_DONOR, role="donor", key_id="k-other")
REFURBISHER_KEY = Actor(organisation=REFURBISHER, role="refurbisher", key_id="k-refurb")
OTHER_REFURBISHER_KEY = Actor(organisation=OTHER_REFURBISHER, role="refurbisher", key_id="k-refurb-bis")
SCHOOL_KEY = Actor(organisation=SCHOOL, role="recipient", key_id="k-school")
HOME_KEY = Actor(organisation=HOME, role="recipient", key_id="k-home")

ORGANISATIONS: list[dict[str, Any]] = [
    {"code": DONOR, "name": "Paradigm", "kind": "regional-public-body", "commune": None},
    {"code": OTHER_DONOR, "name": "easy.brussels", "kind": "regional-administration", "commune": None},
    {"code": REFURBISHER, "name": "Refurb ASBL", "kind": "refurbisher", "commune": "Anderlecht"},
    {"code": OTHER_REFURBISHER, "name": "Refurb bis", "kind": "refurbisher", "commune": "Molenbeek"},
    {"code": SCHOOL, "name": "Athénée", "kind": "secondary-school", "commune": "Ixelles"},
    {"code": HOME, "name": "Maison de repos", "kind": "retirement-home", "commune": "Schaerbeek"},
    {"code": PUPILS, "name": "ASBL devoirs", "kind": "pupils-association", "commune": "Anderlecht"},
    {"code": COCOF, "name": "COCOF", "kind": "community-body", "commune": None},
]
INTAKE = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)
"""When the world's devices were declared: before the deliveries its tests date (``TODAY``)."""


def laptop(tag: str) -> DeviceRow:
    return DeviceRow(asset_tag=tag, kind="laptop", make="Lenovo", model="T480", storage=(("ssd", 256, "S-" + tag),))


def desktop(tag: str) -> DeviceRow:
    return DeviceRow(asset_tag=tag, kind="desktop", storage=(("ssd", 128, ""), ("hdd", 500, "")))


def screen(tag: str) -> DeviceRow:
    return DeviceRow(asset_tag=tag, kind="screen")


def wipe(
    medium: str = "m1", result: str = "passed", method: str = "purge", start: datetime | None = None
) -> Sanitisation:
    start = start or datetime(2024, 2, 20, 9, 0, tzinfo=UTC)
    return Sanitisation(
        medium_id=medium,
        method=method,
        tool="nwipe",
        tool_version="0.35",
        passes=1,
        verification="full",
        operator="op-17",
        started_at=start,
        ended_at=start + timedelta(hours=1),
        result=result,
    )


class World:
    """The fake repository with the organisations, and the ways to act on it."""

    def __init__(self) -> None:
        self.repo = FakeEquipmentRepository()
        self.store = FakeStore(self.repo)
        for o in ORGANISATIONS:
            self.repo.organisations_[o["code"]] = dict(o)

    def acting(self, actor: Actor = COORDINATION, **context: Any) -> Uow:
        return unit_of_work(self.store, Context(actor=actor, **context))

    @property
    def reads(self) -> EquipmentRepository:
        """The repository outside a unit of work, as the routers' reads get it."""
        return cast(EquipmentRepository, self.repo)  # answers as the SQL repository (the shared suite checks it)

    def events(self, event_type: str | None = None) -> list[Envelope]:
        return self.store.events(event_type)

    def device(self, device_id: uuid.UUID) -> dict[str, Any]:
        return self.repo.devices[device_id]

    # -- a device's life, step by step ------------------------------------------------------------
    async def declare(self, *rows: DeviceRow, donor: str = DONOR, reference: str = "R-1") -> list[uuid.UUID]:
        command = intake.DeclareBatch(donor, reference, list(enumerate(rows, start=1)))
        await intake.declare_batch(self.acting(), command)
        tags = {r.asset_tag for r in rows}
        ids = [d["id"] for d in self.repo.devices.values() if d["donor"] == donor and d["asset_tag"] in tags]
        for row in self.repo.device_history:  # declared on the world's intake day, as if months ago
            if row["device_id"] in ids and row["action"] == "declared":
                row["at"] = INTAKE
        return ids

    async def at_refurbisher(self, ids: list[uuid.UUID]) -> None:
        transfer = await custody.propose_transfer(self.acting(), custody.ProposeTransfer(REFURBISHER, ids))
        await custody.confirm_transfer(self.acting(REFURBISHER_KEY), custody.ConfirmTransfer(transfer["id"]))

    async def wipe(self, device_id: uuid.UUID, *records: Sanitisation) -> dict[str, Any]:
        command = refurbishing.RecordSanitisation(device_id, records or (wipe(),))
        return await refurbishing.record_sanitisation(self.acting(REFURBISHER_KEY), command)

    async def refurbish(self, device_id: uuid.UUID, grade: str = "B") -> dict[str, Any]:
        command = refurbishing.ChangeCondition(device_id, "refurbished", grade)
        return await refurbishing.change_condition(self.acting(REFURBISHER_KEY), command)

    async def stock(self, *rows: DeviceRow) -> list[uuid.UUID]:
        """Declared, received, wiped (every medium) and refurbished: ready to allocate."""
        ids = await self.declare(*rows)
        await self.at_refurbisher(ids)
        for device_id in ids:
            media = [m["medium_id"] for m in self.repo.media.get(device_id, [])]
            if media:
                await self.wipe(device_id, *(wipe(m) for m in media))
            await self.refurbish(device_id)
        return ids

    async def accepted(self, recipient: str, devices: dict[str, int], **review: Any) -> uuid.UUID:
        row = await requests.submit_request(self.acting(), requests.SubmitRequest(recipient, devices))
        decision = review.pop("decision", "accepted")
        await requests.review_request(self.acting(), requests.ReviewRequest(row["id"], decision, **review))
        return uuid.UUID(str(row["id"]))

    async def allocate(self, period: str = "2024") -> dict[str, Any]:
        preview = await allocation.preview_allocation(self.reads, period)
        command = allocation.ConfirmAllocation(period, preview["preview_token"])
        return await allocation.confirm_allocation(self.acting(), command)

    def clear_events(self) -> None:
        self.store.outbox.clear()


@pytest.fixture
def world() -> World:
    return World()


TODAY = date(2024, 5, 6)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Stop the clock "today in Brussels" reads at a moment (``tests.fakes.equipment.clock``)."""
    return functools.partial(stop_the_clock, monkeypatch)
