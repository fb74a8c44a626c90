"""Poison records mixed into the stream, in the middle of keys whose events must stay in order:
each is dead-lettered exactly once with its reason, and every good event is applied."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import Any

import pytest

from tests.faults.harness import EXAMPLE, TIMEOUT_S, ActionsFlow, Record, Stream, produce, report
from tests.support import read_topic

pytestmark = [pytest.mark.infra, pytest.mark.timeout(TIMEOUT_S)]

# The producer's and the topic's limit is 1 MiB (max.request.size 1048576, max.message.bytes
# 1048588): the oversized record is just under it, so its dead letter, which adds headers, is not.
OVERSIZED_BYTES = 1_048_400


def envelope(**changes: Any) -> dict[str, Any]:
    event_id = str(uuid.uuid4())
    return {**EXAMPLE, "event_id": event_id, "correlation_id": event_id, **changes}


def poison() -> dict[str, tuple[bytes, str | None]]:
    """Kind -> (value, the dead-letter reason expected; None: not dead-lettered)."""
    invalid = {**EXAMPLE["data"], "total_devices": 0}
    del invalid["delivery_id"]
    oversized = json.dumps(envelope(data={**invalid, "recipient": ""}))
    padding = OVERSIZED_BYTES - len(oversized)
    return {
        "not JSON": (b"\x00\xffnot json {", "invalid-envelope"),
        "bad envelope": (json.dumps({"event_type": "DevicesDelivered", "data": {}}).encode(), "invalid-envelope"),
        "unknown type": (json.dumps(envelope(event_version=99)).encode(), "invalid-data"),
        "invalid payload": (json.dumps(envelope(data=invalid)).encode(), "invalid-data"),
        "oversized": (json.dumps(envelope(data={**invalid, "recipient": "x" * padding})).encode(), "invalid-data"),
        # A type no contract names: the consumer's documented policy is to ignore event types it
        # has no handler for (a topic carries many; a producer may add one), not to dead-letter them.
        "unregistered type": (json.dumps(envelope(event_type="NoSuchEvent")).encode(), None),
    }


async def test_poison_records_are_dead_lettered_once_with_their_reason_and_every_good_event_is_applied(
    actions_flow: ActionsFlow,
) -> None:
    started, flow, stream = time.monotonic(), actions_flow, Stream()
    kinds = poison()
    records: list[Record] = stream.records()
    for n, (kind, (value, _)) in enumerate(kinds.items()):
        at = (n + 1) * len(records) // (len(kinds) + 1)
        key = records[at][0]  # in the middle of a key's ordered events
        records.insert(at, (key, value, [("x-fault-poison", kind.encode())]))
    assert len(kinds["oversized"][0]) == OVERSIZED_BYTES
    service = flow.process()
    try:
        service.start()
        await service.wait_ready()
        await produce(flow.bootstrap, flow.source_topic, records)
        drain_s = await flow.wait_drained(stream, since=started)
        outcome = await flow.outcome(stream)
        letters = await read_topic(flow.bootstrap, flow.source_topic + ".dlq", timeout=30)
    finally:
        service.stop()

    found: Counter[str] = Counter()
    reasons: dict[str, str] = {}
    dropped = ""
    for letter in letters:
        headers = {k: bytes(v).decode("utf-8", "replace") for k, v in letter.headers}
        kind = headers.get("x-fault-poison", f"a good event ({headers.get('event_id')})")
        found[kind] += 1
        reasons[kind] = headers.get("x-dlq-reason", "")
        if kind == "oversized":
            dropped = "value dropped" if "x-dlq-value-dropped" in headers else f"value kept ({len(letter.value)} B)"
    expected = {kind: reason for kind, (_, reason) in kinds.items() if reason is not None}
    assert reasons == expected, f"dead letters: {dict(found)}, reasons {reasons}"
    assert set(found.values()) == {1}, f"dead-lettered more than once: {dict(found)}"

    figures = outcome.figures(
        "poison records (5 kinds + 1 ignored)",
        stream,
        None,
        time.monotonic() - started,
        f"{len(letters)} dead letters, one per kind, reasons as expected; oversized: {dropped}; drained in {drain_s:.1f} s",
    )
    figures.lost += len(set(expected) - set(found))
    figures.duplicated += sum(n - 1 for n in found.values())
    report(figures).check()
