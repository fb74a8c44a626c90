"""Two replicas of a service at once (issue 9, "Replicas"): they share the database and the
consumer groups, each on its own HTTP port. One outbox relay publishes (the one holding the
advisory lock); the other stands by.

- A replica killed (SIGKILL) in the middle of a stream: the standby's relay takes over within
  seconds, the surviving consumer takes the dead one's partitions, and every command sent is
  counted once.
- A leader that loses its lock while alive (frozen with SIGSTOP, its lock connection ended with
  pg_terminate_backend): the standby takes over, and once the old leader runs again it stands down
  and publishes nothing more; every event is on the topic exactly once.

On the local stack (processes) or in containers (PASSERELLE_E2E_STACK=containers: SIGKILL is a
container kill, SIGSTOP a container pause).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from passerelle_contracts.equipment_v1 import TOPIC as EQUIPMENT_TOPIC

from services.access.admin import Admin
from services.access.cli import bootstrap_services, retire_services
from services.runtime.auth import create_api_key
from services.runtime.outbox import RELAY_LOCK_KEY
from services.runtime.topics import ensure_topics
from tests.conftest import CreateDatabase
from tests.e2e.conftest import call, principal_env
from tests.e2e.stacks import STACK, ContainerService
from tests.support import ServiceProcess, eventually, free_port, kafka, read_topic

pytestmark = pytest.mark.infra

FAILOVER_LIMIT_S = 15.0
DELIVERY = {"recipient": "asbl-devoirs-exemple", "recipient_kind": "pupils-association", "delivered_on": "2026-01-15"}
INDICATOR = "a46-devices-pupils"
# The backend that holds the relay's lock in this database (a bigint key: classid is its high half).
LOCK_HOLDER = """
SELECT pid FROM pg_locks
WHERE locktype = 'advisory' AND granted AND objsubid = 1
  AND ((classid::bigint << 32) | objid::bigint) = $1
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""

Start = Callable[..., Awaitable[dict[str, list[Any]]]]
# A delivery commits one event and its copy for partners (passerelle.partners.equipment.v1): the
# relay publishes both.
ROWS_PER_DELIVERY = 2


@pytest.fixture
async def replicas(
    create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> AsyncIterator[Start]:
    """``await replicas(equipment=2, actions=2)``: that many instances of each service on one
    database per service, each on its own port; stopped at the end. The first instance of each
    service starts alone (the others once it is ready), as a rolling deployment would. (Replicas
    starting together on a new database are covered by the repository suite's seed test.)"""
    started: list[Any] = []
    principals: list[str] = []  # the prefixes whose service principals were made

    async def start(**counts: int) -> dict[str, list[Any]]:
        prefix = f"{topic_prefix}rep{uuid.uuid4().hex[:6]}."
        access = kafka(kafka_bootstrap)
        await ensure_topics(access, prefix)
        credentials = tmp_path / f"credentials-{prefix}"
        await asyncio.to_thread(bootstrap_services, Admin(access), prefix, credentials)
        principals.append(prefix)
        shared = {
            "PASSERELLE_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "PASSERELLE_KAFKA_CA_FILE": access.ca_file or "",
            "PASSERELLE_TOPIC_PREFIX": prefix,
        }
        for name in counts:
            shared[f"PASSERELLE_{name.upper()}_DATABASE_URL"] = await create_database(name)
        instances: dict[str, list[Any]] = {}
        for n in range(max(counts.values())):
            for name, count in counts.items():
                if n >= count:
                    continue
                # Replicas of one service share its principal, as they would in production.
                own = principal_env(name, prefix, credentials)
                env = {**shared, **own, f"PASSERELLE_{name.upper()}_HTTP_PORT": str(free_port())}
                if STACK == "containers":
                    env[f"PASSERELLE_{name.upper()}_HTTP_HOST"] = "127.0.0.1"
                    env["PASSERELLE_LOG_JSON"] = "true"
                    instance: Any = ContainerService(name, env)
                else:
                    log_dir = tmp_path / f"{name}-{n + 1}"  # one log per replica
                    log_dir.mkdir()
                    instance = ServiceProcess(name, env, log_dir)
                instances.setdefault(name, []).append(instance)
                started.append(instance)
                instance.start()
            await asyncio.gather(*(i.wait_ready() for i in started))
        return instances

    try:
        yield start
    finally:
        for instance in started:
            instance.stop()
        for prefix in principals:
            await asyncio.to_thread(retire_services, Admin(kafka(kafka_bootstrap)), prefix)


def database(instance: Any, name: str) -> str:
    return str(instance.env[f"PASSERELLE_{name.upper()}_DATABASE_URL"])


def relay(instance: Any) -> str | None:
    """'leader' or 'standby', as the replica's /ready says; None when it does not answer."""
    try:
        status, body = call(instance.url + "/ready")
    except OSError:
        return None
    return body.get("relay") if status == 200 else None


def published(instance: Any, operator: str) -> int:
    """Events this replica's relay published since it started (GET /ops/outbox, an operator's key)."""
    return int(call(instance.url + "/ops/outbox", token=operator)[1]["published_since_start"])


async def leader_and_standby(instances: list[Any]) -> tuple[Any, Any]:
    async def roles() -> list[str | None]:
        return await asyncio.gather(*(asyncio.to_thread(relay, i) for i in instances))

    async def one_leader() -> list[str | None] | None:
        found = await roles()
        return found if sorted(map(str, found)) == ["leader", "standby"] else None

    found = await eventually(one_leader, timeout=30, interval=0.2, what="one leader and one standby")
    leader = instances[found.index("leader")]
    return leader, next(i for i in instances if i is not leader)


async def becomes(instance: Any, role: str, since: float, timeout: float = 30) -> float:
    """Seconds from ``since`` until the replica's relay reports ``role``."""

    async def check() -> bool:
        return await asyncio.to_thread(relay, instance) == role

    await eventually(check, timeout=timeout, interval=0.05, what=f"{instance.name} relay {role}")
    return time.monotonic() - since


async def deliver(instance: Any, token: str, n: int) -> int:
    """One delivery command to this replica; returns the devices it declares."""
    devices = 1 + n % 4
    status, answer = await asyncio.to_thread(
        call,
        instance.url + "/deliveries",
        {**DELIVERY, "devices": {"laptop": devices}},
        token,
        {"Idempotency-Key": f"replicas-{n}"},
    )
    assert status == 201, answer
    return devices


async def drained(instance: Any, operator: str) -> None:
    async def empty() -> bool:
        return (await asyncio.to_thread(call, instance.url + "/ops/outbox", None, operator))[1]["pending"] == 0

    await eventually(empty, timeout=60, interval=0.1, what="the outbox published")


async def api_key(dsn: str, organisation: str, role: str) -> str:
    async with asyncpg.create_pool(dsn, min_size=1, max_size=1) as pool:
        return await create_api_key(pool, organisation, role)


async def topic_event_ids(bootstrap: str, topic: str) -> Counter[str]:
    return Counter(json.loads(r.value)["event_id"] for r in await read_topic(bootstrap, topic, timeout=15))


async def test_a_replica_killed_mid_stream_hands_over_its_relay_and_nothing_is_lost_or_applied_twice(
    replicas: Start, kafka_bootstrap: str
) -> None:
    system = await replicas(equipment=2, actions=2)
    equipment, actions = system["equipment"], system["actions"]
    token = await api_key(database(equipment[0], "equipment"), "caban", "refurbisher")
    operator = await api_key(database(equipment[0], "equipment"), "passerelle-ops", "operator")
    leader, survivor = await leader_and_standby(equipment)
    topic = survivor.env["PASSERELLE_TOPIC_PREFIX"] + EQUIPMENT_TOPIC
    events, kill_at = 120, 40

    total = 0
    killed_at = 0.0
    watcher: asyncio.Task[float] | None = None
    for n in range(events):
        if n == kill_at:
            # The relay leader and one of the two consumers of the group die without a word.
            killed_at = time.monotonic()
            await asyncio.gather(asyncio.to_thread(leader.kill), asyncio.to_thread(actions[0].kill))
            watcher = asyncio.create_task(becomes(survivor, "leader", killed_at))
        # Before the kill, commands alternate between the replicas; after it, the survivor takes them.
        target = equipment[n % 2] if n < kill_at else survivor
        total += await deliver(target, token, n)
    assert watcher is not None
    failover_s = await watcher

    dsn = database(actions[1], "actions")
    conn = await asyncpg.connect(dsn)
    try:

        async def applied() -> bool:
            return bool(await conn.fetchval("SELECT count(*) FROM inbox WHERE topic = $1", topic) == events)

        await eventually(applied, timeout=90, interval=0.2, what="every delivery applied by the surviving consumer")
        all_applied_s = time.monotonic() - killed_at
        inbox = await conn.fetchval("SELECT count(DISTINCT event_id) FROM inbox WHERE topic = $1", topic)
        measurements = await conn.fetchval("SELECT count(*) FROM measurements WHERE indicator_code = $1", INDICATOR)
        counted = await conn.fetchval("SELECT current_value FROM indicators WHERE code = $1", INDICATOR)
    finally:
        await conn.close()
    await drained(survivor, operator)
    eq = await asyncpg.connect(database(survivor, "equipment"))
    try:
        sent = {str(r["event_id"]) for r in await eq.fetch("SELECT event_id FROM outbox WHERE topic = $1", topic)}
    finally:
        await eq.close()
    on_topic = await topic_event_ids(kafka_bootstrap, topic)

    # The killed replica comes back as a standby: the lock stays where it is.
    leader.start()
    await leader.wait_ready()
    await asyncio.sleep(1.5)  # more than a relay poll: it had its chance to take the lock
    assert relay(leader) == "standby" and relay(survivor) == "leader"

    # A relay killed between sending and marking its rows sends them again from the new leader:
    # at least once on the topic, exactly once in effect (the inbox).
    duplicated = sum(c - 1 for c in on_topic.values())
    print(
        f"\nreplicas, one killed: events={events} lost={len(sent - set(on_topic))} duplicated on the topic={duplicated} "
        f"applied={inbox} measurements={measurements} devices counted={counted} of {total}; "
        f"relay failover {failover_s:.2f}s; all applied by the surviving consumer {all_applied_s:.1f}s after the kill"
    )
    assert len(sent) == events and sent <= set(on_topic), "every event published"
    assert inbox == events and measurements == events, "each delivery applied once"
    assert counted == total, "no device counted twice"
    assert failover_s < FAILOVER_LIMIT_S


async def test_a_leader_that_loses_its_lock_stands_down_and_publishes_nothing_more(
    replicas: Start, kafka_bootstrap: str
) -> None:
    equipment = (await replicas(equipment=2))["equipment"]
    dsn = database(equipment[0], "equipment")
    token = await api_key(dsn, "caban", "refurbisher")
    operator = await api_key(dsn, "passerelle-ops", "operator")
    old, new = await leader_and_standby(equipment)
    topic = new.env["PASSERELLE_TOPIC_PREFIX"] + EQUIPMENT_TOPIC
    per_phase = 30

    for n in range(per_phase):  # 1. both replicas take commands; the leader publishes
        await deliver(equipment[n % 2], token, n)
    await drained(new, operator)
    old_published = published(old, operator)
    assert old_published == ROWS_PER_DELIVERY * per_phase and published(new, operator) == 0

    # 2. The leader freezes (its sockets stay open, so PostgreSQL keeps its lock) and its lock
    # connection is ended, as a network partition or an operator would.
    old.pause()
    try:
        conn = await asyncpg.connect(dsn)
        try:
            holder = await conn.fetchval(LOCK_HOLDER, RELAY_LOCK_KEY)
            assert holder is not None, "the leader holds the relay's lock"
            lost_at = time.monotonic()
            assert await conn.fetchval("SELECT pg_terminate_backend($1)", holder)
        finally:
            await conn.close()
        takeover = asyncio.create_task(becomes(new, "leader", lost_at))
        for n in range(per_phase, 2 * per_phase):  # the frozen replica takes no commands
            await deliver(new, token, n)
        failover_s = await takeover
        await drained(new, operator)
    finally:
        old.resume()
    resumed_at = time.monotonic()

    # 3. The old leader runs again: it finds its lock gone before its next pass and stands down.
    stand_down_s = await becomes(old, "standby", resumed_at)
    for n in range(2 * per_phase, 3 * per_phase):  # both take commands again; only the new leader publishes
        await deliver(equipment[n % 2], token, n)
    await drained(new, operator)
    await asyncio.sleep(1.5)  # more than a relay poll
    old_after, new_after = published(old, operator), published(new, operator)

    conn = await asyncpg.connect(dsn)
    try:
        sent = {str(r["event_id"]) for r in await conn.fetch("SELECT event_id FROM outbox WHERE topic = $1", topic)}
    finally:
        await conn.close()
    on_topic = await topic_event_ids(kafka_bootstrap, topic)
    duplicated = sum(c - 1 for c in on_topic.values())
    print(
        f"\nreplicas, leader's lock lost: events={3 * per_phase} lost={len(sent - set(on_topic))} duplicated={duplicated}; "
        f"standby took over {failover_s:.2f}s after the lock connection ended; the old leader stood down "
        f"{stand_down_s:.2f}s after it resumed; published by the old leader {old_published} then {old_after - old_published}, "
        f"by the new one {new_after}"
    )
    assert relay(old) == "standby" and relay(new) == "leader"
    assert old_after == old_published, "the old leader published nothing after losing its lock"
    assert new_after == ROWS_PER_DELIVERY * 2 * per_phase
    assert len(sent) == 3 * per_phase and set(on_topic) == sent and duplicated == 0, "each event once on the topic"
    assert failover_s < FAILOVER_LIMIT_S
