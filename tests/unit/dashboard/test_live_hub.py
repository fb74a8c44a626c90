"""The live hub hands each stream the positions applied, bounds how many streams a key may hold,
and tells a stream that fell behind to reload rather than letting it grow or slow the others."""

from __future__ import annotations

import pytest

from services.dashboard import live
from services.dashboard.live import Hub


async def test_every_stream_hears_of_every_position() -> None:
    hub = Hub("postgresql://unused", max_streams=10)
    async with hub.subscribe("k1") as first, hub.subscribe("k2") as second:
        hub._notified(None, 0, live.CHANNEL, "41")
        hub._notified(None, 0, live.CHANNEL, "not a position")
        assert (first.get_nowait(), second.get_nowait()) == (41, 41)
        assert first.empty() and second.empty()
    assert hub.streams == 0, "a stream that ends gives its slot back"


async def test_a_key_may_hold_only_so_many_streams_and_the_hub_only_so_many_in_all() -> None:
    hub = Hub("postgresql://unused", max_streams=3, max_per_key=2)
    async with hub.subscribe("k1"), hub.subscribe("k1"):
        assert hub.refusal("k1") is not None
        assert hub.refusal("k2") is None
        async with hub.subscribe("k2"):
            refused = hub.refusal("k3")
            assert refused is not None and "too many" in refused


async def test_a_stream_that_falls_behind_is_told_to_reload_and_let_go(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "QUEUE_SIZE", 2)
    hub = Hub("postgresql://unused", max_streams=10)
    async with hub.subscribe("slow") as slow:
        for position in (1, 2, 3):
            hub._notified(None, 0, live.CHANNEL, str(position))
        assert hub.streams == 0, "forgotten: it hears of nothing more"
        assert [slow.get_nowait() for _ in range(slow.qsize())] == [None], "nothing more to send: a reload"
