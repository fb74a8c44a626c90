"""A whole Recycle IT season end to end (issue 15, goal P4: at least 1,000 devices a second), with
the real services as processes and an operator's HTTP calls.

    scripts/infra start && .venv/bin/python -m benchmarks.season [--devices 10000] [--runs 1]

The equipment, actions and notifications services run as deployed (``python -m services.<name>``),
each in a fresh database of its own, all under a random topic prefix; the databases are dropped
and the topics deleted afterwards. The clock starts at the first request and stops when
everything downstream has caught up; the stages follow one another as an operator would run them:

1. intake: the donors' inventories as CSV (``POST /batches/{donor}/{reference}/devices.csv``, one
   batch per 5,000 devices at most, as ``GET /devices?batch=`` lists them), then their devices
   listed for their ids and short codes;
2. custody: each batch handed to the refurbisher, which confirms;
3. sanitisation: the wiping station's log of every medium (``POST /sanitisations.csv``), each
   device that becomes sanitised getting its certificate (a PDF, its SHA-256 on the event);
4. refurbishing: every device graded, from the workshop's sheet (``POST /conditions.csv``);
5. requests: recipients (schools, pupils' associations, retirement homes, EPNs, CPAS) ask for
   the whole stock between them, and the Coordination accepts each request;
6. allocation: a preview, then its confirmation;
7. delivery: a handover per allocation by the refurbisher, each acknowledged;
8. downstream: until equipment's outbox is empty, the actions service's ``indicators`` consumer
   has counted every ``DevicesDelivered`` (its inbox) and the notifications service's ``mailer``
   has handled every event equipment published on its topic (its inbox).

``measure()`` returns devices/s end to end (N divided by the seconds from the first request to
the moment all of that holds) and each stage's seconds; ``benchmarks.suite`` calls it in its own
event loop. Prints nothing about speed beyond the figures: the floor is shown beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import random
import shutil
import statistics
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from passerelle_contracts.equipment_v1 import TOPIC as EQUIPMENT_TOPIC

from benchmarks.pipeline import KAFKA_SETTINGS, env
from services.runtime.auth import create_api_key
from services.runtime.inputs import brussels_today
from services.runtime.topics import ensure_topics
from tests.support import ServiceProcess, delete_topics, drop_database, free_port, kafka

ROOT = Path(__file__).resolve().parent.parent
FLOOR = 1_000  # devices a second, end to end (issue 15, P4)
SERVICES = ("equipment", "actions", "notifications")
COORDINATION = "coordination-inclusion-numerique"
DONORS = ("cirb-paradigm", "easy-brussels", "actiris")  # the seed's donors: two regional public bodies
REFURBISHER = "asbl-reconditionnement-exemple"  # the seed's refurbisher
RECIPIENT_KINDS = ("secondary-school", "pupils-association", "retirement-home", "epn", "cpas")
KINDS = ("laptop",) * 5 + ("desktop",) * 2 + ("tablet",) * 2 + ("screen",)
STORAGE = {"laptop": "ssd:256", "desktop": "ssd:128;hdd:500", "tablet": "emmc:64", "screen": ""}
BATCH_MAX = 5_000  # GET /devices lists at most 5,000 devices: one batch each at most
DEVICES_PER_RECIPIENT = 200
IN_FLIGHT = 16  # per-device requests an operator's client keeps in flight
LOG_HEAD = "device,medium_id,method,tool,tool_version,passes,verification,operator,started_at,ended_at,result,warnings"
STAGES = ("intake", "custody", "sanitisation", "refurbishing", "requests", "allocation", "delivery", "downstream")


@dataclass
class Season:
    """The running services, their databases, the topic prefix and the operator's keys."""

    prefix: str
    services: dict[str, ServiceProcess]
    databases: dict[str, str]
    headers: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Device:
    id: str
    short_code: str
    kind: str


def media(kind: str) -> list[str]:
    """The media ids the intake gives a device of ``kind`` (m1, m2 … in the storage column's order)."""
    return [f"m{n}" for n in range(1, len(STORAGE[kind].split(";")) + 1)] if STORAGE[kind] else []


def kafka_environment() -> None:
    """The local stack's broker, as the admin (``.run/env``): the clients here and the services' processes."""
    for name in ("PASSERELLE_KAFKA_BOOTSTRAP", *KAFKA_SETTINGS):
        with contextlib.suppress(SystemExit):
            os.environ.setdefault(name, env(name))


@contextlib.asynccontextmanager
async def databases(base: str) -> AsyncIterator[dict[str, str]]:
    admin = await asyncpg.connect(f"{base}/postgres")
    names = {service: f"bench_season_{service}_{uuid.uuid4().hex[:6]}" for service in SERVICES}
    try:
        for name in names.values():
            await admin.execute(f'CREATE DATABASE "{name}"')
        yield {service: f"{base}/{name}" for service, name in names.items()}
    finally:
        for name in names.values():
            await drop_database(admin, name)
        await admin.close()


@contextlib.asynccontextmanager
async def season_stack() -> AsyncIterator[Season]:
    """The three services as processes, each in a database of its own, under a fresh topic prefix;
    everything removed afterwards (the processes' logs too, unless something failed)."""
    kafka_environment()
    bootstrap = os.environ["PASSERELLE_KAFKA_BOOTSTRAP"]
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    log_dir = ROOT / ".run" / "benchmarks" / f"season-{prefix.rstrip('.')}"
    log_dir.mkdir(parents=True, exist_ok=True)
    failed = True
    await ensure_topics(kafka(bootstrap), prefix)
    try:
        async with databases(env("PASSERELLE_DATABASE_URL_BASE")) as dsns:
            services = {
                name: ServiceProcess(
                    name,
                    {
                        f"PASSERELLE_{name.upper()}_DATABASE_URL": dsns[name],
                        f"PASSERELLE_{name.upper()}_HTTP_PORT": str(free_port()),
                        "PASSERELLE_NOTIFICATIONS_SMTP_PORT": str(free_port()),  # nobody subscribes: no mail
                        "PASSERELLE_TOPIC_PREFIX": prefix,
                        "PASSERELLE_LOG_LEVEL": "WARNING",
                        **kafka(bootstrap).environment(),
                    },
                    log_dir,
                )
                for name in SERVICES
            }
            try:
                for service in services.values():
                    service.start()
                await asyncio.gather(*(s.wait_ready(timeout=180) for s in services.values()))
                yield Season(prefix, services, dsns)
                failed = False
            finally:
                for service in services.values():
                    service.stop()
    finally:
        with contextlib.suppress(Exception):
            await delete_topics(bootstrap, prefix)
        if failed:
            print(f"the services' logs are kept in {log_dir}")
        else:
            shutil.rmtree(log_dir, ignore_errors=True)


async def keys(season: Season) -> None:
    """The operator's API keys: the Coordination's and the refurbisher's (not timed: set up before a season)."""
    pool = await asyncpg.create_pool(season.databases["equipment"], min_size=1, max_size=1)
    assert pool is not None
    try:
        for name, organisation, role in (("coordination", COORDINATION, "coordination"), ("refurbisher", REFURBISHER, "refurbisher")):  # fmt: skip
            season.headers[name] = {"Authorization": f"Bearer {await create_api_key(pool, organisation, role)}"}
    finally:
        await pool.close()


def inventory(n: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """``n`` devices as (donor, reference, CSV line), spread over the donors in batches of at most ``BATCH_MAX``."""
    year = brussels_today().year
    rows = []
    for i in range(n):
        donor = DONORS[i % len(DONORS)]
        kind = rng.choice(KINDS)
        reference = f"SEASON-{year}-{i // (len(DONORS) * BATCH_MAX)}"
        line = f"{donor[:3].upper()}-{i:06},SN{i:08},{kind},Dell,Latitude {5400 + i % 7},i5,8,{STORAGE[kind]},2018"
        rows.append((donor, reference, line))
    return rows


def wiping_log(devices: Sequence[Device]) -> str:
    """The wiping station's log: one passing purge of every medium."""
    day = brussels_today().isoformat()
    lines = [LOG_HEAD]
    for d in devices:
        for medium in media(d.kind):
            lines.append(
                f"{d.short_code},{medium},purge,nwipe,0.35,1,full,op-1,{day}T08:00:00+01:00,{day}T09:00:00+01:00,passed,"
            )
    return "\n".join(lines) + "\n"


def requests_for(stock: Counter[str]) -> list[dict[str, Any]]:
    """Requests that ask for the whole stock between them, kind by kind."""
    recipients = max(1, sum(stock.values()) // DEVICES_PER_RECIPIENT)
    asked: list[Counter[str]] = [Counter() for _ in range(recipients)]
    for kind, count in sorted(stock.items()):
        for r in range(recipients):
            asked[r][kind] += count // recipients + (1 if r < count % recipients else 0)
    return [
        {
            "recipient": f"{RECIPIENT_KINDS[r % len(RECIPIENT_KINDS)]}-{r:03}",
            "kind": RECIPIENT_KINDS[r % len(RECIPIENT_KINDS)],
            "devices": {k: v for k, v in sorted(asked[r].items()) if v},
        }
        for r in range(recipients)
    ]


async def ok(response: Awaitable[httpx.Response], expected: int = 200) -> Any:
    answer = await response
    if answer.status_code != expected:
        raise AssertionError(
            f"{answer.request.method} {answer.request.url.path}: {answer.status_code} {answer.text[:500]}"
        )
    return answer.json()


async def limited(calls: Sequence[Callable[[], Awaitable[Any]]], in_flight: int = IN_FLIGHT) -> list[Any]:
    gate = asyncio.Semaphore(in_flight)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(c) for c in calls))


class Clock:
    """Each stage's seconds, one after the other from the first request."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.last = self.started
        self.stages: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = now - self.last
        self.last = now

    @property
    def total(self) -> float:
        return self.last - self.started


async def run_season(season: Season, n: int) -> dict[str, Any]:
    rng = random.Random(2024)
    coordination, refurbisher = season.headers["coordination"], season.headers["refurbisher"]
    rows = inventory(n, rng)
    batches: dict[tuple[str, str], list[str]] = {}
    for donor, reference, line in rows:
        batches.setdefault((donor, reference), []).append(line)
    plan = requests_for(Counter(line.split(",")[2] for _, _, line in rows))
    today = brussels_today().isoformat()
    equipment = season.services["equipment"]
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(base_url=equipment.url, timeout=900, limits=limits) as http:
        for request in plan:  # the recipients are registered before the season (not timed)
            body = {"name": request["recipient"], "kind": request["kind"], "commune": "Anderlecht"}
            await ok(http.put(f"/organisations/{request['recipient']}", json=body, headers=coordination))

        clock = Clock()
        # 1. intake
        in_batch: dict[str, list[Device]] = {}
        for (donor, reference), lines in batches.items():
            text = "asset_tag,serial,kind,make,model,cpu,ram_gb,storage,year\n" + "\n".join(lines) + "\n"
            url = f"/batches/{donor}/{reference}/devices.csv"
            report = await ok(http.post(url, content=text.encode(), headers=coordination))
            assert (report["created"], report["errors"]) == (len(lines), []), report
            in_batch[report["batch_id"]] = []
        for batch_id, listed in in_batch.items():
            params: dict[str, str | int] = {"batch": batch_id, "limit": BATCH_MAX}
            listed += [Device(d["id"], d["short_code"], d["kind"]) for d in await ok(http.get("/devices", params=params, headers=coordination))]  # fmt: skip
        devices = [d for listed in in_batch.values() for d in listed]
        assert len(devices) == n, f"{len(devices)} devices listed, {n} declared"
        clock.lap("intake")

        # 2. custody: every batch to the refurbisher, who confirms
        for listed in in_batch.values():
            body = {"to": REFURBISHER, "devices": [d.id for d in listed]}
            transfer = await ok(http.post("/transfers", json=body, headers=coordination), 201)
            await ok(http.post(f"/transfers/{transfer['id']}/confirm", headers=refurbisher))
        clock.lap("custody")

        # 3. sanitisation: the wiping station's log, certificates issued
        wiped = await ok(http.post("/sanitisations.csv", content=wiping_log(devices).encode(), headers=refurbisher))
        with_media = sum(1 for d in devices if media(d.kind))
        assert (wiped["devices"], wiped["errors"]) == (with_media, []), {k: wiped[k] for k in ("devices", "records")}
        clock.lap("sanitisation")

        # 4. refurbishing: every device graded, from the workshop's sheet
        sheet = "device,physical,grade\n" + "".join(
            f"{d.short_code},refurbished,{'ABC'[i % 3]}\n" for i, d in enumerate(devices)
        )
        graded = await ok(http.post("/conditions.csv", content=sheet.encode(), headers=refurbisher))
        assert (graded["devices"], graded["errors"]) == (n, []), {k: graded[k] for k in ("devices", "changed")}
        clock.lap("refurbishing")

        # 5. requests, each accepted by the Coordination
        async def ask(request: dict[str, Any]) -> None:
            body = {"recipient": request["recipient"], "devices": request["devices"], "public": "young-people",
                    "beneficiaries": sum(request["devices"].values())}  # fmt: skip
            submitted = await ok(http.post("/requests", json=body, headers=coordination), 201)
            await ok(http.post(f"/requests/{submitted['id']}/review", json={"decision": "accepted"}, headers=coordination))  # fmt: skip

        await limited([functools.partial(ask, r) for r in plan], 4)
        clock.lap("requests")

        # 6. allocation: preview, then confirm
        period = str(brussels_today().year)
        preview = await ok(http.get("/allocation/preview", params={"period": period}, headers=coordination))
        confirm = {"period": period, "preview_token": preview["preview_token"]}
        confirmed = await ok(http.post("/allocation/confirm", json=confirm, headers=coordination))
        allocated = sum(len(a["device_ids"]) for a in confirmed["allocations"])
        assert allocated == n, f"{allocated} of {n} devices allocated"
        clock.lap("allocation")

        # 7. delivery: a handover per allocation, acknowledged
        async def deliver(line: dict[str, Any]) -> None:
            body = {"recipient": line["recipient"], "devices": line["device_ids"], "delivered_on": today}
            handover = await ok(http.post("/handovers", json=body, headers=refurbisher), 201)
            await ok(http.post(f"/handovers/{handover['id']}/acknowledge", headers=coordination))

        await limited([functools.partial(deliver, a) for a in confirmed["allocations"]], 4)
        clock.lap("delivery")

    # 8. downstream: everything published and applied
    caught_up = await downstream(season)
    clock.lap("downstream")
    rate = n / clock.total
    return {
        "devices": n,
        "seconds": clock.total,
        "devices_per_s": rate,
        "floor_devices_per_s": FLOOR,
        "met": rate >= FLOOR,
        "stages": dict(clock.stages),
        "dominant": max(clock.stages, key=lambda s: clock.stages[s]),
        "certificates": with_media,
        "downstream": caught_up,
    }


async def downstream(season: Season) -> dict[str, Any]:
    """Wait until equipment's outbox is empty, the actions service counted every DevicesDelivered
    and the notifications service handled every event of equipment's topic; the seconds each
    took from now, and the counts."""
    topic = season.prefix + EQUIPMENT_TOPIC
    conns = {name: await asyncpg.connect(dsn) for name, dsn in season.databases.items()}
    started = time.perf_counter()
    try:
        expected = await conns["equipment"].fetchrow(
            """SELECT count(*) AS events, count(*) FILTER (WHERE event_type = 'DevicesDelivered') AS delivered
               FROM outbox WHERE topic = $1""",
            topic,
        )
        assert expected is not None
        eq, actions, notifications = conns["equipment"], conns["actions"], conns["notifications"]
        checks: dict[str, Callable[[], Awaitable[bool]]] = {
            "equipment outbox empty": lambda: _count_is(
                eq, 0, "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            ),
            "actions indicators": lambda: _count_is(
                actions,
                expected["delivered"],
                "SELECT count(*) FROM inbox WHERE consumer = 'indicators' AND event_type = 'DevicesDelivered'",
            ),
            "notifications mailer": lambda: _count_is(
                notifications,
                expected["events"],
                "SELECT count(*) FROM inbox WHERE consumer = 'mailer' AND topic = $1",
                topic,
            ),
        }
        done: dict[str, float] = {}
        deadline = started + 1800
        while len(done) < len(checks):
            for name, check in checks.items():
                if name not in done and await check():
                    done[name] = time.perf_counter() - started
            if time.perf_counter() > deadline:
                missing = sorted(set(checks) - set(done))
                raise TimeoutError(f"downstream not caught up after 1,800 s: {', '.join(missing)}")
            await asyncio.sleep(0.1)
        return {"events": expected["events"], "delivered_events": expected["delivered"], "seconds": done}
    finally:
        for conn in conns.values():
            await conn.close()


async def _count_is(conn: asyncpg.Connection, n: int, query: str, *args: Any) -> bool:
    """Whether ``query`` counts ``n`` (at least: 0 means none)."""
    count = await conn.fetchval(query, *args)
    return bool(count == 0) if n == 0 else bool(count >= n)


async def measure(devices: int = 10_000) -> dict[str, Any]:
    """One season of ``devices`` devices end to end: devices/s, the seconds of each stage (see the
    module's docstring), the dominant stage, and the floor. Runs in the caller's event loop."""
    async with season_stack() as season:
        await keys(season)
        return await run_season(season, devices)


def show(result: dict[str, Any]) -> str:
    stages = result["stages"]
    width = max(len(s) for s in stages)
    lines = [
        f"{s:<{width}}  {seconds:7.2f} s  {result['devices'] / seconds if seconds else 0:9,.0f} devices/s"
        + ("   <- dominates" if s == result["dominant"] else "")
        for s, seconds in stages.items()
    ]
    verdict = "ok" if result["met"] else "BELOW THE FLOOR"
    lines.append(
        f"{'season':<{width}}  {result['seconds']:7.2f} s  {result['devices_per_s']:9,.0f} devices/s   "
        f"floor {result['floor_devices_per_s']:,} devices/s   {verdict}"
    )
    caught = ", ".join(f"{k} {v:.1f} s" for k, v in result["downstream"]["seconds"].items())
    lines.append(
        f"  ({result['certificates']:,} certificates; downstream: {result['downstream']['events']:,} equipment "
        f"events, {result['downstream']['delivered_events']:,} DevicesDelivered; caught up: {caught})"
    )
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    rates = []
    for run in range(args.runs):
        result = await measure(args.devices)
        rates.append(result["devices_per_s"])
        print(f"season of {args.devices:,} devices, run {run + 1}/{args.runs}:\n{show(result)}", flush=True)
    if args.runs > 1:
        print(
            f"devices/s end to end: min {min(rates):,.0f} / median {statistics.median(rates):,.0f} / "
            f"max {max(rates):,.0f}   floor {FLOOR:,}"
        )


if __name__ == "__main__":
    asyncio.run(main())
