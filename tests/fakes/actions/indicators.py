"""Indicators, mappings and measurements, in memory (``services/actions/sql/indicators.py``)."""

from __future__ import annotations

import copy
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from services.actions.domain import IndicatorMapping
from services.actions.sql import Row

from .base import (
    INDICATOR_COLUMNS,
    MEASUREMENT_COLUMNS,
    FakeTables,
    jsonb,
    now,
    pick,
)


class FakeIndicators(FakeTables):
    # -- indicators and measurements ----------------------------------------------------------
    async def indicator_codes(self) -> set[str]:
        return set(self.indicators_)

    async def upsert_indicator(self, d: dict[str, Any]) -> None:
        definition = {k: d[k] for k in ("name_fr", "name_nl", "unit", "baseline", "target", "period")}
        existing = self.indicators_.get(d["code"])
        if existing is not None:
            existing.update(definition, updated_at=now())
            return
        if d["action_number"] not in self.actions:
            raise LookupError(f"no action {d['action_number']}")  # the foreign key
        self.indicators_[d["code"]] = {
            "code": d["code"],
            "action_number": d["action_number"],
            **definition,
            "current_value": d["baseline"],
            "set_order": None,
            "updated_at": now(),
        }

    async def get_indicator(self, code: str) -> Row | None:
        found = self.indicators_.get(code)
        return None if found is None else pick(found, INDICATOR_COLUMNS)

    async def lock_indicator(self, code: str) -> Row | None:
        found = self.indicators_.get(code)
        return None if found is None else pick(found, (*INDICATOR_COLUMNS, "set_order"))

    async def indicators(self, action_number: int | None = None) -> list[Row]:
        rows = sorted(self.indicators_.values(), key=lambda i: (i["action_number"], i["code"]))
        return [
            pick(i, (*INDICATOR_COLUMNS, "updated_at"))
            for i in rows
            if action_number is None or i["action_number"] == action_number
        ]

    async def replace_mappings(self, mappings: list[dict[str, Any]]) -> None:
        for m in mappings:
            if m["indicator"] not in self.indicators_:
                raise LookupError(f"mapping names unknown indicator {m['indicator']}")  # the foreign key
            mode = m.get("mode", "add")
            if mode not in ("add", "set") or (m.get("order") is not None and mode != "set"):
                raise ValueError(f"mapping to {m['indicator']}: mode {mode!r} with order {m.get('order')!r}")  # CHECKs
        self.mappings = [
            {
                "id": self._next_id(),
                "event_type": m["event_type"],
                "conditions": jsonb(m["conditions"]),
                "indicator_code": m["indicator"],
                "amount": m["amount"],
                "mode": m.get("mode", "add"),
                "order_field": m.get("order"),
            }
            for m in mappings
        ]

    async def mappings_for(self, event_type: str) -> list[IndicatorMapping]:
        return [
            IndicatorMapping(
                m["event_type"],
                copy.deepcopy(m["conditions"]),
                m["indicator_code"],
                m["amount"],
                m["mode"],
                m["order_field"],
            )
            for m in self.mappings
            if m["event_type"] == event_type
        ]

    async def feeding_events(self, code: str) -> list[str]:
        return sorted({m["event_type"] for m in self.mappings if m["indicator_code"] == code})

    async def record_measurement(
        self,
        *,
        code: str,
        value: Decimal,
        delta: Decimal,
        measured_on: date,
        origin: str,
        source: str,
        source_event_id: uuid.UUID | None,
        actor: dict[str, Any],
        external_id: str | None = None,
        moves_current: bool = True,
        order: int | None = None,
    ) -> bool:
        if code not in self.indicators_:
            raise LookupError(f"no indicator {code}")  # the foreign key
        for m in self.measurements_:  # ON CONFLICT DO NOTHING, on either unique constraint
            if source_event_id is not None and (m["indicator_code"], m["source_event_id"]) == (code, source_event_id):
                return False
            if external_id is not None and (m["indicator_code"], m["external_id"]) == (code, external_id):
                return False
        self.measurements_.append(
            {
                "id": self._next_id(),
                "external_id": external_id,
                "indicator_code": code,
                "value": value,
                "delta": delta,
                "measured_on": measured_on,
                "origin": origin,
                "source": source,
                "source_event_id": source_event_id,
                "actor": jsonb(actor),
                "recorded_at": now(),
                "set_order": order,
            }
        )
        if order is not None:  # greatest(set_order, order): NULL is ignored
            applied = self.indicators_[code]["set_order"]
            self.indicators_[code]["set_order"] = order if applied is None else max(applied, order)
        if moves_current:
            self.indicators_[code].update(current_value=value, updated_at=now())
        return True

    async def counted_sources(self, code: str, source_event_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        wanted = set(source_event_ids)
        return {
            m["source_event_id"]
            for m in self.measurements_
            if m["indicator_code"] == code and m["source_event_id"] in wanted
        }

    async def add_measurements(self, measurements: list[dict[str, Any]]) -> None:
        for m in measurements:
            if m["code"] not in self.indicators_:
                raise LookupError(f"no indicator {m['code']}")  # the foreign key
            if any(
                (c["indicator_code"], c["source_event_id"]) == (m["code"], m["source_event_id"])
                for c in self.measurements_
            ):
                raise ValueError(f"{m['source_event_id']} already counted in {m['code']}")  # UNIQUE
            self.measurements_.append(
                {
                    "id": self._next_id(),
                    "external_id": m.get("external_id"),
                    "indicator_code": m["code"],
                    "value": m["value"],
                    "delta": m["delta"],
                    "measured_on": m["measured_on"],
                    "origin": m["origin"],
                    "source": m["source"],
                    "source_event_id": m["source_event_id"],
                    "actor": jsonb(m["actor"]),
                    "recorded_at": now(),
                    "set_order": m.get("order"),
                }
            )

    async def set_indicator(self, code: str, *, current_value: Decimal | None, set_order: int | None) -> None:
        indicator = self.indicators_[code]
        if set_order is not None:  # greatest(set_order, $3): NULL is ignored
            applied = indicator["set_order"]
            indicator["set_order"] = set_order if applied is None else max(applied, set_order)
        if current_value is not None:
            indicator.update(current_value=current_value, updated_at=now())

    async def sum_in_year(self, code: str, year: int) -> Decimal:
        return sum(
            (m["delta"] for m in self.measurements_ if m["indicator_code"] == code and m["measured_on"].year == year),
            Decimal(0),
        )

    async def set_order_in_year(self, code: str, year: int) -> int | None:
        orders = [
            m["set_order"]
            for m in self.measurements_
            if m["indicator_code"] == code and m["measured_on"].year == year and m["set_order"] is not None
        ]
        return max(orders, default=None)

    async def latest_measured_on(self, code: str) -> date | None:
        return max((m["measured_on"] for m in self.measurements_ if m["indicator_code"] == code), default=None)

    async def measurements(self, code: str | None = None) -> list[Row]:
        return [pick(m, MEASUREMENT_COLUMNS) for m in self.measurements_ if code is None or m["indicator_code"] == code]
