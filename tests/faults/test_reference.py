"""The stream with no fault: the reference the other scenarios' times are read against."""

from __future__ import annotations

import time

import pytest

from tests.faults.harness import TIMEOUT_S, ActionsFlow, Stream, produce, report

pytestmark = [pytest.mark.infra, pytest.mark.timeout(TIMEOUT_S)]


async def test_the_stream_without_a_fault(actions_flow: ActionsFlow) -> None:
    started, flow, stream = time.monotonic(), actions_flow, Stream()
    service = flow.process()
    try:
        service.start()
        await service.wait_ready()
        produced = time.monotonic()
        await produce(flow.bootstrap, flow.source_topic, stream.records())
        drain_s = await flow.wait_drained(stream, since=produced)
        outcome = await flow.outcome(stream)
    finally:
        service.stop()
    note = f"drained in {drain_s:.1f} s from the first record produced ({len(stream) / drain_s:.0f} events/s)"
    report(outcome.figures("no fault (reference)", stream, None, time.monotonic() - started, note)).check()
