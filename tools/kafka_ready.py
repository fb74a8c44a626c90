"""Is a Kafka broker ready? Yes when it answers a metadata request listing at least one broker.

An open TCP port is not enough: the broker accepts connections before it has loaded its metadata
and registered itself. ``tools.infra`` calls :func:`probe` in its own process while it waits for
the broker it started (one import of aiokafka, not one interpreter per poll);
``python -m tools.kafka_ready [--bootstrap 127.0.0.1:19092] [--timeout 5] [--verbose]`` asks
from the command line (with the security of ``PASSERELLE_KAFKA_*``) and exits 0 when ready, 1
otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Annotated, Any

import typer

from services.runtime.kafka_access import KafkaAccess
from tools.common import KAFKA_PORT, cli


async def _describe(kafka: KafkaAccess, timeout: float) -> dict[str, Any]:
    from aiokafka.admin import AIOKafkaAdminClient

    client = AIOKafkaAdminClient(
        **kafka.aiokafka(),
        client_id="passerelle-kafka-ready",
        request_timeout_ms=max(1, int(timeout * 1000)),
    )
    try:
        await client.start()
        cluster: dict[str, Any] = await client.describe_cluster()
        return cluster
    finally:
        await client.close()


def describe_cluster(kafka: KafkaAccess, timeout: float) -> dict[str, Any]:
    """The broker's answer to DescribeCluster (cluster id, controller, brokers), within ``timeout``."""
    return asyncio.run(asyncio.wait_for(_describe(kafka, timeout), timeout))


def probe(kafka: KafkaAccess, timeout: float = 5.0) -> tuple[bool, str]:
    """(ready, what was seen). One deadline covers the whole probe, so a stopped broker fails
    fast and a hung one cannot stall the caller."""
    bootstrap = kafka.bootstrap
    try:
        cluster = describe_cluster(kafka, timeout)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        detail = str(exc) or type(exc).__name__  # TimeoutError has an empty message
        return False, f"kafka not ready at {bootstrap}: {detail}"
    brokers = cluster.get("brokers") or []
    if not brokers:
        return False, f"kafka at {bootstrap} answered but lists no broker yet"
    return True, (
        f"kafka ready at {bootstrap}: cluster_id={cluster.get('cluster_id')} "
        f"brokers={len(brokers)} controller_id={cluster.get('controller_id')}"
    )


def quiet_aiokafka() -> None:
    """aiokafka logs every refused connection at ERROR; while polling that is just noise."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


app = cli(__doc__.splitlines()[0], no_args_is_help=False)


@app.command()
def main(
    bootstrap: Annotated[str, typer.Option(help="host:port")] = (
        os.environ.get("PASSERELLE_KAFKA_BOOTSTRAP") or f"127.0.0.1:{KAFKA_PORT}"
    ),
    timeout: Annotated[float, typer.Option(help="seconds, whole probe")] = 5.0,
    verbose: Annotated[bool, typer.Option("--verbose", help="show aiokafka logging")] = False,
) -> None:
    """Exit 0 when a Kafka broker answers a metadata request, 1 otherwise."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.CRITICAL)
    ready, detail = probe(KafkaAccess.from_environment(bootstrap), timeout)
    typer.echo(detail, err=not ready)
    raise typer.Exit(0 if ready else 1)


if __name__ == "__main__":
    app(prog_name="python -m tools.kafka_ready")
