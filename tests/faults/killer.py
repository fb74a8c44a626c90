"""Run a service with a SIGKILL planted at one point of the runtime (test only).

``python -m tests.faults.killer <service>`` patches the runtime's classes in this process, then
runs ``python -m services.<service>`` as usual. Nothing in ``services/`` knows about it: the
points are wrappers around methods of the unit of work, ``OutboxRelay`` and aiokafka's
consumer. When the point is reached for the ``PASSERELLE_FAULT_KILL_AFTER``-th time the process
writes where it was to ``PASSERELLE_FAULT_KILL_MARK`` (a JSON file the test reads) and sends
itself SIGKILL: no ``finally``, no shutdown hook, no flush, exactly as the kernel would kill it.

Points (``PASSERELLE_FAULT_KILL_AT``):

* ``consumer-before-db-commit`` -- the inbox rows, effects and outbox rows of a record (or of a
  batch's records applied together) are written, their transaction is about to commit.
* ``consumer-after-db-commit`` -- that transaction committed, its offsets are not committed (the
  rest of the batch, if it was applied one record at a time, is not applied either).
* ``consumer-before-offset-commit`` -- a whole batch is applied and committed in the database,
  and the consumer is about to commit its offsets to Kafka.
* ``relay-before-mark-published`` -- the relay's records were sent and acknowledged by the broker
  (acks=all), and the rows are not yet marked published. ``PASSERELLE_FAULT_KILL_EVENT_TYPE``
  counts only rows of that event type.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

POINTS = (
    "consumer-before-db-commit",
    "consumer-after-db-commit",
    "consumer-before-offset-commit",
    "relay-before-mark-published",
)


def die(mark: Path, where: dict[str, Any]) -> None:
    """Say where, then SIGKILL this process (never returns)."""
    mark.write_text(json.dumps(where))
    os.kill(os.getpid(), signal.SIGKILL)


def plant(point: str, after: int, mark: Path, event_type: str | None = None) -> None:
    """Wrap the methods of the point; only the runtime's public seams are used (the unit of work's
    ``claim_inbox``, ``claim_inbox_many``, ``release_inbox_many`` and ``_commit``, aiokafka's
    ``commit``, the relay's ``_record``), so the wrappers
    hold while the consumer itself changes."""
    from aiokafka import AIOKafkaConsumer
    from passerelle_contracts.partners import PARTNER_PREFIX

    from services.runtime.outbox import OutboxRelay
    from services.runtime.uow import PostgresUnitOfWork

    if point not in POINTS:
        raise SystemExit(f"unknown kill point {point!r}; one of {', '.join(POINTS)}")
    counts = {"processed": 0, "sent": 0}
    claimed: dict[int, list[str]] = {}  # id(unit of work) -> the events whose inbox rows it claimed

    claim_inbox: Callable[..., Awaitable[bool]] = PostgresUnitOfWork.claim_inbox
    claim_inbox_many: Callable[..., Awaitable[set[Any]]] = PostgresUnitOfWork.claim_inbox_many
    release_inbox_many: Callable[..., Awaitable[None]] = PostgresUnitOfWork.release_inbox_many
    commit_transaction: Callable[..., Awaitable[None]] = PostgresUnitOfWork._commit
    rollback_transaction: Callable[..., Awaitable[None]] = PostgresUnitOfWork._rollback

    async def claim_and_remember(self: Any, consumer: str, envelope: Any, *args: Any, **kwargs: Any) -> bool:
        first = await claim_inbox(self, consumer, envelope, *args, **kwargs)
        if first:
            claimed.setdefault(id(self), []).append(str(envelope.event_id))
        return first

    async def claim_many_and_remember(self: Any, consumer: str, records: Any) -> set[Any]:
        fresh = await claim_inbox_many(self, consumer, records)
        claimed.setdefault(id(self), []).extend(str(event_id) for event_id in fresh)
        return fresh

    async def release_and_forget(self: Any, consumer: str, event_ids: Any) -> None:
        await release_inbox_many(self, consumer, event_ids)
        released = {str(event_id) for event_id in event_ids}
        claimed[id(self)] = [e for e in claimed.get(id(self), []) if e not in released]

    async def commit_or_die(self: Any) -> None:
        # A consumer's transaction that applied records (it claimed their inbox rows).
        event_ids = claimed.pop(id(self), [])
        applied = len(event_ids)
        if event_ids and point == "consumer-before-db-commit" and counts["processed"] + applied >= after:
            die(mark, {"point": point, "event_id": event_ids[-1], "processed": counts["processed"]})
        await commit_transaction(self)
        if event_ids:
            counts["processed"] += applied
            if point == "consumer-after-db-commit" and counts["processed"] >= after:
                die(mark, {"point": point, "event_id": event_ids[-1], "processed": counts["processed"]})

    setattr(PostgresUnitOfWork, "claim_inbox", claim_and_remember)  # noqa: B010 - methods replaced on purpose
    setattr(PostgresUnitOfWork, "claim_inbox_many", claim_many_and_remember)  # noqa: B010
    setattr(PostgresUnitOfWork, "release_inbox_many", release_and_forget)  # noqa: B010
    setattr(PostgresUnitOfWork, "_commit", commit_or_die)  # noqa: B010

    async def rollback_and_forget(self: Any) -> None:
        # A batch rolled back (one of its records failed): none of its claims stand, and a later
        # unit of work may get the same id().
        claimed.pop(id(self), None)
        await rollback_transaction(self)

    setattr(PostgresUnitOfWork, "_rollback", rollback_and_forget)  # noqa: B010

    if point == "consumer-before-offset-commit":
        commit_offsets: Callable[..., Awaitable[Any]] = AIOKafkaConsumer.commit

        async def commit_offsets_or_die(self: Any, *args: Any, **kwargs: Any) -> Any:
            if counts["processed"] >= after:
                die(mark, {"point": point, "processed": counts["processed"]})
            return await commit_offsets(self, *args, **kwargs)

        setattr(AIOKafkaConsumer, "commit", commit_offsets_or_die)  # noqa: B010

    if point == "relay-before-mark-published":
        record_outcomes: Callable[..., Awaitable[Any]] = OutboxRelay._record

        async def record_or_die(self: OutboxRelay, rows: Any, outcomes: Any, *args: Any, **kwargs: Any) -> Any:
            # The events of the services' topics: a partner topic's copies (same type, their own
            # ids) are sent and re-sent alike, but the flow's outcome reads the internal topic.
            sent = [
                r
                for r in rows
                if r["id"] in outcomes
                and outcomes[r["id"]] is None
                and event_type in (None, r["event_type"])
                and PARTNER_PREFIX not in r["topic"]
            ]
            counts["sent"] += len(sent)
            if sent and counts["sent"] >= after:
                die(
                    mark,
                    {
                        "point": point,
                        "sent_event_ids": [str(r["event_id"]) for r in sent],
                        "sent_rows": [r["id"] for r in sent],
                        "sent": counts["sent"],
                    },
                )
            return await record_outcomes(self, rows, outcomes, *args, **kwargs)

        setattr(OutboxRelay, "_record", record_or_die)  # noqa: B010


def main() -> None:
    service = sys.argv[1]
    plant(
        os.environ["PASSERELLE_FAULT_KILL_AT"],
        int(os.environ["PASSERELLE_FAULT_KILL_AFTER"]),
        Path(os.environ["PASSERELLE_FAULT_KILL_MARK"]),
        os.environ.get("PASSERELLE_FAULT_KILL_EVENT_TYPE") or None,
    )
    sys.argv = [f"services.{service}"]
    runpy.run_module(f"services.{service}", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
