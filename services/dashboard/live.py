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
PING_S = 15.0  # the listening connection is checked this often: a half-open one says nothing
PING_TIMEOUT_S = 5.0
MAX_STREAMS_PER_KEY = 8  # one person's tabs; a key cannot take every slot from the others


class Hub:
    def __init__(self, dsn: str, max_streams: int, max_per_key: int = MAX_STREAMS_PER_KEY) -> None:
        self._dsn = dsn
        self._max = max_streams
        self._max_per_key = max_per_key
        self._queues: dict[asyncio.Queue[int | None], str] = {}
        self.listening = asyncio.Event()

    @property
    def streams(self) -> int:
        return len(self._queues)

    def refusal(self, key_id: str) -> str | None:
        """Why one more stream of ``key_id`` is refused now, or None."""
        if len(self._queues) >= self._max:
            return "too many browsers follow the live updates"
        if sum(1 for owner in self._queues.values() if owner == key_id) >= self._max_per_key:
            return f"this key follows the live updates in {self._max_per_key} pages already"
        return None

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
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), timeout=PING_S)
                    if not lost.is_set():  # a connection that no longer answers is closed and made again
                        await conn.fetchval("SELECT 1", timeout=PING_TIMEOUT_S)
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
            except asyncio.QueueFull:  # fallen behind: told to reload at once, and forgotten
                self._queues.pop(queue, None)
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(None)

    @contextlib.asynccontextmanager
    async def subscribe(self, key_id: str) -> AsyncIterator[asyncio.Queue[int | None]]:
        """A queue of the positions applied from now on (None: reload) for one stream of ``key_id``."""
        queue: asyncio.Queue[int | None] = asyncio.Queue(QUEUE_SIZE)
        self._queues[queue] = key_id
        try:
            yield queue
        finally:
            self._queues.pop(queue, None)
