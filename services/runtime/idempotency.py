"""Idempotency-Key: the first reply to a command, kept per organisation, scope and key.

See ``uow.once`` for the behaviour; this module is its SQL.
"""

from __future__ import annotations

from typing import Any

from .db import Executor


async def claim(executor: Executor, organisation: str, scope: str, key: str, digest: str) -> tuple[str, Any] | None:
    """Take the key in the caller's transaction, or return the first request's (digest, reply).

    ``ON CONFLICT DO NOTHING`` waits for a concurrent transaction holding the same key: once it
    commits, the conflict is reported and its reply is read; if it rolls back, this insert wins.
    """
    taken = await executor.fetchval(
        """INSERT INTO idempotency_keys (organisation, scope, key, request_sha256) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING true""",
        organisation,
        scope,
        key,
        digest,
    )
    if taken:
        return None
    row = await executor.fetchrow(
        "SELECT request_sha256, reply FROM idempotency_keys WHERE organisation = $1 AND scope = $2 AND key = $3",
        organisation,
        scope,
        key,
    )
    assert row is not None  # the conflict means the row exists and is committed
    return row["request_sha256"], row["reply"]


async def store(executor: Executor, organisation: str, scope: str, key: str, reply: Any) -> None:
    await executor.execute(
        "UPDATE idempotency_keys SET reply = $4 WHERE organisation = $1 AND scope = $2 AND key = $3",
        organisation,
        scope,
        key,
        reply,
    )
