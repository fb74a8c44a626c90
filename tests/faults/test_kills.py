"""kill -9 of the actions service at the three moments of a consumer's record that matter, and of
its outbox relay between sending and marking published: nothing lost, nothing applied twice,
every key in order (issue 9, fault suite)."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.faults.harness import FAULT_AT, TIMEOUT_S, ActionsFlow, Stream, produce, query, report

pytestmark = [pytest.mark.infra, pytest.mark.timeout(TIMEOUT_S)]


@pytest.mark.parametrize(
    "point", ["consumer-before-db-commit", "consumer-after-db-commit", "consumer-before-offset-commit"]
)
async def test_a_consumer_killed_at_any_point_of_a_record_loses_nothing_and_applies_nothing_twice(
    actions_flow: ActionsFlow, point: str
) -> None:
    started, flow, stream = time.monotonic(), actions_flow, Stream()
    service = flow.process(kill_at=point, kill_after=FAULT_AT)
    try:
        service.start()
        await service.wait_ready()
        await produce(flow.bootstrap, flow.source_topic, stream.records())
        where = await service.wait_killed(timeout=TIMEOUT_S / 2)
        applied, committed = await flow.measured(), await flow.committed()
        assert applied < len(stream), "the kill came after the stream ended"
        # Where the kill struck, read from the database and the consumer group's offsets.
        if point == "consumer-before-db-commit":
            assert not await flow.in_inbox(where["event_id"]), "the open transaction was committed"
            assert applied == where["processed"]
        else:
            assert committed < applied, "every applied record was already committed: the window was missed"
            if point == "consumer-after-db-commit":
                assert await flow.in_inbox(where["event_id"])
        fault_end = time.monotonic()
        service.start()
        await service.wait_ready()
        recover_s = await flow.wait_drained(stream, since=fault_end)
        outcome = await flow.outcome(stream)
    finally:
        service.stop()
    note = f"killed with {applied} applied, {committed} committed; {service.replays()} replays skipped"
    report(outcome.figures(f"kill -9 {point}", stream, recover_s, time.monotonic() - started, note)).check()


async def test_the_relay_killed_between_send_and_mark_published_loses_nothing_and_duplicates_no_effect(
    actions_flow: ActionsFlow,
) -> None:
    started, flow, stream = time.monotonic(), actions_flow, Stream()
    service = flow.process(
        kill_at="relay-before-mark-published", kill_after=FAULT_AT, kill_event_type="IndicatorMeasured"
    )
    try:
        service.start()
        await service.wait_ready()
        await produce(flow.bootstrap, flow.source_topic, stream.records())
        where = await service.wait_killed(timeout=TIMEOUT_S / 2)
        sent = [uuid.UUID(e) for e in where["sent_event_ids"]]
        unmarked = await query(
            flow.dsn, "SELECT count(*) FROM outbox WHERE event_id = ANY($1) AND published_at IS NULL", sent
        )
        assert unmarked == len(sent), "the rows sent before the kill were marked published: the window was missed"
        applied = await flow.measured()
        assert applied < len(stream), "the kill came after the stream ended"
        fault_end = time.monotonic()
        service.start()
        await service.wait_ready()
        recover_s = await flow.wait_drained(stream, since=fault_end)
        outcome = await flow.outcome(stream)
    finally:
        service.stop()
    assert outcome.resent >= len(sent), "the records sent but not marked were not sent again"
    note = f"killed with {len(sent)} sent, unmarked; {applied} applied"
    report(
        outcome.figures("kill -9 relay-before-mark-published", stream, recover_s, time.monotonic() - started, note)
    ).check()
