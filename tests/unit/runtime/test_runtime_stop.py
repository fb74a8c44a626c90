"""A service's stop is bounded: a background task that does not end when cancelled (a library
that swallows the cancellation, a loop that catches too much) is named in the log and left
behind, rather than hanging the shutdown, and with it a deployment or a test run."""

from __future__ import annotations

import asyncio

import pytest

from services.funding.app import create_app
from services.runtime import service


async def test_a_task_that_ignores_its_cancellation_does_not_hang_the_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "STOP_TIMEOUT_S", 0.5)
    runtime = create_app().state.runtime  # built, not started: no broker or database to stop

    released = asyncio.Event()

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if released.is_set():  # the test lets it go at the end
                    raise

    await runtime._spawn(stubborn, "stubborn")  # what start() does for runtime.background()
    stop = asyncio.create_task(runtime.stop())
    try:
        stopped, _ = await asyncio.wait({stop}, timeout=5)
        assert stopped == {stop}, "the stop ended although a task never did"
    finally:
        released.set()
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()
