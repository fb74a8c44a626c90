"""Indicators, the event -> indicator mappings, and measurements."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from ..domain import IndicatorMapping
from .base import Queries, Row


class IndicatorQueries(Queries):
    async def indicator_codes(self) -> set[str]:
        return {r["code"] for r in await self.db.fetch("SELECT code FROM indicators")}

    async def upsert_indicator(self, d: dict[str, Any]) -> None:
        """Define an indicator (its value starts at the baseline) or change its definition; neither its
        action nor its current value change here."""
        await self.db.execute(
            """INSERT INTO indicators (code, action_number, name_fr, name_nl, unit, baseline, target, period,
                                       current_value)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6)
               ON CONFLICT (code) DO UPDATE SET name_fr = EXCLUDED.name_fr, name_nl = EXCLUDED.name_nl,
                   unit = EXCLUDED.unit, baseline = EXCLUDED.baseline, target = EXCLUDED.target,
                   period = EXCLUDED.period, updated_at = now()""",
            d["code"],
            d["action_number"],
            d["name_fr"],
            d["name_nl"],
            d["unit"],
            d["baseline"],
            d["target"],
            d["period"],
        )

    async def get_indicator(self, code: str) -> Row | None:
        row = await self.db.fetchrow(
            """SELECT code, action_number, name_fr, name_nl, unit, baseline, target, period, current_value
               FROM indicators WHERE code = $1""",
            code,
        )
        return None if row is None else dict(row)

    async def lock_indicator(self, code: str) -> Row | None:
        """The indicator, locked for the transaction: measurements of one indicator serialise. With
        ``set_order``, the order of the last value a set mapping applied (None before the first), so
        that a stale value is recognised under the lock."""
        row = await self.db.fetchrow(
            """SELECT code, action_number, name_fr, name_nl, unit, baseline, target, period, current_value, set_order
               FROM indicators WHERE code = $1 FOR UPDATE""",
            code,
        )
        return None if row is None else dict(row)

    async def indicators(self, action_number: int | None = None) -> list[Row]:
        rows = await self.db.fetch(
            """SELECT code, action_number, name_fr, name_nl, unit, baseline, target, period, current_value, updated_at
               FROM indicators
               WHERE ($1::int IS NULL OR action_number = $1) ORDER BY action_number, code""",
            action_number,
        )
        return [dict(r) for r in rows]

    # -- mappings -----------------------------------------------------------------------------
    async def replace_mappings(self, mappings: list[dict[str, Any]]) -> None:
        """Mappings are configuration: the seed file is the truth, replaced as a whole. ``mode`` is
        "add" unless the mapping says "set"; ``order`` (a set mapping's) is stored as ``order_field``
        (``order`` is an SQL keyword)."""
        await self.db.execute("DELETE FROM indicator_mappings")
        await self.db.executemany(
            """INSERT INTO indicator_mappings (event_type, conditions, indicator_code, amount, mode, order_field)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            [
                (m["event_type"], m["conditions"], m["indicator"], m["amount"], m.get("mode", "add"), m.get("order"))
                for m in mappings
            ],
        )

    async def mappings_for(self, event_type: str) -> list[IndicatorMapping]:
        rows = await self.db.fetch(
            """SELECT event_type, conditions, indicator_code, amount, mode, order_field FROM indicator_mappings
               WHERE event_type = $1 ORDER BY id""",
            event_type,
        )
        return [
            IndicatorMapping(
                r["event_type"], r["conditions"], r["indicator_code"], r["amount"], r["mode"], r["order_field"]
            )
            for r in rows
        ]

    async def feeding_events(self, code: str) -> list[str]:
        """The event types whose mappings feed ``code`` (none: its values are typed by people)."""
        rows = await self.db.fetch(
            "SELECT DISTINCT event_type FROM indicator_mappings WHERE indicator_code = $1 ORDER BY event_type", code
        )
        return [r["event_type"] for r in rows]

    # -- measurements -------------------------------------------------------------------------
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
        """Insert a measurement and, if ``moves_current``, set the indicator's current value to it;
        False if this source event or this external id was already counted for this indicator.
        ``order``: a set mapping's order of the value (the caller checked it is not stale, under
        ``lock_indicator``), kept with the measurement (``set_order_in_year``) and as the
        indicator's ``set_order``, the highest applied to it."""
        inserted = await self.db.fetchval(
            """INSERT INTO measurements (indicator_code, value, delta, measured_on, origin, source, source_event_id,
                                         actor, external_id, set_order)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING id""",
            code,
            value,
            delta,
            measured_on,
            origin,
            source,
            source_event_id,
            actor,
            external_id,
            order,
        )
        if inserted is None:
            return False
        if order is not None:
            await self.db.execute(
                "UPDATE indicators SET set_order = greatest(set_order, $2) WHERE code = $1", code, order
            )
        if not moves_current:
            return True
        await self.db.execute(
            "UPDATE indicators SET current_value = $2, updated_at = now() WHERE code = $1", code, value
        )
        return True

    async def counted_sources(self, code: str, source_event_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        """Those of ``source_event_ids`` already counted in ``code`` (a replay past the inbox)."""
        rows = await self.db.fetch(
            "SELECT source_event_id FROM measurements WHERE indicator_code = $1 AND source_event_id = ANY($2::uuid[])",
            code,
            source_event_ids,
        )
        return {r["source_event_id"] for r in rows}

    async def add_measurements(self, measurements: list[dict[str, Any]]) -> None:
        """Insert derived measurements at once (``record_derived_measurements``, which checked under
        the indicators' locks that none was counted before); the indicators are set apart, by
        ``set_indicator``. Keys as ``record_measurement``'s arguments."""
        await self.db.executemany(
            """INSERT INTO measurements (indicator_code, value, delta, measured_on, origin, source, source_event_id,
                                         actor, external_id, set_order)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
            [
                (
                    m["code"],
                    m["value"],
                    m["delta"],
                    m["measured_on"],
                    m["origin"],
                    m["source"],
                    m["source_event_id"],
                    m["actor"],
                    m.get("external_id"),
                    m.get("order"),
                )
                for m in measurements
            ],
        )

    async def set_indicator(self, code: str, *, current_value: Decimal | None, set_order: int | None) -> None:
        """After ``add_measurements``: the indicator's current value (None: unchanged) and the
        highest order of a set value applied to it (None: unchanged)."""
        await self.db.execute(
            """UPDATE indicators SET current_value = coalesce($2, current_value),
                                     set_order = greatest(set_order, $3),
                                     updated_at = CASE WHEN $2::numeric IS NULL THEN updated_at ELSE now() END
               WHERE code = $1""",
            code,
            current_value,
            set_order,
        )

    async def sum_in_year(self, code: str, year: int) -> Decimal:
        """What was measured for ``code`` during a calendar year (for counts that restart each year)."""
        total: Decimal = await self.db.fetchval(
            """SELECT coalesce(sum(delta), 0) FROM measurements
               WHERE indicator_code = $1 AND extract(year FROM measured_on) = $2""",
            code,
            year,
        )
        return total

    async def set_order_in_year(self, code: str, year: int) -> int | None:
        """The highest order of the set values measured for ``code`` during a calendar year (None
        before the first): a yearly indicator's figures go stale per year."""
        applied: int | None = await self.db.fetchval(
            """SELECT max(set_order) FROM measurements
               WHERE indicator_code = $1 AND extract(year FROM measured_on) = $2""",
            code,
            year,
        )
        return applied

    async def latest_measured_on(self, code: str) -> date | None:
        """The day of the indicator's most recent measurement (None before the first)."""
        latest: date | None = await self.db.fetchval(
            "SELECT max(measured_on) FROM measurements WHERE indicator_code = $1", code
        )
        return latest

    async def measurements(self, code: str | None = None) -> list[Row]:
        """Measurements of one indicator (or all), in the order they were recorded."""
        rows = await self.db.fetch(
            """SELECT external_id, indicator_code, value, delta, measured_on, origin, source, source_event_id,
                      recorded_at
               FROM measurements WHERE ($1::text IS NULL OR indicator_code = $1) ORDER BY id""",
            code,
        )
        return [dict(r) for r in rows]
