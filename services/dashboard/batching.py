"""Projections applied a batch at a time: their writes queued per table and sent with one
``executemany`` per run of one statement.

A projection writes with one statement per event (``read_models``): applied one by one, a rebuild
of 100,000 events is 100,000-odd round trips, each waiting for the server before the next event is
even parsed. ``TableBatches`` stands in for the connection while a batch of events is projected:
``execute`` queues the statement instead of sending it, and ``flush`` sends the queue.

Why per table, and why that keeps the result
--------------------------------------------
Statements are queued per target table (the ``INSERT INTO``/``UPDATE`` of each), in the order they
were made, and a run of one statement within a table's queue goes with one ``executemany``
(which runs its rows in order). So every table receives exactly the statements it would have
received, in the same order: only statements on *different* tables change order, and those
commute here, because a projection's statement writes one table and reads none (no subquery, no
``INSERT ... SELECT``), and the read models have no foreign keys and no triggers. A statement of
another shape, or a read (``fetch``, ``fetchval``, ``fetchrow``), would break that reasoning, so
the queue is flushed before any read and a statement whose table cannot be named is refused
(``test_batching`` checks every projection's statements against the rule).
"""

from __future__ import annotations

import re
from typing import Any

from services.runtime.db import Executor

WRITTEN_TABLE = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE)\s+([a-z_][a-z0-9_]*)\b", re.IGNORECASE)


class NotBatchable(ValueError):
    """A statement that is not a single-table write: it cannot be queued safely."""


# What would read another table (a subquery, ``UPDATE ... FROM``, ``DELETE ... USING``) or expect
# an answer back (``RETURNING``: the queue answers nothing).
READS_OR_ANSWERS = re.compile(r"\b(SELECT|FROM|USING|RETURNING)\b", re.IGNORECASE)
# ``extract(year FROM day)`` is a function's syntax, not a table read.
EXTRACT_FROM = re.compile(r"\bextract\s*\(\s*\w+\s+FROM\b", re.IGNORECASE)


def table_of(sql: str) -> str:
    """The table a projection's statement writes; ``NotBatchable`` if it is not a plain
    single-table ``INSERT``/``UPDATE`` that reads nothing and returns nothing."""
    found = WRITTEN_TABLE.match(sql)
    if found is None or READS_OR_ANSWERS.search(EXTRACT_FROM.sub("extract(", sql)):
        raise NotBatchable(f"not a single-table write: {sql.strip()[:80]!r}")
    return found.group(1).lower()


class TableBatches:
    """An executor for projections (``read_models.Projection``) that queues their writes; see the
    module docstring. ``flush()`` before the transaction's end; reads flush first."""

    def __init__(self, conn: Executor) -> None:
        self._conn = conn
        self._queues: dict[str, list[tuple[str, list[tuple[Any, ...]]]]] = {}
        self.statements = 0  # queued since the last flush

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        runs = self._queues.setdefault(table_of(query), [])
        if runs and runs[-1][0] == query:
            runs[-1][1].append(args)
        else:
            runs.append((query, [args]))
        self.statements += 1
        return ""

    async def flush(self) -> int:
        """Send the queued statements; returns the round trips it took."""
        trips = 0
        queues, self._queues, self.statements = self._queues, {}, 0
        for runs in queues.values():
            for query, rows in runs:
                await self._conn.executemany(query, rows)
                trips += 1
        return trips

    async def executemany(self, query: str, args: Any, *, timeout: float | None = None) -> None:
        for row in args:
            await self.execute(query, *row)

    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Any]:
        await self.flush()
        return await self._conn.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Any:
        await self.flush()
        return await self._conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any, column: int = 0, timeout: float | None = None) -> Any:
        await self.flush()
        return await self._conn.fetchval(query, *args, column=column)
