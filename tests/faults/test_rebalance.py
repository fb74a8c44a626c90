"""Two replicas of the actions service in one consumer group: the second joins while the first is
in the middle of the stream (a rebalance under a batch in progress), then the first stops and
the second takes its partitions over. Both share the database, as replicas do."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.faults.harness import TIMEOUT_S, ActionsFlow, Stream, produce, report, wait_for

pytestmark = [pytest.mark.infra, pytest.mark.timeout(TIMEOUT_S)]


async def test_a_consumer_joining_and_one_leaving_mid_stream_lose_nothing_and_apply_nothing_twice(
    actions_flow: ActionsFlow,
) -> None:
    started, flow, stream = time.monotonic(), actions_flow, Stream()
    first, second = flow.process("actions-1"), flow.process("actions-2")
    n = len(stream)
    producing: asyncio.Task[None] | None = None
    try:
        first.start()
        await first.wait_ready()
        # Spread over some seconds: the stream still flows when the second consumer is ready.
        producing = asyncio.create_task(
            produce(flow.bootstrap, flow.source_topic, stream.records(), spread_s=max(10.0, n / 250))
        )
        await wait_for(lambda: flow.at_least(max(1, n // 10)), timeout=TIMEOUT_S / 2, what="the first consumer busy")
        second.start()
        await second.wait_ready()
        members = await wait_for(flow.stable_members, timeout=60, what="the group stable again")
        joined_with = await flow.measured()
        # The first leaves while both are consuming: its partitions go to the second mid-batch.
        await wait_for(
            lambda: flow.at_least(joined_with + max(1, (n - joined_with) // 3)),
            timeout=TIMEOUT_S / 2,
            what="both consumers busy",
        )
        left_with = await flow.measured()
        await asyncio.to_thread(first.stop)
        await producing  # the backlog is drained once the stream has ended, too
        fault_end = time.monotonic()
        recover_s = await flow.wait_drained(stream, since=fault_end)
        outcome = await flow.outcome(stream)
    finally:
        if producing is not None:
            producing.cancel()
        first.stop()
        second.stop()
    assert members == 2, f"the group had {members} members after the second joined"
    assert left_with < n, "the first consumer left after the stream ended"
    note = (
        f"2nd joined with {joined_with} applied, 1st stopped with {left_with}; "
        f"{first.replays() + second.replays()} replays skipped"
    )
    report(outcome.figures("rebalance: join, then leave", stream, recover_s, time.monotonic() - started, note)).check()
