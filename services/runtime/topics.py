"""Create the topics of the contracts' registry (partitions, retention, compaction).

``python -m services.runtime.topics [--bootstrap HOST:PORT] [--prefix P]``: idempotent; an
existing topic with fewer partitions than the registry says is reported, not changed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from passerelle_contracts import all_topics

NO_ERROR = 0
TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code


async def ensure_topics(bootstrap: str, prefix: str = "") -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(prefix + spec.name, spec.partitions, 1, topic_configs=spec.kafka_config())
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default=os.environ.get("PASSERELLE_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    parser.add_argument("--prefix", default=os.environ.get("PASSERELLE_TOPIC_PREFIX", ""))
    args = parser.parse_args()
    created = asyncio.run(ensure_topics(args.bootstrap, args.prefix))
    print(f"topics: {len(created)} created" + (f" ({', '.join(created)})" if created else ", all present"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
