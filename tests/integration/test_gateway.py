"""The gateway in a real HTTP server (uvicorn, in this process), with the real broker and database:
partners stream the partner topics their Kafka principal may read, as Server-Sent Events, and
resume where they left off.

httpx's ASGITransport buffers a whole response, so it cannot read an endless stream: the app runs
in uvicorn on a free port, read with httpx streaming as any SSE client would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from passerelle_contracts import Envelope, partners
from passerelle_contracts.registry import EVENT_MODELS

from services.access import principals
from services.access.admin import Admin
from services.gateway import position
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.gateway.streams import Stream, Streams
from services.runtime.auth import create_api_key, revoke_api_key
from services.runtime.kafka_access import KafkaAccess
from tests.conftest import CreateDatabase
from tests.support import eventually, free_port, kafka, produce

pytestmark = pytest.mark.infra

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"
FUNDING = "passerelle.partners.funding.v1"
ACTIONS = "passerelle.partners.actions.v1"
COORDINATION = "coordination-inclusion-numerique"
FUNDING_TYPES = ["GrantAwarded", "GrantAgreementSigned", "PaymentMade", "EpnRegistered", "CallOpened"]


# --- the gateway under test ---------------------------------------------------------------------


@dataclass
class Gateway:
    url: str
    settings: GatewaySettings
    app: Any
    kafka_bootstrap: str | KafkaAccess
    acls: list[principals.Grant] = field(default_factory=list)

    @property
    def streams(self) -> Streams:
        streams: Streams = self.app.state.streams
        return streams

    def client(self, receive_buffer: int | None = None) -> httpx.AsyncClient:
        """An HTTP client; with ``receive_buffer``, its sockets' (a fixed size: no autotuning, which
        on loopback lets the kernel hold megabytes for a client that reads nothing)."""
        options = [(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)] if receive_buffer else []
        transport = httpx.AsyncHTTPTransport(socket_options=options)
        return httpx.AsyncClient(base_url=self.url, timeout=httpx.Timeout(15.0), transport=transport)

    async def key(self, organisation: str, role: str = "partner") -> dict[str, str]:
        token = await create_api_key(self.app.state.runtime.pool, organisation, role)
        return {"Authorization": f"Bearer {token}"}

    async def grant(self, code: str, topics: Iterable[str]) -> list[principals.Grant]:
        """The partner's ACLs, as the admin tool writes them, once the broker shows them."""
        grants = principals.partner_grants(code, topics, self.settings.topic_prefix)
        admin = Admin(kafka(self.kafka_bootstrap))
        await asyncio.to_thread(admin.add, grants)
        self.acls += grants
        who = principals.partner_principal(code, self.settings.topic_prefix)

        async def shown() -> bool:
            return set(grants) <= await asyncio.to_thread(admin.grants, who)

        await eventually(shown, timeout=20, what=f"the ACLs of {who}")
        return grants

    async def withdraw(self, grants: list[principals.Grant]) -> None:
        await asyncio.to_thread(Admin(kafka(self.kafka_bootstrap)).remove, grants)

    async def publish(self, topic: str, events: list[Envelope]) -> None:
        await produce(
            self.kafka_bootstrap,
            self.settings.topic(topic),
            [(e.subject.encode(), e.model_dump_json().encode()) for e in events],
        )

    async def metric(self, line_start: str) -> float | None:
        async with self.client() as client:
            text = (await client.get("/metrics")).text
        for line in text.splitlines():
            if line.startswith(line_start + " "):
                return float(line.rsplit(" ", 1)[1])
        return None


@contextlib.asynccontextmanager
async def serving(
    database_url: str,
    kafka_bootstrap: str | KafkaAccess,
    topic_prefix: str,
    *,
    own_prefix: bool = True,
    **overrides: Any,
) -> AsyncIterator[Gateway]:
    """The gateway in a real server; ``own_prefix``: its topics under a prefix of its own (else
    ``topic_prefix`` itself, a deployment's made by the caller)."""
    port = free_port()
    settings = GatewaySettings(
        database_url=database_url,
        **kafka(kafka_bootstrap).settings(),
        topic_prefix=f"{topic_prefix}{uuid.uuid4().hex[:6]}." if own_prefix else topic_prefix,
        http_port=port,
        **({"heartbeat_s": 0.5} | overrides),
    )
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, ws="none", timeout_graceful_shutdown=5
        )
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started or task.done(), timeout=60, what="the gateway started")
    if task.done():
        task.result()  # its failure, with its traceback
    gateway = Gateway(f"http://127.0.0.1:{port}", settings, app, kafka_bootstrap)
    try:
        yield gateway
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)
        if gateway.acls:
            await gateway.withdraw(gateway.acls)


@pytest.fixture
async def gateway(create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Gateway]:
    async with serving(await create_database("gateway"), kafka_bootstrap, topic_prefix) as service:
        yield service


def new_partner() -> str:
    return f"p{uuid.uuid4().hex[:8]}"


def partner_copies(types: Iterable[str], subject: str | None = None) -> list[Envelope]:
    """The contracts' examples as their partner topic carries them, each a new event."""
    copies = []
    for event_type in types:
        example = Envelope.model_validate_json((EXAMPLES / f"{event_type}.v1.json").read_text("utf-8"))
        example = example.model_copy(update={"event_id": uuid.uuid4(), "subject": subject or example.subject})
        copy = partners.project(EVENT_MODELS[(event_type, 1)].topic, example)
        assert copy is not None
        copies.append(copy)
    return copies


# --- an SSE client ------------------------------------------------------------------------------


class Sse:
    """Reads blocks as an EventSource does: ``last_id`` follows every ``id:``, events have data."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.last_id: str | None = None
        self.comments: list[str] = []
        self.id_only: list[str] = []  # ids of blocks with no event (the position moved)

    async def block(self) -> dict[str, str]:
        block: dict[str, str] = {}
        async for line in self._lines:
            if line == "":
                if block:
                    return block
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            block[name] = block[name] + "\n" + value if name == "data" and name in block else value
            if name == "id":
                self.last_id = value
        raise EOFError("the stream ended")

    async def event(self, timeout: float = 15.0) -> dict[str, str]:
        """The next block that dispatches an event (it has data)."""
        async with asyncio.timeout(timeout):
            while True:
                block = await self.block()
                if "data" in block:
                    return block
                if "id" in block and "retry" not in block:
                    self.id_only.append(block["id"])

    async def events(self, count: int, timeout: float = 20.0) -> list[dict[str, str]]:
        async with asyncio.timeout(timeout):
            return [await self.event(timeout) for _ in range(count)]

    async def nothing_more(self, seconds: float) -> None:
        """No event for ``seconds`` (keepalives and id-only blocks may come)."""
        with contextlib.suppress(TimeoutError):
            block = await self.event(timeout=seconds)
            raise AssertionError(f"an event came: {block}")


@contextlib.asynccontextmanager
async def stream(
    gateway: Gateway, headers: dict[str, str], params: dict[str, str] | None = None, receive_buffer: int | None = None
) -> AsyncIterator[Sse]:
    async with (
        gateway.client(receive_buffer) as client,
        client.stream("GET", "/streams", headers=headers, params=params) as response,
    ):
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        sse = Sse(response)
        opening = await sse.block()  # the stream opens with its position and the reconnection delay
        assert "retry" in opening and opening["id"].startswith("v1.")
        yield sse


def ids_of(events: list[dict[str, str]]) -> list[str]:
    return [json.loads(e["data"])["event_id"] for e in events]


def offsets(token: str) -> int:
    """The records a position has gone past, every partition together (the topics start at 0)."""
    return sum(position.decode(token).values())


async def single_stream(gateway: Gateway) -> Stream:
    found = await eventually(lambda: list(gateway.streams.open_streams), timeout=10, what="the open stream")
    assert len(found) == 1
    only: Stream = found[0]
    return only


# --- the tests ----------------------------------------------------------------------------------


async def test_a_partner_streams_its_granted_topic_from_the_beginning_every_event_in_order_with_an_id(
    gateway: Gateway,
) -> None:
    code = new_partner()
    await gateway.grant(code, [FUNDING])
    produced = partner_copies(FUNDING_TYPES, subject="grant-one")  # one key: one partition, one order
    await gateway.publish(FUNDING, produced)

    async with stream(gateway, await gateway.key(code)) as sse:
        received = await sse.events(len(produced))
        assert await gateway.metric(f'passerelle_gateway_streams_open{{partner="{code}"}}') == 1

    assert ids_of(received) == [str(e.event_id) for e in produced]
    assert [e["event"] for e in received] == FUNDING_TYPES
    assert [json.loads(e["data"]) for e in received] == [json.loads(e.model_dump_json()) for e in produced]
    tokens = [e["id"] for e in received]
    assert all(t.startswith("v1.") for t in tokens) and len(set(tokens)) == len(tokens)
    assert [offsets(t) for t in tokens] == [1, 2, 3, 4, 5]
    assert {topic for topic, _ in position.decode(tokens[-1])} == {FUNDING}
    assert await gateway.metric(f'passerelle_gateway_events_sent_total{{topic="{FUNDING}"}}') == 5

    async def closed() -> bool:
        return await gateway.metric('passerelle_gateway_stream_ends_total{reason="client-closed"}') == 1

    await eventually(closed, timeout=10, what="the stream closed when its client left")
    assert await gateway.metric(f'passerelle_gateway_streams_open{{partner="{code}"}}') == 0
    assert not gateway.streams.open_streams


async def test_after_a_disconnect_last_event_id_resumes_without_a_gap_or_a_duplicate(gateway: Gateway) -> None:
    code = new_partner()
    await gateway.grant(code, [FUNDING])
    subjects = [f"grant-{i}" for i in range(3)]  # three keys, spread over the partitions
    first = [e for s in subjects for e in partner_copies(FUNDING_TYPES[:3], subject=s)]  # n = 9
    await gateway.publish(FUNDING, first)
    key = await gateway.key(code)

    async with stream(gateway, key) as sse:
        before = await sse.events(4)  # k = 4, then the client goes away mid-stream
        last_id = sse.last_id
    assert last_id == before[-1]["id"]

    later = [e for s in subjects for e in partner_copies(FUNDING_TYPES[3:], subject=s)]  # m = 6, meanwhile
    await gateway.publish(FUNDING, later)

    async with stream(gateway, key | {"Last-Event-ID": last_id}) as sse:
        after = await sse.events(len(first) + len(later) - len(before))
        await sse.nothing_more(1.5)
        final_id = sse.last_id

    received = ids_of(before + after)
    assert sorted(received) == sorted(str(e.event_id) for e in first + later)  # each once
    by_subject = {json.loads(e["data"])["event_id"]: json.loads(e["data"])["subject"] for e in before + after}
    for subject in subjects:  # one key is one partition: its order is the partition's
        produced_order = [str(e.event_id) for e in first + later if e.subject == subject]
        assert [i for i in received if by_subject[i] == subject] == produced_order

    # A client that cannot set headers gives the id in the URL: nothing is sent again.
    assert final_id is not None
    async with stream(gateway, key, params={"last_event_id": final_id}) as sse:
        await sse.nothing_more(1.5)
        assert "keepalive" in sse.comments


async def test_a_type_filter_sends_only_those_types_and_the_position_still_moves_past_the_others(
    gateway: Gateway,
) -> None:
    code = new_partner()
    await gateway.grant(code, [FUNDING])
    produced = partner_copies(["EpnRegistered", "GrantAwarded", "EpnRegistered", "CallOpened"], subject="epn-one")
    await gateway.publish(FUNDING, produced)
    key = await gateway.key(code)

    async with stream(gateway, key, params={"types": "GrantAwarded"}) as sse:
        (event,) = await sse.events(1)
        await sse.nothing_more(1.5)  # the heartbeat is 0.5 s here
        assert "keepalive" in sse.comments
        assert sse.id_only, "no id-only block after the events left out"
        moved = sse.id_only[-1]
    assert event["event"] == "GrantAwarded" and ids_of([event]) == [str(produced[1].event_id)]
    assert offsets(event["id"]) == 2  # past the EpnRegistered before it
    assert offsets(moved) == 4  # past the two left out after it

    more = partner_copies(["EpnRegistered", "GrantAwarded"], subject="epn-one")
    await gateway.publish(FUNDING, more)
    async with stream(gateway, key | {"Last-Event-ID": moved}, params={"types": "GrantAwarded"}) as sse:
        (event,) = await sse.events(1)
        await sse.nothing_more(1.0)
    assert ids_of([event]) == [str(more[1].event_id)]


async def test_a_stream_from_the_end_sends_only_what_comes_after_it_opened(gateway: Gateway) -> None:
    code = new_partner()
    await gateway.grant(code, [FUNDING])
    await gateway.publish(FUNDING, partner_copies(["GrantAwarded", "EpnRegistered"]))
    async with stream(gateway, await gateway.key(code), params={"from": "end"}) as sse:
        later = partner_copies(["CallOpened"])
        await gateway.publish(FUNDING, later)
        (event,) = await sse.events(1)
        await sse.nothing_more(1.0)
    assert ids_of([event]) == [str(later[0].event_id)]
    assert offsets(event["id"]) == 3


async def test_a_record_that_is_not_json_or_cannot_be_sent_is_skipped_and_json_on_several_lines_is_sent_on_one(
    gateway: Gateway,
) -> None:
    """Skipped, and the position moves past it: a record that stopped the stream would stop it
    again at every reconnection, for every partner of the topic."""
    code = new_partner()
    await gateway.grant(code, [FUNDING])
    first, last = partner_copies(["GrantAwarded", "PaymentMade"], subject="grant-one")
    on_lines = json.dumps(json.loads(last.model_dump_json()), indent=2).encode()
    too_deep = b"[" * 200_000 + b"]" * 200_000  # json.loads: RecursionError
    lone_surrogate = b'{"event_type": "GrantAwarded",\n "x": "\\ud800"}'  # on one line again: not UTF-8
    await produce(
        gateway.kafka_bootstrap,
        gateway.settings.topic(FUNDING),
        [
            (b"grant-one", first.model_dump_json().encode()),
            (b"grant-one", b"{not json"),
            (b"grant-one", too_deep),
            (b"grant-one", lone_surrogate),
            (b"grant-one", on_lines),
        ],
    )
    async with stream(gateway, await gateway.key(code)) as sse:
        received = await sse.events(2)
        await sse.nothing_more(1.0)
    assert ids_of(received) == [str(first.event_id), str(last.event_id)]
    assert "\n" not in received[1]["data"] and json.loads(received[1]["data"]) == json.loads(on_lines)
    assert [offsets(e["id"]) for e in received] == [1, 5]  # past the records skipped


async def test_the_coordination_streams_every_partner_topic_without_a_grant(gateway: Gateway) -> None:
    funding, actions = partner_copies(["GrantAwarded"]), partner_copies(["ActionRegistered"])
    await gateway.publish(FUNDING, funding)
    await gateway.publish(ACTIONS, actions)
    async with stream(gateway, await gateway.key(COORDINATION, "coordination")) as sse:
        received = await sse.events(2)
        await sse.nothing_more(1.0)
    assert sorted(ids_of(received)) == sorted(str(e.event_id) for e in funding + actions)
    assert {topic for topic, _ in position.decode(received[-1]["id"])} == {
        "passerelle.partners.actions.v1",
        "passerelle.partners.equipment.v1",
        "passerelle.partners.funding.v1",
    }


async def test_a_stream_the_gateway_cannot_serve_is_refused_with_its_reason(gateway: Gateway) -> None:
    code = new_partner()
    await gateway.grant(code, [FUNDING])
    key = await gateway.key(code)
    stranger = await gateway.key(new_partner())  # a key, but no ACL for its organisation
    async with gateway.client() as client:
        no_key = await client.get("/streams")
        assert no_key.status_code == 401 and no_key.json()["error"] == "unauthorized"

        not_granted = await client.get("/streams", headers=key, params={"topics": ACTIONS})
        assert not_granted.status_code == 403
        assert not_granted.json()["error"] == "forbidden" and ACTIONS in not_granted.json()["reason"]

        nothing_granted = await client.get("/streams", headers=stranger)
        assert nothing_granted.status_code == 403 and "no partner topic" in nothing_granted.json()["reason"]

        unknown_topic = await client.get("/streams", headers=key, params={"topics": "passerelle.funding.v1"})
        assert unknown_topic.status_code == 422 and "passerelle.funding.v1" in unknown_topic.json()["reason"]

        unknown_type = await client.get("/streams", headers=key, params={"types": "GrantAwarded,Nonsense"})
        assert unknown_type.status_code == 422 and "Nonsense" in unknown_type.json()["reason"]

        not_on_topic = await client.get("/streams", headers=key, params={"types": "ActionRegistered"})
        assert not_on_topic.status_code == 422

        bad_position = await client.get("/streams", headers=key | {"Last-Event-ID": "v1.tampered"})
        assert bad_position.status_code == 400 and bad_position.json()["error"] == "invalid-position"

        beyond = position.encode({(FUNDING, 0): 10**9})
        beyond_end = await client.get("/streams", headers=key | {"Last-Event-ID": beyond})
        assert beyond_end.status_code == 400 and "beyond the end" in beyond_end.json()["reason"]

        bad_start = await client.get("/streams", headers=key, params={"from": "middle"})
        assert bad_start.status_code == 422
    assert not gateway.streams.open_streams


async def test_a_partner_over_its_stream_limit_is_refused_until_one_closes(
    create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with serving(
        await create_database("gateway"), kafka_bootstrap, topic_prefix, max_streams_per_partner=2, max_streams=3
    ) as gateway:
        code, other = new_partner(), new_partner()
        await gateway.grant(code, [FUNDING])
        await gateway.grant(other, [FUNDING])
        key, other_key = await gateway.key(code), await gateway.key(other)
        async with stream(gateway, key), stream(gateway, key), gateway.client() as client:
            over = await client.get("/streams", headers=key)
            assert over.status_code == 429
            assert over.json()["error"] == "too-many-streams" and over.headers["Retry-After"].isdigit()
            async with stream(gateway, other_key):  # another partner still may: 3 open in all
                full = await client.get("/streams", headers=other_key)
                assert full.status_code == 503 and full.headers["Retry-After"].isdigit()

        async def opens_again() -> bool:
            async with gateway.client() as client, client.stream("GET", "/streams", headers=key) as response:
                return response.status_code == 200

        await eventually(opens_again, timeout=10, what="a stream once the others closed")


async def test_a_withdrawn_grant_ends_the_stream_with_a_revoked_event(
    create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with serving(await create_database("gateway"), kafka_bootstrap, topic_prefix, grants_ttl_s=0.5) as gateway:
        code = new_partner()
        grants = await gateway.grant(code, [FUNDING])
        await gateway.publish(FUNDING, partner_copies(["GrantAwarded"]))
        async with stream(gateway, await gateway.key(code)) as sse:
            await sse.events(1)
            await gateway.withdraw(grants)  # the partner is offboarded
            async with asyncio.timeout(20):
                while (block := await sse.block()).get("event") != "revoked":
                    assert "data" not in block, block
            assert FUNDING in json.loads(block["data"])["topics"]
            assert offsets(block["id"]) == 1
            with pytest.raises(EOFError):
                await sse.block()

        async def counted() -> bool:
            return await gateway.metric('passerelle_gateway_stream_ends_total{reason="revoked"}') == 1

        await eventually(counted, timeout=10, what="the end counted as revoked")


async def test_a_revoked_key_ends_its_stream_with_a_revoked_event(
    create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with serving(await create_database("gateway"), kafka_bootstrap, topic_prefix, grants_ttl_s=0.5) as gateway:
        code = new_partner()
        await gateway.grant(code, [FUNDING])
        key = await gateway.key(code)
        async with stream(gateway, key) as sse:
            key_id = key["Authorization"].split("_")[1]
            assert await revoke_api_key(gateway.app.state.runtime.pool, key_id)
            async with asyncio.timeout(20):
                while (block := await sse.block()).get("event") != "revoked":
                    pass
            assert "API key" in json.loads(block["data"])["reason"]
            with pytest.raises(EOFError):
                await sse.block()


async def test_a_slow_reader_does_not_make_the_gateway_read_the_topic_ahead_of_it(
    create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str
) -> None:
    batch = 10
    async with serving(
        await create_database("gateway"), kafka_bootstrap, topic_prefix, batch_max_records=batch
    ) as gateway:
        code = new_partner()
        await gateway.grant(code, [FUNDING])
        # 600 events of 16 kB (a field readers ignore pads each), ~10 MB: more than the two sockets
        # between the gateway and its client hold (the kernel grows a send buffer up to 4 MiB).
        produced = [
            e.model_copy(update={"data": e.data | {"padding": "x" * 16_000}})
            for e in partner_copies(FUNDING_TYPES * 120)
        ]
        await gateway.publish(FUNDING, produced)
        async with stream(gateway, await gateway.key(code), receive_buffer=64 * 1024) as sse:
            first = await sse.events(5)
            await asyncio.sleep(1.5)  # the client reads no more: the transport fills, then the stream waits
            held = await single_stream(gateway)
            read, sent = held.read, held.sent
            taken = sum((await held.consumer_positions()).values())
            await asyncio.sleep(1.0)
            assert (held.read, held.sent) == (read, sent), "the stream went on while its client did not read"
            assert taken == read  # what the consumer handed over is what the stream took
            assert sent < len(produced) // 2, f"{sent} events sent to a client that read 5"
            assert read - sent <= batch, f"{read} records read for {sent} sent"

            rest = await sse.events(len(produced) - 5, timeout=60)  # and nothing was lost meanwhile
        assert sorted(ids_of(first + rest)) == sorted(str(e.event_id) for e in produced)
