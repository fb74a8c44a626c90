"""Where the end-to-end scenarios run: the local stack (the services as processes against the
local Kafka and PostgreSQL) or containers (Kafka, PostgreSQL and the services as containers
driven by testcontainers), chosen with PASSERELLE_E2E_STACK=local|containers. The scenarios
see the same interface either way: each service's url, cli(), kill(), start(), wait_ready(),
and the broker's restart()."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from services.runtime.kafka_access import KafkaAccess
from tests.support import ROOT, eventually

STACK = os.environ.get("PASSERELLE_E2E_STACK", "local")
SERVICES = ("actions", "equipment", "funding", "notifications", "dashboard")


class LocalBroker:
    """The local stack's broker (scripts/infra): restarting it keeps its data."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def restart(self) -> None:
        for command in ("stop", "start"):
            subprocess.run([ROOT / "scripts" / "infra", command, "kafka"], check=True, capture_output=True, timeout=180)


# --- containers ---------------------------------------------------------------------------------

IMAGE_TAG = os.environ.get("PASSERELLE_IMAGE_TAG", "latest")
started_containers = 0  # reported at the end of the session


def image(name: str) -> str:
    return f"localhost/passerelle-{name}:{IMAGE_TAG}"


class ContainerProcess:
    """One container on the host's network (so Kafka advertises an address that both the other
    containers and this test process reach, and everything stays on loopback)."""

    def __init__(self, name: str, image_name: str, env: dict[str, str], command: str | None = None) -> None:
        from testcontainers.core.container import DockerContainer

        self.name = name
        self.container = DockerContainer(image_name).with_kwargs(network_mode="host")
        for key, value in env.items():
            self.container.with_env(key, value)
        if command:
            self.container.with_command(command)
        self.env = env
        self.image = image_name

    def start(self) -> None:
        global started_containers  # noqa: PLW0603 - a session-wide count the suite reports
        wrapped = self._wrapped()
        if wrapped is None:
            self.container.start()
        else:
            wrapped.start()
        started_containers += 1

    def _wrapped(self) -> Any:
        try:
            return self.container.get_wrapped_container()
        except Exception:  # noqa: BLE001 - not created yet
            return None

    def kill(self) -> None:
        """SIGKILL: nothing is flushed or committed; the container can be started again."""
        self._wrapped().kill()
        self._wrapped().wait(timeout=30)

    def pause(self) -> None:
        """Frozen (the cgroup freezer), its connections open: like SIGSTOP for a process."""
        self._wrapped().pause()

    def resume(self) -> None:
        self._wrapped().unpause()

    def stop(self) -> None:
        with contextlib.suppress(Exception):  # already gone
            self.container.stop()

    def logs(self) -> str:
        stdout, stderr = self.container.get_logs()
        return (stdout + stderr).decode(errors="replace")[-4000:]


CA_IN_SERVICES = "/kafka-ca/ca.crt"


class ContainerService(ContainerProcess):
    def __init__(self, name: str, env: dict[str, str]) -> None:
        """``env``'s PASSERELLE_KAFKA_CA_FILE is a file of this machine: mounted where the
        container finds it."""
        ca = env["PASSERELLE_KAFKA_CA_FILE"]
        env = {**env, "PASSERELLE_KAFKA_CA_FILE": CA_IN_SERVICES}
        super().__init__(name, image("services"), env, f"services.{name}")
        self.container.with_volume_mapping(ca, CA_IN_SERVICES, "ro")
        self.ca = ca
        self.port = int(env[f"PASSERELLE_{name.upper()}_HTTP_PORT"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(self.url + "/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    async def wait_ready(self, timeout: float = 90.0) -> None:
        try:
            await eventually(self.ready, timeout=timeout, interval=0.3, what=f"{self.name} container /ready")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.logs()}") from None

    def cli(self, *args: str) -> str:
        """A one-off container of the same image runs the service's command line."""
        import docker

        client = docker.from_env()
        # The test's temporary folders are shared, so a command that writes files (--out) writes them
        # here; as root, since pytest's folders belong to the test's user and are private.
        shared = {"/tmp": {"bind": "/tmp", "mode": "rw"}}
        output = client.containers.run(
            self.image,
            [f"services.{self.name}", *args],
            environment=self.env,
            network_mode="host",
            remove=True,
            stdout=True,
            stderr=False,
            volumes=shared | {self.ca: {"bind": CA_IN_SERVICES, "mode": "ro"}},
            user="0",
        )
        return output.decode().strip().splitlines()[-1]


SECRETS_IN_KAFKA = "/etc/kafka/secrets"
KAFKA_UID = 10092  # the image's kafka user


class ContainerBroker(ContainerProcess):
    """The Kafka image, secure as compose runs it: the secrets ``services.access`` makes (here, in
    the test's own directory, mounted read-only), TLS and SCRAM for clients, the ACLs."""

    def __init__(self, port: int, controller_port: int, internal_port: int, secrets: Path) -> None:
        from services.access.cli import broker_secrets

        # As root, the files go to the image's kafka user; otherwise the container runs as us.
        owner = KAFKA_UID if os.geteuid() == 0 else None
        self.pki = broker_secrets(secrets, ["127.0.0.1", "localhost"], mounted_at=SECRETS_IN_KAFKA, owner=owner)
        super().__init__(
            "kafka",
            image("kafka"),
            {
                "KAFKA_PORT": str(port),
                "KAFKA_CONTROLLER_PORT": str(controller_port),
                "KAFKA_INTERNAL_PORT": str(internal_port),
                "KAFKA_ADVERTISED_HOST": "127.0.0.1",
                "KAFKA_ADVERTISED_PORT": str(port),
                "KAFKA_BIND_HOST": "127.0.0.1",
            },
        )
        self.container.with_volume_mapping(str(secrets), SECRETS_IN_KAFKA, "ro")
        if owner is None:
            self.container.with_kwargs(network_mode="host", user=f"{os.getuid()}:{os.getgid()}")
        self.bootstrap = f"127.0.0.1:{port}"
        self.access = KafkaAccess(
            self.bootstrap,
            "SASL_SSL",
            "admin",
            (secrets / "admin.password").read_text().strip(),
            str(self.pki.ca_cert),
        )

    async def wait_ready(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        async def answers() -> bool:
            admin = AIOKafkaAdminClient(**self.access.aiokafka(), request_timeout_ms=2000)
            try:
                await admin.start()
                await admin.describe_cluster()
                return True
            except Exception:  # noqa: BLE001 - not yet
                return False
            finally:
                await admin.close()

        await eventually(answers, timeout=90, interval=0.5, what="Kafka container answering a metadata request")

    def restart(self) -> None:
        """Stop (SIGTERM, then SIGKILL after 30 s) and start the same container: its data stays."""
        wrapped = self._wrapped()
        wrapped.stop(timeout=30)
        wrapped.start()


class ContainerDatabase(ContainerProcess):
    def __init__(self, port: int) -> None:
        super().__init__(
            "postgres",
            image("postgres"),
            {
                "POSTGRES_PORT": str(port),
                "POSTGRES_LISTEN": "127.0.0.1",
                "POSTGRES_PASSWORD": "passerelle",
                "POSTGRES_DATABASES": "passerelle_test",
            },
        )
        self.url_base = f"postgresql://passerelle:passerelle@127.0.0.1:{port}"

    async def wait_ready(self) -> None:
        import asyncpg

        async def answers() -> bool:
            try:
                conn = await asyncpg.connect(self.url_base + "/postgres", timeout=2)
            except Exception:  # noqa: BLE001 - not yet
                return False
            await conn.close()
            return True

        await eventually(answers, timeout=90, interval=0.3, what="PostgreSQL container accepting connections")


def container_env_ready() -> None:
    missing = [v for v in ("DOCKER_HOST",) if not os.environ.get(v)]
    if missing:
        raise RuntimeError("the container stack needs DOCKER_HOST (see scripts/containers env)")


def log_dir(tmp: Path) -> Path:
    path = tmp / f"stack-{int(time.time())}"
    path.mkdir(parents=True, exist_ok=True)
    return path
