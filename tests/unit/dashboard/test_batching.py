"""The rebuild queues the projections' writes per table (``services.dashboard.batching``), which
keeps their result only if each statement writes one table and reads none: every projection's
statements are checked against that rule, and the queue against its order."""

from __future__ import annotations

from typing import Any, cast

import pytest

from services.dashboard.batching import NotBatchable, TableBatches, table_of
from services.dashboard.projector import PROJECTIONS
from services.runtime.db import Executor
from tests.integration.dashboard.test_projections_idempotent import every_story


class Recording:
    """A connection that notes the statements it is sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[tuple[Any, ...]]]] = []

    async def executemany(self, query: str, args: Any, *, timeout: float | None = None) -> None:
        self.sent.append((query, list(args)))

    async def fetchval(self, query: str, *args: Any, column: int = 0, timeout: float | None = None) -> Any:
        self.sent.append((query, [args]))
        return 1


async def test_every_projection_of_the_story_writes_single_tables_that_the_queue_can_name() -> None:
    recording = Recording()
    queued = TableBatches(cast(Executor, recording))  # what the queue uses of a connection
    story = every_story()
    for envelope, data in story:
        for projection in PROJECTIONS.get(envelope.event_type, ()):
            await projection(queued, envelope, data)  # NotBatchable if a statement breaks the rule
    statements = queued.statements
    trips = await queued.flush()
    assert statements >= 20 and trips < statements, "runs of one statement go together"
    assert sum(len(rows) for _, rows in recording.sent) == statements, "every write sent once"


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO t (a) SELECT a FROM u",
        "DELETE FROM t WHERE a = $1",
        "UPDATE t SET a = (SELECT max(a) FROM u)",
        "SELECT pg_notify($1, $2)",
        "UPDATE t SET a = u.a FROM u WHERE u.id = t.id",
        "INSERT INTO t (a) VALUES ($1) RETURNING id",
    ],
)
def test_a_statement_that_reads_or_is_not_an_insert_or_update_is_refused(sql: str) -> None:
    with pytest.raises(NotBatchable):
        table_of(sql)


async def test_each_table_receives_its_statements_in_their_order_and_a_read_sends_the_queue_first() -> None:
    recording = Recording()
    queued = TableBatches(cast(Executor, recording))
    await queued.execute("INSERT INTO a (x) VALUES ($1)", 1)
    await queued.execute("UPDATE b SET x = $1", 2)
    await queued.execute("INSERT INTO a (x) VALUES ($1)", 3)
    await queued.execute("UPDATE a SET x = $1", 4)
    await queued.execute("INSERT INTO a (x) VALUES ($1)", 5)
    assert await queued.fetchval("SELECT 1") == 1
    assert recording.sent == [
        ("INSERT INTO a (x) VALUES ($1)", [(1,), (3,)]),
        ("UPDATE a SET x = $1", [(4,)]),
        ("INSERT INTO a (x) VALUES ($1)", [(5,)]),
        ("UPDATE b SET x = $1", [(2,)]),
        ("SELECT 1", [()]),
    ]


def test_extract_from_is_a_function_not_a_read() -> None:
    assert table_of("UPDATE t SET y = $2 WHERE extract(year FROM day) = $1") == "t"
