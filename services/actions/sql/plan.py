"""The plan: organisations, axes, chantiers, actions, and each action's history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from passerelle_contracts import Envelope

from ..domain import REPORT_EVENT_TYPES, ActionState
from .base import Queries, Row

# Any constant works: it only serialises the seeding of replicas starting together.
SEED_LOCK_KEY = 7_231_118_101

DETAIL_FIELDS = ("title_fr", "title_nl", "lead", "partners", "publics", "weight")


def _readable(reader: int, types: int) -> str:
    """Whether the reader (parameter ``$reader``: an organisation, NULL for every entry) reads a
    history entry ``h`` of action ``a``: a progress report's move (``$types``: the event types of
    ``REPORT_EVENT_TYPES``) only as it reads the report itself (``progress_reports``): approved,
    or of an action it leads or is a partner of."""
    # Only the two parameter numbers are formatted in; the reader and the types are parameters.
    return f"""(${reader}::text IS NULL OR h.event_type <> ALL(${types}::text[]) OR a.lead = ${reader}
        OR ${reader} = ANY(a.partners)
        OR EXISTS (SELECT 1 FROM progress_reports r WHERE r.action_number = h.action_number
                   AND r.id::text = h.data->>'report_id' AND r.status = 'approved'))"""  # noqa: S608


class PlanQueries(Queries):
    async def lock_seed(self) -> None:
        """Held until the transaction ends: replicas starting together load the plan one at a time."""
        await self.db.execute("SELECT pg_advisory_xact_lock($1)", SEED_LOCK_KEY)

    async def load_reference(self, plan: dict[str, Any]) -> list[str]:
        """The plan's organisations (kept up to date), axes and chantiers (added once; a Dutch title
        the seed has is filled in where the stored one is empty, and one already there is kept). A
        code the EPN register keeps is left as the register wrote it: returns those codes of the seed's."""
        codes = [o["code"] for o in plan["organisations"]]
        kept = await self.db.fetch(
            "SELECT code FROM organisations WHERE source = 'register' AND code = ANY($1::text[]) ORDER BY code", codes
        )
        await self.db.executemany(
            """INSERT INTO organisations (code, name, kind, working_group, copil, source) VALUES ($1, $2, $3, $4, $5, 'seed')
               ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
                   working_group = EXCLUDED.working_group, copil = EXCLUDED.copil
               WHERE organisations.source = 'seed'""",
            [(o["code"], o["name"], o["kind"], o["working_group"], o["copil"]) for o in plan["organisations"]],
        )
        await self.db.executemany(
            """INSERT INTO axes (number, title_fr, title_nl) VALUES ($1, $2, $3)
               ON CONFLICT (number) DO UPDATE SET title_nl = EXCLUDED.title_nl
               WHERE axes.title_nl = '' AND EXCLUDED.title_nl <> ''""",
            [(a["number"], a["title_fr"], a["title_nl"]) for a in plan["axes"]],
        )
        await self.db.executemany(
            """INSERT INTO chantiers (number, axis, title_fr, title_nl) VALUES ($1, $2, $3, $4)
               ON CONFLICT (number) DO UPDATE SET title_nl = EXCLUDED.title_nl
               WHERE chantiers.title_nl = '' AND EXCLUDED.title_nl <> ''""",
            [(c["number"], c["axis"], c["title_fr"], c["title_nl"]) for c in plan["chantiers"]],
        )
        return [r["code"] for r in kept]

    async def organisations(self) -> list[Row]:
        rows = await self.db.fetch("SELECT code, name, kind, working_group, copil FROM organisations ORDER BY code")
        return [dict(r) for r in rows]

    async def organisation(self, code: str, *, lock: bool = False) -> Row | None:
        """One organisation with where its row comes from (``source``: seed or register); locked
        until the transaction ends if ``lock`` (none: nothing locked)."""
        query = "SELECT code, name, kind, working_group, copil, source FROM organisations WHERE code = $1"
        row = await self.db.fetchrow(f"{query} FOR UPDATE" if lock else query, code)
        return None if row is None else dict(row)

    async def register_epn(self, code: str, name: str) -> Row | None:
        """The EPN register's EPN: inserted, or renamed if the row is an EPN's (whoever wrote it: the
        register adopts a seeded EPN), from source ``register``; its Working Group and COPIL
        membership stay. None if the code is another kind of organisation (left as it is: the use
        case refuses the event)."""
        row = await self.db.fetchrow(
            """INSERT INTO organisations (code, name, kind, source) VALUES ($1, $2, 'epn', 'register')
               ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, source = 'register'
               WHERE organisations.kind = 'epn'
               RETURNING code, name, kind, working_group, copil, source""",
            code,
            name,
        )
        return None if row is None else dict(row)

    async def unknown_organisations(self, codes: list[str]) -> list[str]:
        """The codes among ``codes`` that are not known organisations, in the order given."""
        rows = await self.db.fetch("SELECT code FROM organisations WHERE code = ANY($1::text[])", codes)
        known = {r["code"] for r in rows}
        return [c for c in codes if c not in known]

    async def axis_of_chantier(self, chantier: int) -> int | None:
        axis: int | None = await self.db.fetchval("SELECT axis FROM chantiers WHERE number = $1", chantier)
        return axis

    # -- actions ------------------------------------------------------------------------------
    async def insert_new_actions(self, actions: list[dict[str, Any]]) -> list[int]:
        """Insert the actions not present yet; return the numbers inserted. Callers hold the seed lock
        (or insert one new action, whose primary key settles a race)."""
        present = {r["number"] for r in await self.db.fetch("SELECT number FROM actions")}
        new = [a for a in actions if a["number"] not in present]
        await self.db.executemany(
            """INSERT INTO actions (number, chantier, title_fr, title_nl, text_fr, lead, partners, publics)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            [
                (
                    a["number"],
                    a["chantier"],
                    a["title_fr"],
                    a["title_nl"],
                    a["text_fr"],
                    a["lead"],
                    a["partners"],
                    a["publics"],
                )
                for a in new
            ],
        )
        return sorted(a["number"] for a in new)

    async def set_weight(self, number: int, weight: Decimal) -> None:
        """The roll-up weight of an action just registered (not a change: no new version)."""
        await self.db.execute("UPDATE actions SET weight = $2 WHERE number = $1", number, weight)

    async def get_action(self, number: int) -> Row | None:
        row = await self.db.fetchrow(
            """SELECT a.number, a.chantier, c.axis, a.title_fr, a.title_nl, a.text_fr, a.lead, a.partners, a.publics,
                      a.status, a.traffic_light, a.status_note, a.progress, a.progress_mode, a.weight, a.version,
                      a.updated_at
               FROM actions a JOIN chantiers c ON c.number = a.chantier WHERE a.number = $1""",
            number,
        )
        return None if row is None else dict(row)

    async def lock_action(self, number: int) -> ActionState | None:
        """Lock the action's row for the transaction: writes to one action (and their outbox rows) serialise."""
        row = await self.db.fetchrow(
            "SELECT number, lead, status, traffic_light, status_note FROM actions WHERE number = $1 FOR UPDATE", number
        )
        return None if row is None else ActionState(**dict(row))

    async def list_actions(
        self,
        *,
        axis: int | None = None,
        chantier: int | None = None,
        organisation: str | None = None,
        status: str | None = None,
        public: str | None = None,
    ) -> list[Row]:
        """Actions by number; ``organisation`` matches the lead or a partner."""
        rows = await self.db.fetch(
            """SELECT a.number, a.chantier, c.axis, a.title_fr, a.title_nl, a.text_fr, a.lead, a.partners, a.publics,
                      a.status, a.traffic_light, a.status_note, a.progress, a.progress_mode, a.weight, a.version,
                      a.updated_at
               FROM actions a JOIN chantiers c ON c.number = a.chantier
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
        return [dict(r) for r in rows]

    async def update_status(self, number: int, status: str, traffic_light: str | None, note: str) -> None:
        await self.db.execute(
            """UPDATE actions SET status = $2, traffic_light = $3, status_note = $4, version = version + 1,
                   updated_at = now()
               WHERE number = $1""",
            number,
            status,
            traffic_light,
            note,
        )

    async def set_details(self, number: int, values: dict[str, Any]) -> None:
        """Set the ``DETAIL_FIELDS`` present in ``values``."""
        columns = [f for f in DETAIL_FIELDS if f in values]
        assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=2))
        await self.db.execute(
            # The column names come from DETAIL_FIELDS, never from the caller; the values are parameters.
            f"UPDATE actions SET {assignments}, version = version + 1, updated_at = now() WHERE number = $1",  # noqa: S608
            number,
            *(values[c] for c in columns),
        )

    async def set_progress(self, number: int, progress: Decimal, mode: str) -> None:
        """Progress is kept with two decimals (numeric(5, 2)): more are rounded half away from zero."""
        await self.db.execute(
            """UPDATE actions SET progress = $2, progress_mode = $3, version = version + 1, updated_at = now()
               WHERE number = $1""",
            number,
            progress,
            mode,
        )

    # -- history ------------------------------------------------------------------------------
    async def add_history(self, number: int, envelope: Envelope, changes: list[dict[str, Any]]) -> None:
        """Append an event about an action to its history (kept forever; the annual report folds it)."""
        await self.add_history_many([(number, envelope, changes)])

    async def add_history_many(self, entries: list[tuple[int, Envelope, list[dict[str, Any]]]]) -> None:
        """``add_history`` for many events, in one statement."""
        await self.db.executemany(
            """INSERT INTO action_history (action_number, event_id, event_type, changes, actor, occurred_at, data)
               VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            [
                (
                    number,
                    envelope.event_id,
                    envelope.event_type,
                    changes,
                    envelope.actor.model_dump(mode="json"),
                    envelope.occurred_at,
                    envelope.data,
                )
                for number, envelope, changes in entries
            ],
        )

    async def history(self, number: int, reader: str | None = None) -> list[Row]:
        """An action's history, in time order. ``reader``: an organisation, which reads a progress
        report's moves only as it reads the report (approved, or of an action it leads or is a
        partner of); None: every entry."""
        rows = await self.db.fetch(
            # The fragment is ours, with numbered parameters; no value is formatted into the text.
            f"""SELECT h.event_id, h.event_type, h.changes, h.actor, h.occurred_at
               FROM action_history h JOIN actions a ON a.number = h.action_number
               WHERE h.action_number = $1 AND {_readable(2, 3)}
               ORDER BY h.occurred_at, h.id""",  # noqa: S608
            number,
            reader,
            sorted(REPORT_EVENT_TYPES),
        )
        return [dict(r) for r in rows]

    async def changes_between(
        self, since: datetime, until: datetime | None = None, reader: str | None = None
    ) -> list[Row]:
        """Every history entry in [since, until), with its action's titles, by action then time;
        ``reader`` as for ``history``."""
        rows = await self.db.fetch(
            # The fragment is ours, with numbered parameters; no value is formatted into the text.
            f"""SELECT h.action_number, a.title_fr, a.title_nl, h.event_id, h.event_type, h.changes, h.actor,
                      h.occurred_at
               FROM action_history h JOIN actions a ON a.number = h.action_number
               WHERE h.occurred_at >= $1 AND ($2::timestamptz IS NULL OR h.occurred_at < $2) AND {_readable(3, 4)}
               ORDER BY h.action_number, h.occurred_at, h.id""",  # noqa: S608
            since,
            until,
            reader,
            sorted(REPORT_EVENT_TYPES),
        )
        return [dict(r) for r in rows]
