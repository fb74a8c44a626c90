"""Create the topics of the contracts' registry (partitions, retention, compaction), and check
the existing ones against it.

``python -m services.runtime.topics [--bootstrap HOST:PORT] [--prefix P]`` (the security from
``PASSERELLE_KAFKA_*``, see ``kafka_access``): idempotent. An
existing topic that differs from the registry (fewer partitions, another retention or cleanup
policy) is reported, not changed: adding partitions moves keys to other partitions and breaks
their order, and shortening a retention deletes history, so both are an operator's decision.

Replication: each topic gets ``replication_factor`` copies and refuses writes with fewer than
``min_insync_replicas`` in sync (with ``acks=all``, so an acknowledged event survives the loss of
a broker). 1 and 1 on the single-broker development stack; 3 and 2 on a cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from passerelle_contracts import all_topics

from .kafka_access import KafkaAccess

NO_ERROR = 0
TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code


async def ensure_topics(
    kafka: KafkaAccess, prefix: str = "", *, replication_factor: int = 1, min_insync_replicas: int = 1
) -> list[str]:
    """Create the registry's topics that do not exist yet; returns the names this call created."""
    admin = AIOKafkaAdminClient(**kafka.aiokafka(), request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        replication = {"min.insync.replicas": str(min_insync_replicas)}
        wanted = [
            NewTopic(
                prefix + spec.name, spec.partitions, replication_factor, topic_configs=spec.kafka_config() | replication
            )
            for spec in all_topics()
            if prefix + spec.name not in existing
        ]
        created: list[str] = []
        if wanted:
            response = await admin.create_topics(wanted, timeout_ms=15_000)
            # Services start together and each creates what it lacks: another one winning the
            # race ("already exists") is fine; any other refusal is not.
            for name, code, message in response.topic_errors:
                if code == NO_ERROR:
                    created.append(name)
                elif code != TOPIC_ALREADY_EXISTS:
                    raise RuntimeError(f"topic {name} could not be created: {message} (error {code})")
            # Creation is asynchronous on the broker: wait until every topic has metadata.
            for _ in range(100):
                described = await admin.describe_topics([t.name for t in wanted])
                if all(d.get("error_code") == 0 and d.get("partitions") for d in described):
                    break
                await asyncio.sleep(0.1)
        return created
    finally:
        await admin.close()


async def check_topics(
    kafka: KafkaAccess, prefix: str = "", *, replication_factor: int = 1, min_insync_replicas: int = 1
) -> list[str]:
    """How the existing topics differ from the registry and the replication asked, one line each
    (empty: they agree)."""
    specs = {prefix + spec.name: spec for spec in all_topics()}
    admin = AIOKafkaAdminClient(**kafka.aiokafka(), request_timeout_ms=15_000)
    await admin.start()
    try:
        names = sorted(set(await admin.list_topics()) & set(specs))
        if not names:
            return []
        described = {d["topic"]: d for d in await admin.describe_topics(names)}
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    finally:
        await admin.close()
    configs = {
        resource[3]: {entry[0]: entry[1] for entry in resource[4]}
        for response in responses
        for resource in response.resources
    }
    problems = []
    for name in names:
        spec, partitions = specs[name], len(described[name]["partitions"])
        if partitions != spec.partitions:
            problems.append(
                f"{name}: {partitions} partitions, the registry says {spec.partitions}"
                " (key order holds only within a partition: add them by hand)"
            )
        replicas = min((len(p["replicas"]) for p in described[name]["partitions"]), default=0)
        if replicas < replication_factor:
            problems.append(f"{name}: {replicas} replicas, {replication_factor} asked")
        wanted = spec.kafka_config() | {"min.insync.replicas": str(min_insync_replicas)}
        for key, value in wanted.items():
            actual = configs.get(name, {}).get(key)
            if actual != value:
                problems.append(f"{name}: {key} is {actual}, the registry says {value}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default=os.environ.get("PASSERELLE_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    parser.add_argument("--prefix", default=os.environ.get("PASSERELLE_TOPIC_PREFIX", ""))
    parser.add_argument(
        "--replication-factor", type=int, default=int(os.environ.get("PASSERELLE_TOPIC_REPLICATION_FACTOR", "1"))
    )
    parser.add_argument(
        "--min-insync-replicas", type=int, default=int(os.environ.get("PASSERELLE_TOPIC_MIN_INSYNC_REPLICAS", "1"))
    )
    args = parser.parse_args()
    kafka = KafkaAccess.from_environment(args.bootstrap)  # the security from PASSERELLE_KAFKA_*
    replication = {"replication_factor": args.replication_factor, "min_insync_replicas": args.min_insync_replicas}
    created = asyncio.run(ensure_topics(kafka, args.prefix, **replication))
    print(f"topics: {len(created)} created" + (f" ({', '.join(created)})" if created else ", all present"))
    problems = asyncio.run(check_topics(kafka, args.prefix, **replication))
    for problem in problems:
        print(f"differs from the registry: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
