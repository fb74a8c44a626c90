"""The plan and the actions' history, in memory (``services/actions/sql/plan.py``)."""

from __future__ import annotations

import copy
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from passerelle_contracts import Envelope

from services.actions.domain import REPORT_EVENT_TYPES, ActionState
from services.actions.sql import Row
from services.actions.sql.plan import DETAIL_FIELDS

from .base import (
    ACTION_COLUMNS,
    CENT,
    HISTORY_COLUMNS,
    ORGANISATION_COLUMNS,
    FakeTables,
    jsonb,
    now,
    pick,
)


class FakePlan(FakeTables):
    # -- the plan -----------------------------------------------------------------------------
    async def lock_seed(self) -> None:
        self.seed_locks += 1  # one process: nothing to wait for, but tests may see it was taken

    async def load_reference(self, plan: dict[str, Any]) -> list[str]:
        kept = sorted(
            o["code"]
            for o in plan["organisations"]
            if self.organisations_.get(o["code"], {}).get("source") == "register"
        )
        for o in plan["organisations"]:
            if o["code"] not in kept:  # the register's rows are left as the register wrote them
                self.organisations_[o["code"]] = {
                    **{k: o[k] for k in ("code", "name", "kind", "working_group", "copil")},
                    "source": "seed",
                }
        for a in plan["axes"]:
            axis = self.axes.setdefault(a["number"], {k: a[k] for k in ("number", "title_fr", "title_nl")})
            axis["title_nl"] = axis["title_nl"] or a["title_nl"]  # an empty Dutch title filled in, another kept
        for c in plan["chantiers"]:
            chantier = self.chantiers.setdefault(
                c["number"], {k: c[k] for k in ("number", "axis", "title_fr", "title_nl")}
            )
            chantier["title_nl"] = chantier["title_nl"] or c["title_nl"]

        return kept

    async def organisations(self) -> list[Row]:
        return [pick(self.organisations_[code], ORGANISATION_COLUMNS) for code in sorted(self.organisations_)]

    async def organisation(self, code: str, *, lock: bool = False) -> Row | None:
        found = self.organisations_.get(code)
        return None if found is None else dict(found)  # one caller at a time: nothing to lock

    async def register_epn(self, code: str, name: str) -> Row | None:
        existing = self.organisations_.get(code)
        if existing is None:
            existing = {"code": code, "kind": "epn", "working_group": False, "copil": False}
        elif existing["kind"] != "epn":
            return None  # another kind of organisation: left as it is
        self.organisations_[code] = {**existing, "name": name, "source": "register"}
        return dict(self.organisations_[code])

    async def unknown_organisations(self, codes: list[str]) -> list[str]:
        return [c for c in codes if c not in self.organisations_]

    async def axis_of_chantier(self, chantier: int) -> int | None:
        found = self.chantiers.get(chantier)
        return None if found is None else int(found["axis"])

    async def insert_new_actions(self, actions: list[dict[str, Any]]) -> list[int]:
        new = [a for a in actions if a["number"] not in self.actions]
        for a in new:
            if a["chantier"] not in self.chantiers or a["lead"] not in self.organisations_:
                raise LookupError(f"action {a['number']} names an unknown chantier or lead")  # the foreign keys
        for a in new:
            self.actions[a["number"]] = {
                **{
                    k: copy.deepcopy(a[k])
                    for k in ("number", "chantier", "title_fr", "title_nl", "text_fr", "lead", "partners", "publics")
                },
                "status": "not_started",
                "traffic_light": None,
                "status_note": "",
                "progress": Decimal("0.00"),
                "progress_mode": "manual",
                "weight": Decimal(1),
                "version": 0,
                "updated_at": now(),
            }
        return sorted(a["number"] for a in new)

    async def set_weight(self, number: int, weight: Decimal) -> None:
        if number in self.actions:
            self.actions[number]["weight"] = weight

    def _action_row(self, number: int) -> Row:
        row = self.actions[number]
        return pick({**row, "axis": self.chantiers[row["chantier"]]["axis"]}, ACTION_COLUMNS)

    async def get_action(self, number: int) -> Row | None:
        return self._action_row(number) if number in self.actions else None

    async def lock_action(self, number: int) -> ActionState | None:
        row = self.actions.get(number)
        if row is None:
            return None
        return ActionState(row["number"], row["lead"], row["status"], row["traffic_light"], row["status_note"])

    async def list_actions(
        self,
        *,
        axis: int | None = None,
        chantier: int | None = None,
        organisation: str | None = None,
        status: str | None = None,
        public: str | None = None,
    ) -> list[Row]:
        rows = [self._action_row(n) for n in sorted(self.actions)]
        return [
            r
            for r in rows
            if (axis is None or r["axis"] == axis)
            and (chantier is None or r["chantier"] == chantier)
            and (organisation is None or r["lead"] == organisation or organisation in r["partners"])
            and (status is None or r["status"] == status)
            and (public is None or public in r["publics"])
        ]

    def _touch(self, number: int, **values: Any) -> None:
        row = self.actions.get(number)
        if row is None:
            return  # an UPDATE of no row
        row.update(values)
        row["version"] += 1
        row["updated_at"] = now()

    async def update_status(self, number: int, status: str, traffic_light: str | None, note: str) -> None:
        self._touch(number, status=status, traffic_light=traffic_light, status_note=note)

    async def set_details(self, number: int, values: dict[str, Any]) -> None:
        self._touch(number, **{f: copy.deepcopy(values[f]) for f in DETAIL_FIELDS if f in values})

    async def set_progress(self, number: int, progress: Decimal, mode: str) -> None:
        stored = progress.quantize(CENT, rounding=ROUND_HALF_UP)  # numeric(5, 2)
        if not Decimal(0) <= stored <= Decimal(100):
            raise ValueError(f"progress {progress} out of range")  # the table's CHECK
        self._touch(number, progress=stored, progress_mode=mode)

    # -- history ------------------------------------------------------------------------------
    async def add_history(self, number: int, envelope: Envelope, changes: list[dict[str, Any]]) -> None:
        if number not in self.actions:
            raise LookupError(f"no action {number}")  # the foreign key
        if any(h["event_id"] == envelope.event_id for h in self.history_):
            raise ValueError(f"event {envelope.event_id} already in the history")  # UNIQUE (event_id)
        self.history_.append(
            {
                "id": self._next_id(),
                "action_number": number,
                "event_id": envelope.event_id,
                "event_type": envelope.event_type,
                "changes": jsonb(changes),
                "actor": envelope.actor.model_dump(mode="json"),
                "occurred_at": envelope.occurred_at,
                "data": jsonb(envelope.data),
            }
        )

    async def add_history_many(self, entries: list[tuple[int, Envelope, list[dict[str, Any]]]]) -> None:
        for number, envelope, changes in entries:
            await self.add_history(number, envelope, changes)

    def _readable(self, entry: Row, reader: str | None) -> bool:
        """A progress report's move is read as the report is: approved, or by its action's organisations."""
        if reader is None or entry["event_type"] not in REPORT_EVENT_TYPES:
            return True
        action = self.actions[entry["action_number"]]
        if reader in (action["lead"], *action["partners"]):
            return True
        report = next((r for r in self.reports.values() if str(r["id"]) == entry["data"].get("report_id")), None)
        return (
            report is not None and report["action_number"] == entry["action_number"] and report["status"] == "approved"
        )

    async def history(self, number: int, reader: str | None = None) -> list[Row]:
        rows = sorted(
            (h for h in self.history_ if h["action_number"] == number and self._readable(h, reader)),
            key=lambda h: (h["occurred_at"], h["id"]),
        )
        return [pick(h, HISTORY_COLUMNS) for h in rows]

    async def changes_between(
        self, since: datetime, until: datetime | None = None, reader: str | None = None
    ) -> list[Row]:
        rows = sorted(
            (
                h
                for h in self.history_
                if h["occurred_at"] >= since
                and (until is None or h["occurred_at"] < until)
                and self._readable(h, reader)
            ),
            key=lambda h: (h["action_number"], h["occurred_at"], h["id"]),
        )
        return [
            {
                "action_number": h["action_number"],
                "title_fr": self.actions[h["action_number"]]["title_fr"],
                "title_nl": self.actions[h["action_number"]]["title_nl"],
                **pick(h, HISTORY_COLUMNS),
            }
            for h in rows
        ]
