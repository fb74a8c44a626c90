"""What the repository's parts share: the executor they run on, and how an actor is stored."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from passerelle_contracts import Actor

from services.runtime.db import Executor

Row = dict[str, Any]


class Copier(Protocol):
    """COPY, which asyncpg's connections and pool have and the runtime's ``Executor`` leaves out:
    the bulk writes (intake, a wiping station's log) cast their executor to it."""

    async def copy_records_to_table(
        self, table_name: str, *, records: Iterable[Sequence[Any]], columns: Sequence[str] | None = None
    ) -> str: ...


class Queries:
    def __init__(self, executor: Executor) -> None:
        self.db = executor


def actor_json(actor: Actor) -> dict[str, Any]:
    """An actor as the ``actor`` / ``recorded_by`` jsonb columns keep it."""
    return actor.model_dump(mode="json")


def visible(organisation: str, device: str = "") -> str:
    """Who reads a device, as a condition on the row of ``device`` (a table alias, or none) for the
    organisation in the query parameter ``organisation`` (``$n``; NULL: everybody, as the
    Coordination and operators read): its donor, its holder now, and the receiving side of a
    transfer or a handover still open, not the organisations that held it before.

    The open transfers' and handovers' devices are an uncorrelated subquery: PostgreSQL reads them
    once per query (a hashed semi-join, through the partial indexes of migration 0005), not once per
    device. Built from constants only: no caller's text ever goes into it."""
    if not re.fullmatch(r"\$[1-9][0-9]?", organisation) or not re.fullmatch(r"[a-z]?", device):
        raise ValueError(f"visible() takes a query parameter and a table alias, not {organisation!r}, {device!r}")
    o, d = organisation, f"{device}." if device else ""
    return f"""({o}::text IS NULL OR {d}donor = {o} OR {d}custodian = {o}
        OR {d}id IN (SELECT unnest(t.device_ids) FROM transfers t WHERE t.to_org = {o} AND t.status = 'proposed'
                     UNION ALL
                     SELECT unnest(x.device_ids) FROM handovers x
                     WHERE x.recipient = {o} AND x.acknowledged_at IS NULL AND x.cancelled_at IS NULL))"""  # noqa: S608
