"""Local infrastructure for Passerelle: a single-node Apache Kafka (KRaft) and a PostgreSQL
cluster, both bound to 127.0.0.1, both real processes (no containers), state under
$PASSERELLE_RUN_DIR (default <repo>/.run).

No component means both. Ports come from PASSERELLE_KAFKA_PORT (19092),
PASSERELLE_KAFKA_CONTROLLER_PORT (19093) and PASSERELLE_PG_PORT (15432); PASSERELLE_PG_BIN picks
the PostgreSQL binaries. After a start, $PASSERELLE_RUN_DIR/env holds PASSERELLE_KAFKA_BOOTSTRAP
and PASSERELLE_DATABASE_URL_BASE for other scripts.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Protocol

import typer

from tools.common import RUN_DIR, cli, locked, log, write_atomically
from tools.kafka import Broker, access_env
from tools.postgres import DATABASE_URL_BASE, Cluster

# Exit status of `status` when not everything runs (scripts/status and scripts/test read it).
NOT_RUNNING = 3
LOCK_WAIT_S = 120


class Component(enum.StrEnum):
    postgres = "postgres"
    kafka = "kafka"


Target = Annotated[Component | None, typer.Argument(help="kafka or postgres; both when left out", show_default=False)]

app = cli(__doc__)


Record = Annotated[
    Path | None,
    typer.Option(
        "--record",
        help="Append the components this call really started (not those already running) to this file, "
        "one per line: a test run stops exactly those, never a stack somebody else started.",
    ),
]


@app.command()
def start(component: Target = None, record: Record = None) -> None:
    """Start and wait until really ready (idempotent)."""
    run("start", component, record)


@app.command()
def stop(component: Target = None) -> None:
    """Graceful stop (idempotent)."""
    run("stop", component)


@app.command()
def status(component: Target = None) -> None:
    """One line per component; exit 0 if all running, else 3."""
    run("status", component)


@app.command()
def reset(component: Target = None) -> None:
    """Stop and delete the component's data."""
    run("reset", component)


class Server(Protocol):
    """What Cluster (tools.postgres) and Broker (tools.kafka) both are to this module."""

    @property
    def log_file(self) -> Path: ...

    def start(self) -> bool: ...
    def stop(self) -> None: ...
    def status(self) -> bool: ...
    def reset(self) -> None: ...


def run(action: str, component: Component | None, record: Path | None = None) -> None:
    # Both when none is named; started in this order, stopped in the reverse order.
    servers: list[Server] = [
        Cluster() if c is Component.postgres else Broker() for c in Component if component in (c, None)
    ]
    if action == "status":
        running = [server.status() for server in servers]
        raise typer.Exit(0 if all(running) else NOT_RUNNING)

    for server in servers:
        if isinstance(server, Cluster):
            server.need_user()  # before anything is touched
    if action in ("stop", "reset"):
        servers.reverse()
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    lock = RUN_DIR / ".lock"
    # Serialise concurrent start/stop/reset (e.g. two test runs launched at once).
    with locked(
        lock,
        LOCK_WAIT_S,
        busy=f"another scripts/infra is still running after {LOCK_WAIT_S}s (lock: {lock})",
        waiting=f"waiting for another scripts/infra to finish (lock: {lock})",
    ):
        started = []
        for server in servers:
            if getattr(server, action)() is True:
                started.append(Component.postgres if isinstance(server, Cluster) else Component.kafka)
        if record is not None:
            with record.open("a") as lines:
                lines.writelines(f"{c.value}\n" for c in started)
        if action == "start":
            env_file = RUN_DIR / "env"
            write_atomically(
                env_file,
                "# Written by scripts/infra start; source it or read it line by line.\n"
                "# Kafka: the local broker's admin (a super user), over TLS; services get their own principals.\n"
                + "".join(f"{name}={value}\n" for name, value in access_env().items())
                + f"PASSERELLE_DATABASE_URL_BASE={DATABASE_URL_BASE}\n",
            )
            log(f"env: {env_file}")
            log(f"logs: {' '.join(str(server.log_file) for server in servers)}")


if __name__ == "__main__":
    app(prog_name="scripts/infra")
