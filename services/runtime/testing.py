"""Fakes for unit tests: a pool and connection that implement what the inbox and the consumer use.

The integration suite runs the same consumer against PostgreSQL, so the fakes cannot drift far.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


class FakeConnection:
    def __init__(self, pool: FakePool) -> None:
        self._pool = pool
        self.pending: set[tuple[str, str]] = set()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self.pending = set()
        try:
            yield
        except BaseException:
            self.pending.clear()  # rolled back: the inbox row goes with the effects
            raise
        self._pool.inbox |= self.pending

    async def fetchval(self, sql: str, *args: Any) -> Any:
        if sql.lstrip().startswith("INSERT INTO inbox"):
            key = (args[0], str(args[1]))
            if key in self._pool.inbox or key in self.pending:
                return None
            self.pending.add(key)
            return True
        raise NotImplementedError(sql)


class FakePool:
    def __init__(self) -> None:
        self.inbox: set[tuple[str, str]] = set()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        yield FakeConnection(self)
