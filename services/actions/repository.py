"""Plain SQL for the actions service; every function takes the caller's connection."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
from passerelle_contracts import Envelope

from .domain import ActionState, IndicatorMapping

ACTION_COLUMNS = """a.number, a.chantier, c.axis, a.title_fr, a.title_nl, a.text_fr, a.lead, a.partners, a.publics,
                    a.status, a.traffic_light, a.status_note, a.progress, a.progress_mode, a.weight, a.version,
                    a.updated_at"""


async def load_reference(conn: asyncpg.Connection, plan: dict[str, Any]) -> None:
    await conn.executemany(
        """INSERT INTO organisations (code, name, kind, working_group, copil) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
               working_group = EXCLUDED.working_group, copil = EXCLUDED.copil""",
        [(o["code"], o["name"], o["kind"], o["working_group"], o["copil"]) for o in plan["organisations"]],
    )
    await conn.executemany(
        "INSERT INTO axes (number, title_fr, title_nl) VALUES ($1, $2, $3) ON CONFLICT (number) DO NOTHING",
        [(a["number"], a["title_fr"], a["title_nl"]) for a in plan["axes"]],
    )
    await conn.executemany(
        "INSERT INTO chantiers (number, axis, title_fr, title_nl) VALUES ($1, $2, $3, $4) ON CONFLICT (number) DO NOTHING",
        [(c["number"], c["axis"], c["title_fr"], c["title_nl"]) for c in plan["chantiers"]],
    )


async def insert_new_actions(conn: asyncpg.Connection, actions: list[dict[str, Any]]) -> list[int]:
    """Insert the actions not present yet; return the numbers inserted. Callers hold the seed lock."""
    present = {r["number"] for r in await conn.fetch("SELECT number FROM actions")}
    new = [a for a in actions if a["number"] not in present]
    await conn.executemany(
        """INSERT INTO actions (number, chantier, title_fr, title_nl, text_fr, lead, partners, publics)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        [
            (a["number"], a["chantier"], a["title_fr"], a["title_nl"], a["text_fr"], a["lead"], a["partners"], a["publics"])
            for a in new
        ],
    )
    return sorted(a["number"] for a in new)


async def load_indicators(conn: asyncpg.Connection, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Add the seed's indicators not defined yet (later edits come through the API and are kept);
    replace the event -> indicator mappings. Returns the indicators added."""
    present = {r["code"] for r in await conn.fetch("SELECT code FROM indicators")}
    new = [
        {"code": i["code"], "action_number": i["action"], "name_fr": i["name_fr"], "name_nl": i["name_nl"], "unit": i["unit"],
         "baseline": _num(i["baseline"]), "target": _num(i["target"]), "period": i["period"]}
        for i in doc["indicators"]
        if i["code"] not in present
    ]
    for indicator in new:
        await upsert_indicator(conn, indicator)
    # Mappings are configuration: the file is the truth, replaced as a whole.
    await conn.execute("DELETE FROM indicator_mappings")
    await conn.executemany(
        "INSERT INTO indicator_mappings (event_type, conditions, indicator_code, amount) VALUES ($1, $2, $3, $4)",
        [(m["event_type"], m["conditions"], m["indicator"], m["amount"]) for m in doc["mappings"]],
    )
    return new


def _num(value: float | int | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


async def mappings_for(conn: asyncpg.Connection, event_type: str) -> list[IndicatorMapping]:
    rows = await conn.fetch(
        "SELECT event_type, conditions, indicator_code, amount FROM indicator_mappings WHERE event_type = $1 ORDER BY id",
        event_type,
    )
    return [IndicatorMapping(r["event_type"], r["conditions"], r["indicator_code"], r["amount"]) for r in rows]


async def get_action(conn: asyncpg.Connection | asyncpg.Pool, number: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ACTION_COLUMNS} FROM actions a JOIN chantiers c ON c.number = a.chantier WHERE a.number = $1", number
    )


async def lock_action(conn: asyncpg.Connection, number: int) -> ActionState | None:
    """Lock the action's row for the transaction: writes to one action (and their outbox rows) serialise."""
    row = await conn.fetchrow(
        "SELECT number, lead, status, traffic_light, status_note FROM actions WHERE number = $1 FOR UPDATE", number
    )
    return None if row is None else ActionState(**dict(row))


async def set_progress(conn: asyncpg.Connection, number: int, progress: Decimal, mode: str) -> None:
    await conn.execute(
        "UPDATE actions SET progress = $2, progress_mode = $3, version = version + 1, updated_at = now() WHERE number = $1",
        number,
        progress,
        mode,
    )


DETAIL_FIELDS = ("title_fr", "title_nl", "lead", "partners", "publics", "weight")


async def set_details(conn: asyncpg.Connection, number: int, values: dict[str, Any]) -> None:
    columns = [f for f in DETAIL_FIELDS if f in values]
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=2))
    await conn.execute(
        f"UPDATE actions SET {assignments}, version = version + 1, updated_at = now() WHERE number = $1",
        number,
        *(values[c] for c in columns),
    )


async def organisations_exist(conn: asyncpg.Connection | asyncpg.Pool, codes: list[str]) -> list[str]:
    """The codes among ``codes`` that are not known organisations."""
    known = {r["code"] for r in await conn.fetch("SELECT code FROM organisations WHERE code = ANY($1::text[])", codes)}
    return [c for c in codes if c not in known]


async def list_actions(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    axis: int | None = None,
    chantier: int | None = None,
    organisation: str | None = None,
    status: str | None = None,
    public: str | None = None,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {ACTION_COLUMNS} FROM actions a JOIN chantiers c ON c.number = a.chantier
            WHERE ($1::int IS NULL OR c.axis = $1) AND ($2::int IS NULL OR a.chantier = $2)
              AND ($3::text IS NULL OR a.lead = $3 OR $3 = ANY(a.partners))
              AND ($4::text IS NULL OR a.status = $4) AND ($5::text IS NULL OR $5 = ANY(a.publics))
            ORDER BY a.number""",
        axis,
        chantier,
        organisation,
        status,
        public,
    )


async def update_status(conn: asyncpg.Connection, number: int, status: str, traffic_light: str | None, note: str) -> None:
    await conn.execute(
        """UPDATE actions SET status = $2, traffic_light = $3, status_note = $4, version = version + 1, updated_at = now()
           WHERE number = $1""",
        number,
        status,
        traffic_light,
        note,
    )


async def add_history(conn: asyncpg.Connection, number: int, envelope: Envelope, changes: list[dict[str, Any]]) -> None:
    """Append an event about an action to its history (kept forever; the annual report folds it)."""
    await conn.execute(
        """INSERT INTO action_history (action_number, event_id, event_type, changes, actor, occurred_at, data)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        number,
        envelope.event_id,
        envelope.event_type,
        changes,
        envelope.actor.model_dump(mode="json"),
        envelope.occurred_at,
        envelope.data,
    )


async def history(conn: asyncpg.Connection | asyncpg.Pool, number: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT event_id, event_type, changes, actor, occurred_at FROM action_history
           WHERE action_number = $1 ORDER BY occurred_at, id""",
        number,
    )


async def lock_indicator(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT i.code, i.action_number, i.name_fr, i.name_nl, i.unit, i.baseline, i.target, i.period, i.current_value
           FROM indicators i WHERE i.code = $1 FOR UPDATE""",
        code,
    )


async def sum_in_year(conn: asyncpg.Connection, code: str, year: int) -> Decimal:
    return await conn.fetchval(  # type: ignore[no-any-return]
        """SELECT coalesce(sum(delta), 0) FROM measurements
           WHERE indicator_code = $1 AND extract(year FROM measured_on) = $2""",
        code,
        year,
    )


async def record_measurement(
    conn: asyncpg.Connection,
    *,
    code: str,
    value: Decimal,
    delta: Decimal,
    measured_on: Any,
    origin: str,
    source: str,
    source_event_id: Any,
    actor: dict[str, Any],
    external_id: str | None = None,
) -> bool:
    """Insert a measurement and move the indicator; False if this source event or external id was
    already counted."""
    inserted = await conn.fetchval(
        """INSERT INTO measurements (indicator_code, value, delta, measured_on, origin, source, source_event_id, actor,
                                     external_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING id""",
        code,
        value,
        delta,
        measured_on,
        origin,
        source,
        source_event_id,
        actor,
        external_id,
    )
    if inserted is None:
        return False
    await conn.execute("UPDATE indicators SET current_value = $2, updated_at = now() WHERE code = $1", code, value)
    return True


async def upsert_indicator(conn: asyncpg.Connection, d: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO indicators (code, action_number, name_fr, name_nl, unit, baseline, target, period, current_value)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6)
           ON CONFLICT (code) DO UPDATE SET name_fr = EXCLUDED.name_fr, name_nl = EXCLUDED.name_nl, unit = EXCLUDED.unit,
               baseline = EXCLUDED.baseline, target = EXCLUDED.target, period = EXCLUDED.period, updated_at = now()""",
        d["code"],
        d["action_number"],
        d["name_fr"],
        d["name_nl"],
        d["unit"],
        d["baseline"],
        d["target"],
        d["period"],
    )


async def get_indicator(conn: asyncpg.Connection | asyncpg.Pool, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT code, action_number, name_fr, name_nl, unit, baseline, target, period, current_value
           FROM indicators WHERE code = $1""",
        code,
    )


async def indicators(conn: asyncpg.Connection | asyncpg.Pool, action_number: int | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT code, action_number, name_fr, name_nl, unit, baseline, target, period, current_value, updated_at
           FROM indicators WHERE ($1::int IS NULL OR action_number = $1) ORDER BY action_number, code""",
        action_number,
    )


async def measurements(conn: asyncpg.Connection | asyncpg.Pool, code: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT external_id, indicator_code, value, delta, measured_on, origin, source, source_event_id, recorded_at
           FROM measurements WHERE ($1::text IS NULL OR indicator_code = $1) ORDER BY id""",
        code,
    )
