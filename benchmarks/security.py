"""What TLS and SCRAM cost: the same producer and consumer against two brokers side by side, one
secure as every Passerelle broker is, one in plain text (``PASSERELLE_KAFKA_LISTENER_SECURITY=
plaintext``, loopback only), each a private broker of this run (``scripts/infra`` with its own run
directory and ports), so that both run on the same machine at the same moment.

    python -m benchmarks.security [--events 20000] [--latency-events 2000] [--rounds 3]

Measured, per broker:

- throughput: ``--events`` envelopes of about 1 KB, as the relay sends them (idempotent producer,
  acks=all, linger 5 ms), events per second until the last one is acknowledged; best of
  ``--rounds``;
- latency: one event every 2 ms (500 a second, far above Passerelle's busiest minute), from just
  before ``send`` to its arrival at a consumer already polling: p50 and p99;
- connection: starting a producer (TLS handshake and SCRAM login included), median of 20.

Each figure is printed beside the plain-text one and the floor it must keep: security may cost
throughput and latency, within these bounds (this machine: 2 CPUs).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.runtime.kafka_access import KafkaAccess

ROOT = Path(__file__).resolve().parent.parent
# Floors: what the secure broker must keep, relative to the plain one on the same machine.
THROUGHPUT_FLOOR = 0.50  # at least half the plain-text throughput
P99_CEILING_MS = 25.0  # p99 latency at most this much above plain text's
CONNECT_CEILING_MS = 250.0  # a new client logs in within this (the relay and consumers connect once)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """A private broker (scripts/infra in a run directory of its own)."""

    def __init__(self, run_dir: Path, *, secure: bool) -> None:
        self.run_dir, self.secure = run_dir, secure
        port = _free_port()
        self.env = {
            **os.environ,
            "PASSERELLE_RUN_DIR": str(run_dir),
            "PASSERELLE_KAFKA_PORT": str(port),
            "PASSERELLE_KAFKA_CONTROLLER_PORT": str(_free_port()),
            "PASSERELLE_KAFKA_INTERNAL_PORT": str(_free_port()),
            "PASSERELLE_KAFKA_LISTENER_SECURITY": "" if secure else "plaintext",
        }
        self.bootstrap = f"127.0.0.1:{port}"

    def infra(self, action: str) -> None:
        subprocess.run([ROOT / "scripts" / "infra", action, "kafka"], env=self.env, check=True, capture_output=True)

    @property
    def access(self) -> KafkaAccess:
        if not self.secure:
            return KafkaAccess(self.bootstrap, "PLAINTEXT")
        kafka = self.run_dir / "kafka"
        password = (kafka / "credentials" / "admin.password").read_text().strip()
        return KafkaAccess(self.bootstrap, "SASL_SSL", "admin", password, str(kafka / "pki" / "ca.crt"))


def payload(i: int) -> bytes:
    return (b'{"event_id":"%s","n":%d,"pad":"' % (str(uuid.uuid4()).encode(), i)) + b"x" * 900 + b'"}'


async def create_topic(access: KafkaAccess, topic: str) -> None:
    admin = AIOKafkaAdminClient(**access.aiokafka())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 3, 1)])
    finally:
        await admin.close()


async def throughput(access: KafkaAccess, topic: str, n: int) -> float:
    producer = AIOKafkaProducer(**access.aiokafka(), enable_idempotence=True, acks="all", linger_ms=5)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, payload(i), key=b"k%d" % (i % 50)) for i in range(n)]
        await asyncio.gather(*futures)
        return n / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def latency(access: KafkaAccess, topic: str, n: int) -> list[float]:
    consumer = AIOKafkaConsumer(**access.aiokafka(), enable_auto_commit=False, fetch_max_wait_ms=5)
    producer = AIOKafkaProducer(**access.aiokafka(), enable_idempotence=True, acks="all", linger_ms=0)
    await asyncio.gather(consumer.start(), producer.start())
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0, 1, 2})]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        sent: dict[bytes, float] = {}
        seen: list[float] = []

        async def receive() -> None:
            while len(seen) < n:
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    for record in records:
                        at = sent.pop(record.key or b"", None)
                        if at is not None:
                            seen.append((time.perf_counter() - at) * 1000)

        receiving = asyncio.create_task(receive())
        for i in range(n):
            key = b"l%d" % i
            sent[key] = time.perf_counter()
            await producer.send(topic, payload(i), key=key)
            await asyncio.sleep(0.002)
        await asyncio.wait_for(receiving, timeout=60)
        return seen
    finally:
        await asyncio.gather(consumer.stop(), producer.stop())


async def connect_ms(access: KafkaAccess, rounds: int = 20) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        producer = AIOKafkaProducer(**access.aiokafka())
        await producer.start()
        times.append((time.perf_counter() - started) * 1000)
        await producer.stop()
    return statistics.median(times)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(broker: Broker, events: int, latency_events: int, rounds: int) -> dict[str, float]:
    access = broker.access
    topic = f"bench.security.{uuid.uuid4().hex[:6]}"
    await create_topic(access, topic)
    await throughput(access, topic, 1000)  # warm-up: JIT, page cache, connections
    best = max([await throughput(access, topic, events) for _ in range(rounds)])
    waits = await latency(access, topic, latency_events)
    return {
        "events/s": best,
        "p50 ms": percentile(waits, 0.50),
        "p99 ms": percentile(waits, 0.99),
        "connect ms": await connect_ms(access),
    }


def report(plain: dict[str, float], secure: dict[str, float]) -> None:
    print(f"{'':<24}{'plain text':>14}{'TLS + SCRAM':>14}{'cost':>10}   floor")
    ratio = secure["events/s"] / plain["events/s"]
    verdict = "ok" if ratio >= THROUGHPUT_FLOOR else "BELOW THE FLOOR"
    print(
        f"{'throughput (events/s)':<24}{plain['events/s']:>14,.0f}{secure['events/s']:>14,.0f}{1 - ratio:>9.0%}"
        f"   >= {THROUGHPUT_FLOOR:.0%} of plain text   {verdict}"
    )
    for label, key in (("latency p50 (ms)", "p50 ms"), ("latency p99 (ms)", "p99 ms")):
        extra = secure[key] - plain[key]
        floor = f"<= plain + {P99_CEILING_MS:.0f} ms" if key == "p99 ms" else ""
        verdict = ("ok" if extra <= P99_CEILING_MS else "ABOVE THE CEILING") if floor else ""
        print(f"{label:<24}{plain[key]:>14.1f}{secure[key]:>14.1f}{extra:>+9.1f}   {floor}   {verdict}")
    extra = secure["connect ms"] - plain["connect ms"]
    verdict = "ok" if secure["connect ms"] <= CONNECT_CEILING_MS else "ABOVE THE CEILING"
    print(
        f"{'new client (ms)':<24}{plain['connect ms']:>14.1f}{secure['connect ms']:>14.1f}{extra:>+9.1f}"
        f"   <= {CONNECT_CEILING_MS:.0f} ms   {verdict}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--latency-events", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="passerelle-bench-") as tmp:
        brokers = {
            "plain": Broker(Path(tmp) / "plain", secure=False),
            "secure": Broker(Path(tmp) / "secure", secure=True),
        }
        try:
            for broker in brokers.values():
                await asyncio.to_thread(broker.infra, "start")
            # One after the other, never together: they share the machine's two CPUs.
            figures = {
                name: await measure(b, args.events, args.latency_events, args.rounds) for name, b in brokers.items()
            }
        finally:
            for broker in brokers.values():
                await asyncio.to_thread(broker.infra, "stop")
    print(f"{args.events} events of ~1 KB (best of {args.rounds}), {args.latency_events} for the latency, 3 partitions")
    report(figures["plain"], figures["secure"])


if __name__ == "__main__":
    asyncio.run(main())
