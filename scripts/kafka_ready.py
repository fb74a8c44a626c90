#!/usr/bin/env python3
"""Exit 0 when a Kafka broker answers a metadata request, 1 otherwise.

scripts/infra polls this to decide that Kafka is ready: an open TCP port is not enough,
because the broker accepts connections before it has loaded its metadata and registered
itself. A successful metadata round trip listing at least one broker is.

Usage: kafka_ready.py [--bootstrap 127.0.0.1:19092] [--timeout 5] [--verbose]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from aiokafka.admin import AIOKafkaAdminClient


async def _describe(bootstrap: str, timeout: float) -> dict:
    client = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="passerelle-kafka-ready",
        request_timeout_ms=max(1, int(timeout * 1000)),
    )
    try:
        await client.start()
        return await client.describe_cluster()
    finally:
        await client.close()


def main() -> int:
    default_bootstrap = os.environ.get(
        "PASSERELLE_KAFKA_BOOTSTRAP",
        f"127.0.0.1:{os.environ.get('PASSERELLE_KAFKA_PORT', '19092')}",
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default=default_bootstrap)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds, whole probe")
    parser.add_argument("--verbose", action="store_true", help="show aiokafka logging")
    args = parser.parse_args()

    # aiokafka logs every refused connection at ERROR; while polling that is just noise.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.CRITICAL)

    try:
        # One deadline for the whole probe, so a stopped broker fails fast and a hung one
        # cannot stall the caller.
        cluster = asyncio.run(asyncio.wait_for(_describe(args.bootstrap, args.timeout), args.timeout))
    except (Exception, asyncio.TimeoutError) as exc:  # any failure means "not ready"
        detail = str(exc) or type(exc).__name__  # TimeoutError has an empty message
        print(f"kafka not ready at {args.bootstrap}: {detail}", file=sys.stderr)
        return 1

    brokers = cluster.get("brokers") or []
    if not brokers:
        print(f"kafka at {args.bootstrap} answered but lists no broker yet", file=sys.stderr)
        return 1
    print(
        f"kafka ready at {args.bootstrap}: cluster_id={cluster.get('cluster_id')} "
        f"brokers={len(brokers)} controller_id={cluster.get('controller_id')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
