"""Prometheus metrics of one service process, served at ``GET /metrics`` (prometheus-client).

Each ``Runtime`` has a registry of its own rather than the library's global one: tests run
several services in one process, and a metric registered twice in one registry is an error.

Counters move where things happen (the consumer counts each record's outcome and the time its
handler took, each dead letter and each batch cut short at its deadline); gauges that describe
state kept elsewhere (the outbox backlog in PostgreSQL, a service's e-mails by status) are
refreshed when Prometheus scrapes, by the hooks registered with ``on_scrape``, so a scrape costs
a few queries and nothing runs when nobody asks. The consumer lag is both: the consumer sets it
as it handles records, and refreshes it at scrape against aiokafka's latest high-water marks
(no query: aiokafka keeps them from its fetches).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

ScrapeHook = Callable[[], Awaitable[None]]

# Handler durations: from a cached read (ms) to a slow report rendering (seconds).
DURATION_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self._hooks: list[ScrapeHook] = []
        labels = {"service": service}
        self.consumed = Counter(
            "passerelle_events_consumed",
            "Records a consumer handled, by event type and outcome "
            "(processed, duplicate, ignored, dead-lettered, dead-lettered-before, redeliver).",
            ["consumer", "event_type", "outcome"],
            registry=self.registry,
        ).labels  # called with the three label values
        self.handler_seconds = Histogram(
            "passerelle_handler_duration_seconds",
            "Time to handle one record, retries included.",
            ["consumer", "event_type"],
            buckets=DURATION_BUCKETS_S,
            registry=self.registry,
        ).labels
        self.dead_letters = Counter(
            "passerelle_dead_letters",
            "Records written to a dead-letter topic, by original topic and reason.",
            ["topic", "reason"],
            registry=self.registry,
        ).labels
        self.batches_cut_short = Counter(
            "passerelle_consumer_batches_cut_short",
            "Batches a consumer stopped at their deadline (half of max.poll.interval.ms); "
            "the rest of each was delivered again.",
            ["consumer"],
            registry=self.registry,
        ).labels
        self.batches_applied_alone = Counter(
            "passerelle_consumer_batches_applied_alone",
            "Batches whose transaction failed, whose records were then applied one transaction each "
            "(one of them failed, or a transaction conflict).",
            ["consumer"],
            registry=self.registry,
        ).labels
        # Not ``.labels``: the consumer also removes the partitions it no longer holds.
        self.consumer_lag = Gauge(
            "passerelle_consumer_lag",
            "Records between the next one a consumer will handle and the end of the partition "
            "(its high-water mark), for the partitions this process holds.",
            ["consumer", "topic", "partition"],
            registry=self.registry,
        )
        self.events_published = Counter(
            "passerelle_events_published",
            "Outbox rows the relay of this process tried, by event type and outcome (published; failed: "
            "retried later; parked: refused for good, held for an operator).",
            ["event_type", "outcome"],
            registry=self.registry,
        ).labels
        self.published = Gauge(
            "passerelle_outbox_published_since_start",
            "Events this process's relay published since it started.",
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "passerelle_outbox_pending", "Outbox rows not published yet.", registry=self.registry
        )
        self.outbox_oldest_age_s = Gauge(
            "passerelle_outbox_oldest_age_seconds",
            "Age of the oldest unpublished outbox row (0 when none).",
            registry=self.registry,
        )
        self.outbox_parked = Gauge(
            "passerelle_outbox_parked",
            "Outbox rows the broker refused for good, waiting for an operator.",
            registry=self.registry,
        )
        self.relay_leader: Gauge | None = Gauge(
            "passerelle_outbox_relay_leader",
            "1 if this process's relay publishes for its database.",
            registry=self.registry,
        )
        Gauge("passerelle_service_info", "The service this process runs.", list(labels), registry=self.registry).labels(
            **labels
        ).set(1)

    def without_relay(self) -> None:
        """A service that publishes nothing (its units of work never emit) runs no relay: it
        exports no relay leader, which an alert would read as "no replica publishes"."""
        if self.relay_leader is not None:
            self.registry.unregister(self.relay_leader)
            self.relay_leader = None

    def gauge(self, name: str, documentation: str, labels: list[str]) -> Gauge:
        """A service's own gauge in this registry (refresh it from an ``on_scrape`` hook)."""
        return Gauge(name, documentation, labels, registry=self.registry)

    def on_scrape(self, hook: ScrapeHook) -> None:
        self._hooks.append(hook)

    async def render(self) -> bytes:
        """Refresh the gauges, then the text exposition format."""
        for hook in self._hooks:
            await hook()
        return generate_latest(self.registry)
