"""The fake's tables, shared by its parts as the database's are by the SQL's, and the
database's rules they all keep (the sanitisation trigger, row locks recorded)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from passerelle_contracts import Actor
from passerelle_contracts.common import RECIPIENT_KINDS

Row = dict[str, Any]
Counts = dict[str, dict[str, int]]

DEVICE_COLUMNS = (
    "id",
    "short_code",
    "batch_id",
    "donor",
    "asset_tag",
    "serial",
    "kind",
    "make",
    "model",
    "cpu",
    "ram_gb",
    "year",
    "custodian",
    "physical",
    "grade",
    "final_spec",
    "sanitisation",
    "media_known",
    "allocation",
    "version",
    "updated_at",
)
LIVE = ("allocated", "delivered")
SANITISED = ("wiped", "destroyed")


def _now() -> datetime:
    return datetime.now(UTC)


def _json(actor: Actor) -> dict[str, Any]:
    return actor.model_dump(mode="json")


class FakeTables:
    """The tables and the rules; each part of the fake adds the queries of one seam."""

    def __init__(self) -> None:
        self.organisations_: dict[str, Row] = {}
        self.batches: dict[uuid.UUID, Row] = {}
        self.devices: dict[uuid.UUID, Row] = {}
        self.media: dict[uuid.UUID, list[Row]] = {}
        self.device_history: list[Row] = []
        self.sanitisations: list[Row] = []
        self.certificates: list[Row] = []
        self.transfers: dict[uuid.UUID, Row] = {}
        self.requests_: dict[uuid.UUID, Row] = {}
        self.caps_: dict[tuple[str, str, str], Row] = {}
        self.allocations: list[Row] = []
        self.handovers: dict[uuid.UUID, Row] = {}
        self.disposals: dict[uuid.UUID, Row] = {}
        self.deliveries: dict[uuid.UUID, Row] = {}
        self.ids = itertools.count(1)  # the bigserial ids (history, sanitisations): one sequence is enough
        self.allocation_runs_locked = 0
        # The aggregates whose rows this transaction locked (or inserted), as event subjects:
        # ``unit_of_work`` refuses an event whose aggregate is not in it (see there).
        self.locked: set[str] = set()

    # -- the database's rules -------------------------------------------------------------------
    def _lock(self, kind: str, *ids: Any) -> None:
        self.locked.update(f"{kind}-{i}" for i in ids)

    def _write_device(self, device: Row, **changes: Any) -> None:
        """Update a device as the triggers ``devices_sanitised_before_allocation`` and
        ``devices_sanitised_before_recipient_custody`` (migrations 0002, 0005) let it."""
        new = {**device, **changes}
        if new["allocation"] in ("reserved", "allocated", "delivered"):
            if not new["media_known"]:
                raise asyncpg.CheckViolationError(
                    f"device {new['id']} cannot be {new['allocation']} while its storage media are unknown"
                )
            if new["sanitisation"] not in SANITISED:
                raise asyncpg.CheckViolationError(
                    f"device {new['id']} cannot be {new['allocation']} while its sanitisation is {new['sanitisation']}"
                )
        to_recipient = self.organisations_.get(new["custodian"], {}).get("kind") in RECIPIENT_KINDS
        sanitised = new["sanitisation"] in SANITISED and new["media_known"]
        if new["custodian"] != device["custodian"] and to_recipient and not sanitised:
            state = new["sanitisation"] if new["media_known"] else "unknown (media not inspected)"
            raise asyncpg.CheckViolationError(
                f"device {new['id']} cannot go into the custody of {new['custodian']} (a recipient) "
                f"while its sanitisation is {state}"
            )
        device.update(changes, version=device["version"] + 1, updated_at=_now())

    def _visible(self, device: Row, organisation: str | None) -> bool:
        """``sql.base.visible``: its donor, its holder now, the receiving side of an open transfer
        or handover (not those that held it before); everybody's with no organisation."""
        if organisation is None or organisation in (device["donor"], device["custodian"]):
            return True
        device_id = device["id"]
        return any(
            t["to_org"] == organisation and t["status"] == "proposed" and device_id in t["device_ids"]
            for t in self.transfers.values()
        ) or any(
            x["recipient"] == organisation
            and x["acknowledged_at"] is None
            and x["cancelled_at"] is None
            and device_id in x["device_ids"]
            for x in self.handovers.values()
        )

    def _history(self, device_id: uuid.UUID, action: str, actor: Actor, custodian: str, data: dict[str, Any]) -> None:
        self.device_history.append(
            {
                "id": next(self.ids),
                "device_id": device_id,
                "action": action,
                "actor": _json(actor),
                "custodian": custodian,
                "data": data,
                "at": _now(),
            }
        )
