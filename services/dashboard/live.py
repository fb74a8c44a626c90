"""Live updates: PostgreSQL's notifications of new feed rows, fanned out to the browsers.

``projector.project`` calls ``pg_notify`` in the transaction that applies an event, so a
notification arrives only after the figures that show the event are committed. One connection of
this process LISTENs; each browser's stream (``GET /live``, Server-Sent Events) has a bounded
queue of positions. Why positions and not the events: a stream reads the rows itself, through the
same filter as the feed page (its viewer's role decides what it may see), and a browser that falls
behind (a full queue) is told to reload rather than slowing the others or growing memory.

Several replicas of the dashboard each listen on their own connection: every replica's browsers
hear of every event, whichever replica's consumer applied it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from services.runtime.logs import get_logger

from .projector import CHANNEL

log = get_logger(__name__)

QUEUE_SIZE = 1000  # positions a stream may be behind before it is told to reload
RECONNECT_S = 1.0


class Full(Exception):
    """Too many browsers follow the live updates already."""


class Hub:
    def __init__(self, dsn: str, max_streams: int) -> None:
        self._dsn = dsn
        self._max = max_streams
        self._queues: set[asyncio.Queue[int | None]] = set()
        self.listening = asyncio.Event()

    @property
    def streams(self) -> int:
        return len(self._queues)

    async def run(self) -> None:
        """LISTEN for the life of the process, connecting again after a loss. After a reconnection
        the streams are told to reload (None): notifications sent while away are lost."""
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._notified)
                if self.listening.is_set():
                    self._broadcast(None)
                self.listening.set()
                await lost.wait()
                log.warning("live updates: the database connection was lost; connecting again")
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - logged; the loop connects again
                log.warning("live updates: cannot listen", error=repr(error))
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            await asyncio.sleep(RECONNECT_S)

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        try:
            position = int(str(payload))
        except ValueError:
            return
        self._broadcast(position)

    def _broadcast(self, item: int | None) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                self._queues.discard(queue)
                with contextlib.suppress(asyncio.QueueFull):
                    queue.get_nowait()
                    queue.put_nowait(None)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[int | None]]:
        if len(self._queues) >= self._max:
            raise Full
        queue: asyncio.Queue[int | None] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)
