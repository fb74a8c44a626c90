"""Libraries' repeated lines are folded: during a broker outage aiokafka logs the same error
thousands of times a second (about 8,500 lines a second in the fault suite's broker restart), which
would bury everything else and fill a disk in a long outage."""

from __future__ import annotations

import io
import logging

from services.runtime.logs import RepeatFilter


def a_logger(clock: list[float]) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(RepeatFilter(window_s=30, clock=lambda: clock[0]))
    logger = logging.getLogger(f"test.repeats.{id(out)}")
    logger.propagate = False
    logger.addHandler(handler)
    return logger, out


def test_a_line_repeated_within_its_window_is_written_once_then_counted() -> None:
    clock = [100.0]
    logger, out = a_logger(clock)
    for n in range(1000):
        logger.error("Unable connect to node with id %s: %s", 1, f"attempt {n}")
    logger.warning("another line entirely")
    assert out.getvalue().splitlines() == [
        f"ERROR {logger.name} Unable connect to node with id 1: attempt 0",
        f"WARNING {logger.name} another line entirely",
    ]
    clock[0] += 31
    logger.error("Unable connect to node with id %s: %s", 1, "attempt 1000")
    assert (
        out.getvalue().splitlines()[-1].endswith("attempt 1000 (999 similar lines in the last 31 s were not written)")
    )
    clock[0] += 31
    logger.error("Unable connect to node with id %s: %s", 1, "back once")
    assert out.getvalue().splitlines()[-1].endswith("back once"), "nothing was folded meanwhile"
