"""A Kafka cluster of N nodes on loopback (3 by default), for the tests that lose a broker.

Each node is a real JVM from the same Maven-assembled jars as the single local broker
(:mod:`tools.kafka`), acting as both broker and KRaft controller, so the N nodes are also the
N voters of the metadata quorum (3 voters survive the loss of one). The quorum is *dynamic*
(KIP-853, kraft.version 1): every node lists all the controllers in
``controller.quorum.bootstrap.servers`` and is formatted with the same
``--initial-controllers id@host:port:directory-id,...`` (the directory ids are chosen here, one
per node), which writes the voter set into each node's bootstrap snapshot; no node is formatted
``--standalone`` and none has to be added afterwards. The internal topics get 3 replicas and a
min ISR of 2 (with fewer nodes: as many replicas as nodes, min ISR one less, at least 1).

Secure as the single broker is (``services/access/broker.py``): clients use TLS and SCRAM, the
nodes talk to each other (replication, the quorum) with mutual TLS, the ACLs are checked. The
cluster has its own CA (``pki/``) and admin password (``credentials/admin.password``), made at the
first start; ``access`` is how to reach it as the admin.

Its state lives in one directory (``run_dir``, default ``$PASSERELLE_RUN_DIR/kafka-cluster``):
``layout.json`` (the cluster id, and each node's ports and directory id: the controller ports are
recorded in the metadata log at format time, so they never change afterwards), and per node
``node-<id>/`` with its server.properties, data, log and pid file. Ports are free ones picked at
the first start, or consecutive from ``base_port`` (node 1: clients base_port, controller
base_port + 1, brokers base_port + 2; node 2: base_port + 3, + 4, + 5; ...).

Failure detection is quicker than Kafka's defaults (a broker missing heartbeats for 4 s instead
of 9 s is fenced and its partitions move): the tests that kill a node wait less, and what they
show is the same.

From Python (the tests)::

    cluster = KafkaCluster(tmp_path / "kafka")   # free ports
    cluster.start()                              # format if new, start, wait for all N brokers
    cluster.kill(2)                              # SIGKILL node 2
    cluster.start_node(2)                        # start it again, wait until it is back
    cluster.stop()

The waits use ``asyncio.run``: from async code call them with ``asyncio.to_thread``.

From the command line: ``python -m tools.kafka_cluster start|stop|status|kill N|restart N|reset``
(``--run-dir``, ``--size``, ``--base-port``; the base port also from PASSERELLE_KAFKA_CLUSTER_PORT).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import typer

from services.access import broker as security
from services.access.pki import ensure_password, ensure_pki
from services.runtime.kafka_access import KafkaAccess
from tools.common import (
    HOST,
    RUN_DIR,
    Stopwatch,
    alive,
    cli,
    die,
    kafka_jars_present,
    live_pid,
    log,
    port_in_use,
    spawn,
    tail,
)
from tools.kafka import CLASSPATH, LOG4J, new_cluster_id
from tools.kafka_ready import describe_cluster

READY_TIMEOUT_S = 90
STOP_TIMEOUT_S = 20
HEAP = "384m"
DEFAULT_RUN_DIR = RUN_DIR / "kafka-cluster"


@dataclass(frozen=True)
class Node:
    node_id: int
    port: int
    controller_port: int
    directory_id: str  # this node's metadata directory id in the initial voter set
    internal_port: int  # broker to broker (mutual TLS)

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def voter(self) -> str:
        return f"{self.node_id}@{HOST}:{self.controller_port}:{self.directory_id}"


def _free_ports(count: int) -> list[int]:
    """COUNT distinct ports nothing listens on (all bound at once, so none is handed out twice)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((HOST, 0))
            sockets.append(s)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


class KafkaCluster:
    """N combined broker+controller nodes: one cluster id, N brokers, an N-voter KRaft quorum."""

    def __init__(self, run_dir: Path = DEFAULT_RUN_DIR, size: int = 3, base_port: int | None = None) -> None:
        self.dir = run_dir.absolute()
        self.layout_file = self.dir / "layout.json"
        if self.layout_file.is_file():
            layout = json.loads(self.layout_file.read_text())
            self.cluster_id: str = layout["cluster_id"]
            self.nodes = [Node(**node) for node in layout["nodes"]]
        else:
            if size < 1:
                die(f"kafka cluster: {size} nodes?")
            ports = list(range(base_port, base_port + 3 * size)) if base_port is not None else _free_ports(3 * size)
            self.cluster_id = new_cluster_id()
            self.nodes = [
                Node(n + 1, ports[3 * n], ports[3 * n + 1], new_cluster_id(), ports[3 * n + 2]) for n in range(size)
            ]  # a directory id has the cluster id's format (a Kafka Uuid)
        self._processes: dict[int, subprocess.Popen[bytes]] = {}

    # --- where things are ---------------------------------------------------------------------

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def bootstrap(self) -> str:
        """Every node, as clients should be given them (any one that answers will do)."""
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def admin_password_file(self) -> Path:
        return self.dir / "credentials" / "admin.password"

    def access_to(self, bootstrap: str) -> KafkaAccess:
        """``bootstrap`` reached as the cluster's admin, over TLS."""
        password = self.admin_password_file.read_text().strip()
        return KafkaAccess(bootstrap, "SASL_SSL", security.ADMIN, password, str(self.dir / "pki" / "ca.crt"))

    @property
    def access(self) -> KafkaAccess:
        """Every node, as the admin."""
        return self.access_to(self.bootstrap)

    def _ensure_secrets(self) -> None:
        """The CA, the nodes' certificate and the admin's password, made at the first start."""
        ensure_pki(self.dir / "pki", hosts=[HOST, "localhost"])
        ensure_password(self.admin_password_file)

    def node(self, node_id: int) -> Node:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KeyError(f"no node {node_id} in {self.dir}")

    def node_dir(self, node_id: int) -> Path:
        return self.dir / f"node-{node_id}"

    def props(self, node_id: int) -> Path:
        return self.node_dir(node_id) / "server.properties"

    def log_file(self, node_id: int) -> Path:
        return self.node_dir(node_id) / "kafka.log"

    def _pid_file(self, node_id: int) -> Path:
        return self.node_dir(node_id) / "kafka.pid"

    def _data(self, node_id: int) -> Path:
        return self.node_dir(node_id) / "data"

    def pid(self, node_id: int) -> int | None:
        # What identifies this node in /proc/<pid>/cmdline (pids get reused).
        return live_pid(self._pid_file(node_id), f"kafka.Kafka {self.props(node_id)}")

    def running(self) -> list[int]:
        return [node.node_id for node in self.nodes if self.pid(node.node_id)]

    # --- configuration ------------------------------------------------------------------------

    def server_properties(self, node: Node) -> str:
        replicas = min(3, self.size)
        min_isr = max(1, replicas - 1)
        quorum = ",".join(f"{HOST}:{n.controller_port}" for n in self.nodes)
        return f"""\
# Generated by tools/kafka_cluster.py on every start; edits are overwritten.
# Node {node.node_id} of {self.size}, broker and KRaft controller, loopback only.
process.roles=broker,controller
node.id={node.node_id}
controller.quorum.bootstrap.servers={quorum}
listeners=CLIENT://{node.bootstrap},INTERNAL://{HOST}:{node.internal_port},CONTROLLER://{HOST}:{node.controller_port}
advertised.listeners=CLIENT://{node.bootstrap},INTERNAL://{HOST}:{node.internal_port}
{security.security_properties(ensure_pki(self.dir / "pki", hosts=[HOST, "localhost"]))}
log.dirs={self._data(node.node_id)}
num.partitions=1
default.replication.factor={replicas}
min.insync.replicas={min_isr}
offsets.topic.replication.factor={replicas}
offsets.topic.num.partitions=10
transaction.state.log.replication.factor={replicas}
transaction.state.log.min.isr={min_isr}
share.coordinator.state.topic.replication.factor={replicas}
share.coordinator.state.topic.min.isr={min_isr}
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
# A lost broker is fenced (and its partitions get other leaders) after 4 s without a heartbeat,
# not Kafka's 9 s: the tests that kill one wait less.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=4000
"""

    def _write_layout(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        layout = {"cluster_id": self.cluster_id, "nodes": [asdict(node) for node in self.nodes]}
        self.layout_file.write_text(json.dumps(layout, indent=2) + "\n")

    def _format(self, node: Node) -> None:
        """Format one node's storage with the whole initial voter set (the same on every node)."""
        voters = ",".join(n.voter for n in self.nodes)
        command = [
            "java", "-cp", CLASSPATH, "kafka.tools.StorageTool", "format",
            "-t", self.cluster_id, "--initial-controllers", voters, "-c", str(self.props(node.node_id)),
            *security.format_arguments(self.admin_password_file.read_text().strip()),
        ]  # fmt: skip
        with open(self.log_file(node.node_id), "ab") as out:
            done = subprocess.run(command, check=False, stdout=out, stderr=out)
        if done.returncode != 0:
            tail(self.log_file(node.node_id))
            die(f"kafka cluster: formatting node {node.node_id} failed (log: {self.log_file(node.node_id)})")

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = READY_TIMEOUT_S) -> bool:
        """Start the nodes that are not running (formatting new storage first) and wait until
        every node answers with all N brokers registered. True if this call started any."""
        watch = Stopwatch()
        if not kafka_jars_present():
            die("kafka cluster: broker jars missing; run scripts/install")
        if not shutil.which("java"):
            die("kafka cluster: java not found; run scripts/install")
        self._write_layout()
        self._ensure_secrets()
        todo = [node for node in self.nodes if not self.pid(node.node_id)]
        for node in todo:
            self._prepare(node)
        new = [node for node in todo if not (self._data(node.node_id) / "meta.properties").is_file()]
        if new:
            log(f"kafka cluster: formatting {len(new)} node(s) in {self.dir} (cluster id {self.cluster_id})")
            with ThreadPoolExecutor(len(new)) as pool:
                list(pool.map(self._format, new))
        for node in todo:
            self._spawn(node)
        self.wait_ready(timeout=timeout)
        if todo:
            log(f"kafka cluster: {self.size} nodes ready on {self.bootstrap} in {watch}")
        return bool(todo)

    def _prepare(self, node: Node) -> None:
        for port in (node.port, node.internal_port, node.controller_port):
            if port_in_use(port):
                die(f"kafka cluster: port {port} of node {node.node_id} is used by another process")
        self.node_dir(node.node_id).mkdir(parents=True, exist_ok=True)
        log_file = self.log_file(node.node_id)
        if log_file.is_file():  # keep the previous run's log for post-mortems
            log_file.replace(log_file.with_name(f"{log_file.name}.1"))
        log_file.write_bytes(b"")
        self.props(node.node_id).write_text(self.server_properties(node))

    def _spawn(self, node: Node) -> None:
        heap = os.environ.get("PASSERELLE_KAFKA_CLUSTER_HEAP", HEAP)
        process = spawn(
            [
                "java", "-Xms128m", f"-Xmx{heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={LOG4J}",
                "-cp", CLASSPATH, "kafka.Kafka", str(self.props(node.node_id)),
            ],
            self.log_file(node.node_id),
        )  # fmt: skip
        self._processes[node.node_id] = process
        self._pid_file(node.node_id).write_text(f"{process.pid}\n")

    def wait_ready(self, node_ids: list[int] | None = None, timeout: float = READY_TIMEOUT_S) -> None:
        """Until each of these nodes (default: all) answers a metadata request listing all N
        brokers: it is up, registered, unfenced, and it sees the others. Fails early when a node
        it started dies."""
        from tools.kafka_ready import quiet_aiokafka

        quiet_aiokafka()
        waiting = list(node_ids or [node.node_id for node in self.nodes])
        deadline = time.monotonic() + timeout
        while waiting:
            for node_id in list(waiting):
                process = self._processes.get(node_id)
                if process is not None and process.poll() is not None:
                    tail(self.log_file(node_id))
                    die(
                        f"kafka cluster: node {node_id} exited with {process.returncode} (log: {self.log_file(node_id)})"
                    )
                if len(self.brokers_seen_by(node_id)) == self.size:
                    waiting.remove(node_id)
            if not waiting:
                return
            if time.monotonic() > deadline:
                for node_id in waiting:
                    tail(self.log_file(node_id), 15)
                die(
                    f"kafka cluster: nodes {waiting} not ready after {timeout:.0f}s (logs: {self.dir}/node-*/kafka.log)"
                )
            time.sleep(0.25)

    def brokers_seen_by(self, node_id: int, timeout: float = 3.0) -> list[int]:
        """The broker ids a node's metadata lists (empty when it does not answer)."""
        try:
            cluster = describe_cluster(self.access_to(self.node(node_id).bootstrap), timeout)
        except Exception:  # noqa: BLE001 - not answering is an answer
            return []
        return sorted(int(broker["node_id"]) for broker in cluster.get("brokers") or [])

    def kill(self, node_id: int) -> None:
        """SIGKILL one node: no controlled shutdown, nothing flushed; its partitions move once
        the controller fences it."""
        pid = self.pid(node_id)
        if pid is None:
            die(f"kafka cluster: node {node_id} is not running")
        os.kill(pid, signal.SIGKILL)
        self._wait_gone(pid, 10)
        log(f"kafka cluster: node {node_id} killed (pid {pid})")

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        """Until the process is gone (reaped, when it is our child): False on timeout."""
        for node_id, process in list(self._processes.items()):
            if process.pid == pid:
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    return False
                del self._processes[node_id]
                return True
        deadline = time.monotonic() + timeout
        while alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def start_node(self, node_id: int, timeout: float = READY_TIMEOUT_S) -> None:
        """Start one node again (its data kept) and wait until every node lists all N brokers."""
        node = self.node(node_id)
        if self.pid(node_id):
            die(f"kafka cluster: node {node_id} is running already")
        self._prepare(node)
        self._spawn(node)
        self.wait_ready(timeout=timeout)
        log(f"kafka cluster: node {node_id} back")

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM to every node at once (a controlled shutdown each), SIGKILL to those still
        alive after the timeout: the last nodes of a shrinking quorum may wait for a controller
        that is gone."""
        pids = [pid for node in self.nodes if (pid := self.pid(node.node_id))]
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for pid in pids:
            if not self._wait_gone(pid, max(0.0, deadline - time.monotonic())):
                log(f"kafka cluster: pid {pid} still alive after {timeout:.0f}s, SIGKILL")
                os.kill(pid, signal.SIGKILL)
                self._wait_gone(pid, 10)
        for node in self.nodes:
            self._pid_file(node.node_id).unlink(missing_ok=True)
        self._processes.clear()
        if pids:
            log(f"kafka cluster: stopped ({len(pids)} nodes)")

    def status(self) -> bool:
        up = 0
        for node in self.nodes:
            pid = self.pid(node.node_id)
            up += pid is not None
            print(
                f"kafka-cluster node {node.node_id}  {'running' if pid else 'stopped'}  pid={pid or '-'}  "
                f"port={node.port}  controller={node.controller_port}  log={self.log_file(node.node_id)}"
            )
        return up == self.size

    def reset(self) -> None:
        self.stop()
        log(f"kafka cluster: deleting {self.dir}")
        shutil.rmtree(self.dir, ignore_errors=True)


# --- command line ---------------------------------------------------------------------------------

app = cli(__doc__.splitlines()[0])

RunDir = Annotated[Path, typer.Option("--run-dir", help="the cluster's directory")]
Size = Annotated[int, typer.Option("--size", help="nodes, at the first start")]
BasePort = Annotated[
    int | None,
    typer.Option(
        "--base-port",
        envvar="PASSERELLE_KAFKA_CLUSTER_PORT",
        help="node n: clients base+3(n-1), controller +1, brokers +2, at the first start (default: free ports)",
    ),
]


@app.command()
def start(run_dir: RunDir = DEFAULT_RUN_DIR, size: Size = 3, base_port: BasePort = None) -> None:
    """Format (the first time), start every node, wait until all are ready; print the bootstrap."""
    cluster = KafkaCluster(run_dir, size, base_port)
    cluster.start()
    print(f"PASSERELLE_KAFKA_BOOTSTRAP={cluster.bootstrap}")


def existing(run_dir: Path) -> KafkaCluster:
    if not (run_dir / "layout.json").is_file():
        die(f"kafka cluster: none in {run_dir} (start one first)")
    return KafkaCluster(run_dir)


@app.command()
def stop(run_dir: RunDir = DEFAULT_RUN_DIR) -> None:
    """Stop every node."""
    existing(run_dir).stop()


@app.command()
def status(run_dir: RunDir = DEFAULT_RUN_DIR) -> None:
    """One line per node; exit 0 if all run, else 3."""
    if not (run_dir / "layout.json").is_file():
        print(f"kafka-cluster  none in {run_dir}")
        raise typer.Exit(3)
    raise typer.Exit(0 if KafkaCluster(run_dir).status() else 3)


@app.command()
def kill(node_id: int, run_dir: RunDir = DEFAULT_RUN_DIR) -> None:
    """SIGKILL one node."""
    existing(run_dir).kill(node_id)


@app.command()
def restart(node_id: int, run_dir: RunDir = DEFAULT_RUN_DIR) -> None:
    """Start one node that is down (after kill) and wait until the cluster is whole again."""
    existing(run_dir).start_node(node_id)


@app.command()
def reset(run_dir: RunDir = DEFAULT_RUN_DIR) -> None:
    """Stop and delete the cluster's data (its ports are chosen again at the next start)."""
    if (run_dir / "layout.json").is_file():
        KafkaCluster(run_dir).reset()


if __name__ == "__main__":
    app(prog_name="python -m tools.kafka_cluster")
