"""Partners and services on the secure broker, as each of them connects: a partner onboarded with
the command line reads the topic it was granted with its kit (kcat, the Java example, the Python
example), and the broker refuses it everything else; a service's stolen password writes only that
service's topics, and what it forges there is dead-lettered by the consumers; rotating a partner's
password and offboarding it take effect at once.

The module has its own topic prefix, so its principals and ACLs are its own (the services'
principals are bootstrapped for it with ``services bootstrap``, and removed at the end with the
partners'). The funding service runs in this process as its own principal, not the admin: that it
starts (its topics checked), publishes and commits proves its ACLs are enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import TopicAuthorizationFailedError
from jsonschema import Draft202012Validator
from passerelle_contracts import equipment_v1, funding_v1
from passerelle_contracts.partners import partner_topic, withheld
from passerelle_contracts.registry import topic as registry_topic

from services.access import cli
from services.access.admin import Admin
from services.access.principals import partner_principal, service_principal, services
from services.funding.app import create_app as create_funding
from services.funding.settings import FundingSettings
from services.runtime.kafka_access import KafkaAccess, read_secret_file
from services.runtime.topics import ensure_topics
from tests.conftest import CreateDatabase
from tests.integration.conftest import running_service
from tests.integration.test_funding_service import EPN  # the register's example EPN
from tests.integration.test_gateway import ids_of, serving, stream
from tests.support import ROOT, Kcat, drop_database, eventually, kafka, produce, read_topic

pytestmark = pytest.mark.infra

PARTNER = "perspective"  # the module's partner, granted the funding topic's projection only
LEAVER = "leaver"  # onboarded, rotated and offboarded by one test
GRANTED = partner_topic(funding_v1.TOPIC)  # passerelle.partners.funding.v1
NOT_GRANTED = partner_topic("passerelle.actions.v1")
REPOSITORY_SCHEMAS = ROOT / "contracts" / "schemas" / "partners"
EXAMPLES = ROOT / "contracts" / "examples"

GRANT = {
    "call_code": "AAP-SENIORS-2026",
    "call_kind": "regional-call",
    "beneficiary": "epn-ixelles",
    "beneficiary_kind": "epn",
    "public": "seniors",
    "amount_eur": 15000,
    "awarded_on": "2026-03-02",
}


@dataclass
class Stack:
    prefix: str
    admin: KafkaAccess
    credentials: Path  # the services' password files, as `services bootstrap` wrote them
    funding: Any  # the funding service under test (app, client, runtime, key())
    kits: Path
    kcat: Kcat
    committed: list[str]  # the event ids the funding service committed to the partner topic

    def topic(self, name: str) -> str:
        return self.prefix + name

    def service(self, name: str) -> KafkaAccess:
        """A service's own principal (what a thief of its password file holds)."""
        password = read_secret_file(self.credentials / f"{name}.password")
        return self.admin.as_principal(service_principal(name, self.prefix), password)

    @property
    def kit(self) -> Path:
        return self.kits / PARTNER


def access_cli(prefix: str, *args: str) -> tuple[int, str]:
    """``python -m services.access …`` for this module's prefix, as the admin; (status, stdout).
    Run in the test's thread: it takes a few admin round trips, and its output is captured whole."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setenv("PASSERELLE_TOPIC_PREFIX", prefix)
        status = cli.main(list(args))
    return status, out.getvalue()


async def committed_to(pool: asyncpg.Pool, topic: str) -> list[str]:
    """The ids of the events the service committed to ``topic`` (its outbox's rows)."""
    return [str(r["event_id"]) for r in await pool.fetch("SELECT event_id FROM outbox WHERE topic = $1", topic)]


async def make_funding_events(service: Any) -> None:
    """Six events through the funding API: two EPNs registered, one labelled (a status change and
    the label), its details changed by its operator (``changes``, withheld from partners), and a
    grant awarded."""
    coordination = await service.key("coordination-inclusion-numerique", "coordination")
    operator = await service.key("commune-ixelles", "partner")
    answers = [
        await service.client.post("/epns", json=EPN, headers=coordination),
        await service.client.post(
            "/epns",
            json={**EPN, "epn": "epn-forest", "epn_name": "EPN de Forest", "commune": "Forest"},
            headers=coordination,
        ),
        await service.client.post(
            "/epns/epn-ixelles/label-decisions",
            json={"status": "labelled", "decided_on": "2026-02-01"},
            headers=coordination,
        ),
        await service.client.patch("/epns/epn-ixelles", json={"hours_per_week": 30.5}, headers=operator),
        await service.client.post("/grants", json=GRANT, headers={**coordination, "Idempotency-Key": "grant-1"}),
    ]
    assert [a.status_code for a in answers] == [201, 201, 201, 200, 201], [a.text for a in answers]


@pytest.fixture(scope="module")
async def stack(
    kafka_bootstrap: str, database_url_base: str, topic_prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    prefix = f"{topic_prefix}pa{uuid.uuid4().hex[:6]}."
    admin_access = kafka(kafka_bootstrap)
    admin = Admin(admin_access)
    home = tmp_path_factory.mktemp("partner-access")
    await ensure_topics(admin_access, prefix)
    postgres = await asyncpg.connect(f"{database_url_base}/postgres")
    database = f"test_partner_access_{uuid.uuid4().hex[:8]}"
    await postgres.execute(f'CREATE DATABASE "{database}"')
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # one line per ACL
            cli.bootstrap_services(admin, prefix, home / "credentials")
        credentials = home / "credentials"
        password = read_secret_file(credentials / "funding.password")
        settings = FundingSettings(
            database_url=f"{database_url_base}/{database}",
            **KafkaAccess(
                kafka_bootstrap, "SASL_SSL", service_principal("funding", prefix), password, admin_access.ca_file
            ).settings(),
            topic_prefix=prefix,
            http_port=0,
            outbox_poll_interval_s=0.1,
        )
        async with running_service(create_funding, settings, "http://funding") as funding:
            await make_funding_events(funding)
            partner = prefix + GRANTED

            async def all_published() -> list[str]:
                unpublished = await funding.runtime.pool.fetchval(
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                )
                committed = await committed_to(funding.runtime.pool, partner)
                return committed if committed and unpublished == 0 else []

            committed = await eventually(all_published, timeout=30, what="the funding service's events published")
            status, out = access_cli(
                prefix, "partners", "onboard", PARTNER, "--topics", GRANTED, "--out", str(home / "kits")
            )
            assert status == 0, out
            yield Stack(
                prefix=prefix,
                admin=admin_access,
                credentials=credentials,
                funding=funding,
                kits=home / "kits",
                kcat=Kcat(home / "librdkafka"),
                committed=committed,
            )
    finally:
        try:
            for who in [partner_principal(code, prefix) for code in (PARTNER, LEAVER)] + [
                service_principal(s, prefix) for s in services()
            ]:
                cli.retire(admin, who)
        finally:
            await drop_database(postgres, database)
            await postgres.close()


Completed = subprocess.CompletedProcess[str]


def run(command: list[str], cwd: Path, timeout_s: float, env: dict[str, str] | None = None) -> Completed:
    """One of the kit's commands, its output captured: the exit status is the test's to judge."""
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)


def lines(result: Completed) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.strip()]


def validator(path: Path) -> Draft202012Validator:
    schema = json.loads(path.read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


async def read_all(stack: Stack, conf: str = "kcat.conf", topic: str = GRANTED, kit: Path | None = None) -> Completed:
    """What ``examples/kcat.sh`` runs: the topic from its beginning to its end, one value a line."""
    return await stack.kcat.arun(
        "-F", conf, "-C", "-t", stack.topic(topic), "-o", "beginning", "-e", "-f", "%s\\n", cwd=kit or stack.kit
    )


async def refused_login(stack: Stack, conf: Path | str, kit: Path) -> Completed:
    """kcat's metadata request with ``conf``, once the broker refuses its password (``-m 2``: give
    up after 2 s of failed logins, not librdkafka's 5). A new password reaches the broker's
    credential cache through the metadata log a moment after the admin call returns, so a login
    in that moment may still pass: it is tried again, for at most 20 s."""

    async def attempt() -> Completed | None:
        result = await stack.kcat.arun("-F", str(conf), "-m", "2", "-L", "-t", stack.topic(GRANTED), cwd=kit)
        return result if result.returncode != 0 else None

    result: Completed = await eventually(attempt, timeout=20, interval=0.5, what=f"the login of {conf} refused")
    assert result.returncode == 1, result
    assert "SASL authentication error: Authentication failed during authentication due to invalid credentials" in (
        result.stderr
    )
    return result


async def end_offsets(access: KafkaAccess, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(**access.aiokafka(), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        return dict(await consumer.end_offsets([TopicPartition(topic, p) for p in sorted(partitions)]))
    finally:
        await consumer.stop()


async def committed_offsets(access: KafkaAccess, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(**access.aiokafka(), request_timeout_ms=15_000)
    await admin.start()
    try:
        return {tp: meta.offset for tp, meta in (await admin.list_consumer_group_offsets(group)).items()}
    finally:
        await admin.close()


# --- reading with kcat ----------------------------------------------------------------------------


async def test_a_partner_reads_its_granted_topic_from_the_beginning_with_kcat_and_every_value_meets_its_schema(
    stack: Stack,
) -> None:
    result = await read_all(stack)

    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in lines(result)]
    assert len(events) == len(stack.committed) == 6
    assert sorted(e["event_id"] for e in events) == sorted(stack.committed), "exactly what the service committed"
    internal = await read_topic(stack.admin, stack.topic(funding_v1.TOPIC))
    assert len(internal) == len(events), "one copy for each event of the internal topic"
    for event in events:
        name = f"{event['event_type']}.v{event['event_version']}.schema.json"
        kit_schema, committed_schema = stack.kit / "schemas" / name, REPOSITORY_SCHEMAS / name
        assert json.loads(kit_schema.read_text()) == json.loads(committed_schema.read_text()), name
        for schema in (kit_schema, committed_schema):
            errors = [e.message for e in validator(schema).iter_errors(event)]
            assert errors == [], f"{event['event_type']} against {schema}: {errors}"
        assert set(event["data"]) & withheld(event["event_type"]) == set(), event
    details = next(e for e in events if e["event_type"] == "EpnDetailsChanged")
    original = next(json.loads(r.value) for r in internal if json.loads(r.value)["event_type"] == "EpnDetailsChanged")
    assert "changes" in original["data"] and "changes" not in details["data"], "withheld from the copy only"


async def test_the_kit_s_schemas_are_those_of_the_granted_topic_s_events_only(stack: Stack) -> None:
    kit = json.loads((stack.kit / "kit.json").read_text())

    assert kit["topics"] == [stack.topic(GRANTED)]
    assert kit["consumer_group_prefix"] == f"{stack.prefix}partner-{PARTNER}."
    assert sorted(p.name for p in (stack.kit / "schemas").iterdir()) == sorted(
        f"{event_type}.v1.schema.json" for event_type in registry_topic(GRANTED).event_types
    )
    assert {p.name for p in stack.kit.iterdir() if p.stat().st_mode & 0o077 == 0} >= {
        "password",
        "client.properties",
        "kcat.conf",
        "partner.env",
    }, "the files holding the password are the partner's alone"


# --- what the broker refuses a partner ------------------------------------------------------------


@pytest.mark.parametrize("topic", [funding_v1.TOPIC, NOT_GRANTED], ids=["internal", "another-partner-topic"])
async def test_kcat_is_refused_a_topic_not_granted(stack: Stack, topic: str) -> None:
    result = await read_all(stack, topic=topic)

    assert result.returncode == 1, result
    assert f"Topic {stack.topic(topic)} error: Broker: Topic authorization failed" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("topic", [GRANTED, funding_v1.TOPIC], ids=["granted", "internal"])
async def test_kcat_is_refused_producing_to_the_granted_topic_or_any_other(stack: Stack, topic: str) -> None:
    before = await end_offsets(stack.admin, stack.topic(topic))
    forged = json.dumps({"event_type": "GrantAwarded", "source": "funding"})

    result = await stack.kcat.arun("-F", "kcat.conf", "-P", "-t", stack.topic(topic), cwd=stack.kit, stdin=forged)

    assert result.returncode == 1, result
    assert "Delivery failed for message: Broker: Topic authorization failed" in result.stderr
    assert await end_offsets(stack.admin, stack.topic(topic)) == before, "nothing written"


async def test_kcat_with_a_wrong_password_is_refused_at_login(stack: Stack, tmp_path: Path) -> None:
    conf = (stack.kit / "kcat.conf").read_text()
    password = (stack.kit / "password").read_text().strip()
    wrong = tmp_path / "wrong.conf"
    wrong.write_text(conf.replace(f"sasl.password={password}", "sasl.password=not-the-password"))

    result = await read_all(stack, str(wrong))

    assert result.returncode == 1, result
    assert "SASL authentication error: Authentication failed during authentication due to invalid credentials" in (
        result.stderr
    )
    assert result.stdout == ""


# --- the examples of the kit ------------------------------------------------------------------------

MISSING_JAVA_TOOLS = [tool for tool in ("mvn", "java") if shutil.which(tool) is None]


def maven_package(project: Path) -> None:
    """``mvn -q -B package`` offline first, online if the local repository lacks something.

    Offline first: ``scripts/install`` fetched the broker's jars with Maven, so ~/.m2 holds
    kafka-clients and its dependencies, and once the build plugins the ``jar`` lifecycle needs
    (resources, compiler, surefire, jar, dependency: the broker's pom never runs them) have been
    fetched, every later run is offline, fast, and independent of Maven Central. Online when
    offline fails for want of an artifact (a fresh ~/.m2): that fetches them once. Any other
    failure (the example does not compile) fails the test."""
    command = ["mvn", "-q", "-B", "package"]
    offline = run([*command[:1], "-o", *command[1:]], project, 300)
    if offline.returncode == 0:
        return
    said = offline.stdout + offline.stderr
    assert "offline mode" in said, f"mvn -o package failed, not for want of an artifact:\n{said[-4000:]}"
    online = run(command, project, 600)
    assert online.returncode == 0, f"mvn package failed online too:\n{(online.stdout + online.stderr)[-4000:]}"


@pytest.mark.skipif(
    bool(MISSING_JAVA_TOOLS),
    reason=f"{' and '.join(MISSING_JAVA_TOOLS)} not installed: scripts/install installs Maven and a Java runtime",
)
@pytest.mark.timeout(600)
async def test_the_java_example_consumes_with_its_own_consumer_group(stack: Stack) -> None:
    project = stack.kit / "examples" / "java"
    kit = json.loads((stack.kit / "kit.json").read_text())
    group = kit["consumer_group_prefix"] + "java"
    await asyncio.to_thread(maven_package, project)
    java = ["java", "-cp", "target/classes:target/lib/*", "brussels.passerelle.kit.Consume", "../../client.properties"]

    def consume(group: str) -> Completed:
        return run([*java, stack.topic(GRANTED), group], project, 120)

    result = await asyncio.to_thread(consume, group)

    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in lines(result)]
    assert sorted(e["event_id"] for e in events) == sorted(stack.committed)
    assert f"{len(stack.committed)} events read from {stack.topic(GRANTED)}" in result.stderr
    topic = stack.topic(GRANTED)
    assert await committed_offsets(stack.admin, group) == await end_offsets(stack.admin, topic)

    elsewhere = await asyncio.to_thread(consume, f"{stack.prefix}actions.indicators")  # a service's group

    assert elsewhere.returncode != 0
    assert "GroupAuthorizationException" in elsewhere.stderr, elsewhere.stderr[-2000:]
    assert elsewhere.stdout == ""


async def test_a_partner_reads_with_the_python_example(stack: Stack) -> None:
    path = [str(ROOT / "contracts"), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}

    result = await asyncio.to_thread(
        run, [sys.executable, "examples/python/consume.py", "--until-end"], stack.kit, 90, env
    )

    assert result.returncode == 0, result.stderr
    read = lines(result)
    assert len(read) == len(stack.committed)
    assert all(line.startswith(f"{stack.topic(GRANTED)}:") for line in read)
    group = json.loads((stack.kit / "kit.json").read_text())["consumer_group_prefix"] + "python"
    assert await committed_offsets(stack.admin, group) == await end_offsets(stack.admin, stack.topic(GRANTED))


# --- a stolen service password --------------------------------------------------------------------


async def test_a_forged_event_is_refused_by_the_broker_and_dead_lettered_by_its_consumers(
    stack: Stack, create_database: CreateDatabase
) -> None:
    from services.actions.app import create_app as create_actions
    from services.actions.settings import ActionsSettings

    stolen = stack.service("funding")
    forged = json.loads((EXAMPLES / "DevicesDelivered.v1.json").read_text("utf-8"))
    forged["event_id"] = str(uuid.uuid4())
    record = [(forged["subject"].encode(), json.dumps(forged).encode())]
    settings = ActionsSettings(
        database_url=await create_database("actions"),
        **stack.service("actions").settings(),
        topic_prefix=stack.prefix,
        http_port=0,
        consumer_backoff_initial_s=0.01,
        outbox_poll_interval_s=0.2,
    )
    async with running_service(create_actions, settings, "http://actions") as actions:
        pool = actions.runtime.pool

        async def devices_to_pupils() -> Any:
            return await pool.fetchval("SELECT current_value FROM indicators WHERE code = 'a46-devices-pupils'")

        before = await devices_to_pupils()

        with pytest.raises(TopicAuthorizationFailedError):  # layer 1: the broker
            await produce(stolen, stack.topic(equipment_v1.TOPIC), record)
        await produce(stolen, stack.topic(funding_v1.TOPIC), record)  # its own topic: allowed

        async def dead_letters() -> list[dict[str, str]]:
            found = await read_topic(stack.admin, stack.topic(funding_v1.TOPIC) + ".dlq")
            mine = [r for r in found if json.loads(r.value)["event_id"] == forged["event_id"]]
            return [{k: bytes(v).decode() for k, v in r.headers} for r in mine] if len(mine) == 2 else []

        dead = await eventually(dead_letters, timeout=30, what="the forged event dead-lettered by both consumers")
        assert {h["x-dlq-consumer"] for h in dead} == {"indicators", "epn-register"}, "every consumer of the topic"
        for headers in dead:
            assert headers["x-dlq-reason"] == "wrong-producer"
            assert (
                "source 'equipment' is not the producer of passerelle.funding.v1 ('funding')" in headers["x-dlq-error"]
            )
            assert headers["x-dlq-original-topic"] == stack.topic(funding_v1.TOPIC)
        assert await devices_to_pupils() == before, "the indicator did not move"

        genuine = {**forged, "event_id": str(uuid.uuid4())}
        await produce(
            stack.service("equipment"),
            stack.topic(equipment_v1.TOPIC),
            [(forged["subject"].encode(), json.dumps(genuine).encode())],
        )
        moved = await eventually(
            lambda: pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", uuid.UUID(genuine["event_id"])),
            what="the same event from the equipment service processed",
        )
        assert moved == 1
        assert await devices_to_pupils() == (before or 0) + forged["data"]["total_devices"], "it would have moved"


# --- rotation and offboarding ---------------------------------------------------------------------


async def test_offboarding_stops_the_partner_and_rotate_replaces_the_password(stack: Stack, tmp_path: Path) -> None:
    out = str(tmp_path / "kits")
    kit = tmp_path / "kits" / LEAVER
    status, said = access_cli(stack.prefix, "partners", "onboard", LEAVER, "--topics", GRANTED, "--out", out)
    assert status == 0, said
    first = await read_all(stack, kit=kit)
    assert (first.returncode, len(lines(first))) == (0, len(stack.committed)), first.stderr
    shutil.copy(kit / "kcat.conf", tmp_path / "before-rotation.conf")

    status, said = access_cli(stack.prefix, "partners", "rotate", LEAVER, "--out", out)

    assert status == 0, said
    assert json.loads((kit / "kit.json").read_text())["topics"] == [stack.topic(GRANTED)], "the same topics"
    await refused_login(stack, tmp_path / "before-rotation.conf", kit)
    new = await read_all(stack, kit=kit)
    assert (new.returncode, len(lines(new))) == (0, len(stack.committed)), new.stderr

    status, said = access_cli(stack.prefix, "partners", "offboard", LEAVER)

    assert status == 0, said
    assert "locked out (a password nobody knows); 4 ACLs removed" in said
    await refused_login(stack, "kcat.conf", kit)
    assert Admin(stack.admin).grants(partner_principal(LEAVER, stack.prefix)) == set(), "its ACLs gone too"
    status, listed = access_cli(stack.prefix, "partners", "list")
    assert status == 0
    assert [line.split()[0] for line in listed.splitlines()] == [PARTNER], listed


async def test_the_gateway_streams_over_http_what_the_kit_reads_logged_in_as_its_own_principal(
    stack: Stack, create_database: CreateDatabase
) -> None:
    """``service-gateway`` reads the partner topics and nothing else, writes nowhere (its producer
    asks the broker for no producer id); a partner's key streams exactly its granted topic."""
    password = read_secret_file(stack.credentials / "gateway.password")
    own = KafkaAccess(
        stack.admin.bootstrap, "SASL_SSL", service_principal("gateway", stack.prefix), password, stack.admin.ca_file
    )
    async with serving(await create_database("gateway"), own, stack.prefix, own_prefix=False) as gateway:
        async with stream(gateway, await gateway.key(PARTNER)) as sse:
            received = await sse.events(len(stack.committed))
            await sse.nothing_more(1.0)
        async with gateway.client() as client:
            refused = await client.get("/streams", params={"topics": NOT_GRANTED}, headers=await gateway.key(PARTNER))
    ids = ids_of(received)
    # Each event once; in order within a key, not across the topic's three partitions.
    assert sorted(ids) == sorted(stack.committed) and len(set(ids)) == len(ids)
    assert refused.status_code == 403 and NOT_GRANTED in refused.json()["reason"]
