"""structlog, configured once: JSON when not on a terminal, readable on one.

Message context (event_id, event_type, correlation_id, causation_id) is bound in contextvars
by the consumer, so every line logged while a message is handled carries it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

import structlog
from structlog.typing import FilteringBoundLogger


def configure_logging(service: str, level: str = "INFO", json: bool | None = None) -> None:
    if json is None:
        json = not sys.stderr.isatty()
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: structlog.types.Processor
    if json:
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries (aiokafka, uvicorn, faststream) log through the standard library: keep their
    # warnings, in the same stream, each repeated line once per window (RepeatFilter).
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RepeatFilter) for f in handler.filters):
            handler.addFilter(RepeatFilter())


class RepeatFilter(logging.Filter):
    """Write a library's line once per ``window_s`` and count the repeats in the next one.

    While the broker is away, aiokafka logs "Unable connect to node …" and "Unable to update
    metadata …" in a loop without backoff: thousands of lines a second (the fault suite measured
    236,000 in a 28 s outage), which bury every other line and, over a long outage, fill a disk.
    A line is "the same" when its logger, level and message template (before its arguments) are;
    the first one of a window is written whole, and the first one after it says how many were
    left out."""

    def __init__(self, window_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._window_s = window_s
        self._clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}  # -> (window start, lines left out)

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        started, left_out = self._seen.get(key, (float("-inf"), 0))  # never seen: a window long gone
        if now - started < self._window_s:
            self._seen[key] = (started, left_out + 1)
            return False
        if left_out:
            record.msg = f"{record.msg} ({left_out} similar lines in the last {now - started:.0f} s were not written)"
        if len(self._seen) > 1000:  # templates are few; never let the table grow without bound
            self._seen.clear()
        self._seen[key] = (now, 0)
        return True


def get_logger(name: str | None = None) -> FilteringBoundLogger:
    """A logger bound lazily to the configuration above (``make_filtering_bound_logger``; also
    structlog's default before ``configure_logging`` runs)."""
    logger: FilteringBoundLogger = structlog.get_logger(name)  # structlog types it Any
    return logger
