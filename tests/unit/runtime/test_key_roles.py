"""Key roles and event roles (``services.runtime.auth``): routes are checked against the key's
own role (``caban``, ``reader`` …); everything past the edge, events and stored actors included,
sees the event role it acts in (``WIRE_ROLE``), and a reader key writes nothing."""

from __future__ import annotations

import argparse
import json
import types
import uuid
from pathlib import Path
from typing import Any, cast

import httpx
import jsonschema
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from passerelle_contracts import Actor, Envelope, parse_data
from passerelle_contracts import schemas as schemagen
from passerelle_contracts.common import KEY_ROLES, ROLES, WIRE_ROLE

from services.runtime import cli
from services.runtime.auth import Caller, authenticate, caller, create_api_key, require
from services.runtime.http import api_router, unit_of_work
from services.runtime.openapi import access, access_table
from services.runtime.testing import FakeStore
from services.runtime.uow import UnitOfWork

CONTRACTS = Path(schemagen.__file__).resolve().parent.parent
EXAMPLE = CONTRACTS / "examples" / "IndicatorMeasured.v1.json"
COMMITTED_SCHEMA = CONTRACTS / "schemas" / "IndicatorMeasured.v1.schema.json"


class KeyTable:
    """The ``api_keys`` table in memory: the row ``create_api_key`` inserts, found by key id."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    async def execute(self, sql: str, key_id: str, secret_sha256: str, organisation: str, role: str, *_: Any) -> None:
        self.rows[key_id] = {"secret_sha256": secret_sha256, "organisation": organisation, "role": role}

    async def fetchrow(self, sql: str, key_id: str) -> dict[str, Any] | None:
        return self.rows.get(key_id)


@pytest.fixture
def keys() -> Any:
    return cast(Any, KeyTable())  # stands in for the pool: create_api_key and authenticate use these two calls


@pytest.fixture
def store() -> FakeStore[Any]:
    return FakeStore(types.SimpleNamespace())


async def bearer(keys: Any, organisation: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await create_api_key(keys, organisation, role)}"}


def client(keys: Any, store: FakeStore[Any], router: Any) -> httpx.AsyncClient:
    """The router on an app whose runtime is the key table and the fake store (the correlation id
    is ``create_http_app``'s middleware's job: here, a new one per request)."""
    app = FastAPI()
    app.include_router(router)

    @app.middleware("http")
    async def correlate(request: Request, call_next: Any) -> Any:
        request.state.correlation_id = uuid.uuid4()
        return await call_next(request)

    app.state.runtime = types.SimpleNamespace(pool=keys, unit_of_work=store.unit_of_work)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge")


async def test_keys_of_every_key_role_can_be_created_and_their_actor_carries_the_event_role(keys: Any) -> None:
    for role in KEY_ROLES:
        found = await authenticate(keys, await create_api_key(keys, "some-partner", role))

        assert isinstance(found, Caller), role
        assert found.key_role == role
        assert found.actor.role == WIRE_ROLE.get(role, role) and found.actor.role in ROLES
        assert found.actor.organisation == "some-partner"
    assert len(keys.rows) == len(KEY_ROLES)


async def test_a_key_of_the_system_role_or_of_a_misspelt_role_is_never_created(keys: Any) -> None:
    for role in ("system", "cabn", "Reader"):
        with pytest.raises(ValueError, match="is not a key role"):
            await create_api_key(keys, "some-partner", role)
    assert keys.rows == {}


async def test_a_stored_key_of_an_unknown_role_is_refused_not_a_server_error(keys: Any) -> None:
    token = await create_api_key(keys, "some-partner", "partner")
    keys.rows[token.split("_")[1]]["role"] = "system"  # written by hand in the table

    assert await authenticate(keys, token) is None


def test_the_key_commands_offer_every_key_role_and_no_other() -> None:
    parser = argparse.ArgumentParser()
    cli._create_key_args(parser)

    assert cli.ROLES == KEY_ROLES
    for role in KEY_ROLES:
        assert parser.parse_args(["--organisation", "caban", "--role", role]).role == role
    with pytest.raises(SystemExit):
        parser.parse_args(["--organisation", "caban", "--role", "system"])


async def test_a_caban_key_passes_a_route_allowing_caban_and_its_actor_acts_as_a_partner(
    keys: Any, store: FakeStore[Any]
) -> None:
    router = api_router()

    @router.get("/cadastre")
    async def cadastre(actor: Actor = Depends(require("coordination", "caban"))) -> dict[str, Any]:
        return actor.model_dump()

    identified = caller("coordination", "caban")

    @router.get("/who")
    async def who(found: Caller = Depends(identified)) -> dict[str, Any]:
        return {"key_role": found.key_role, "role": found.actor.role}

    headers = await bearer(keys, "caban", "caban")
    async with client(keys, store, router) as http:
        read = await http.get("/cadastre", headers=headers)
        who_read = await http.get("/who", headers=headers)

    assert read.status_code == 200, read.text
    assert read.json() == {"organisation": "caban", "role": "partner", "key_id": headers["Authorization"].split("_")[1]}
    assert who_read.json() == {"key_role": "caban", "role": "partner"}, "the finer role, for the routes that need it"


async def test_a_partner_key_is_refused_where_a_caban_key_passes_though_both_act_as_partner(
    keys: Any, store: FakeStore[Any]
) -> None:
    router = api_router()

    @router.get("/cadastre", dependencies=[Depends(require("coordination", "caban"))])
    async def cadastre() -> None: ...

    async with client(keys, store, router) as http:
        refused = await http.get("/cadastre", headers=await bearer(keys, "some-partner", "partner"))

    assert refused.status_code == 403
    assert "'partner'" in refused.json()["detail"]


async def test_a_reader_key_reads_what_any_key_reads_and_is_refused_by_a_unit_of_work_with_no_role_named(
    keys: Any, store: FakeStore[Any]
) -> None:
    router = api_router()

    @router.get("/figures", dependencies=[Depends(require())])
    async def figures() -> dict[str, bool]:
        return {"read": True}

    @router.get("/touch")  # a GET: only the unit of work's rule keeps the reader out
    async def touch(uow: UnitOfWork[Any] = Depends(unit_of_work())) -> dict[str, str]:
        return {"role": uow.actor.role}

    @router.post("/note", dependencies=[Depends(require())])  # a command without a unit of work
    async def note() -> None: ...

    reader, partner = await bearer(keys, "some-partner", "reader"), await bearer(keys, "other", "applicant")
    async with client(keys, store, router) as http:
        read = await http.get("/figures", headers=reader)
        touched = await http.get("/touch", headers=reader)
        noted = await http.post("/note", headers=reader)
        by_an_applicant = await http.get("/touch", headers=partner)

    assert read.status_code == 200, "any key reads: the reader too"
    assert touched.status_code == 403 and "'reader'" in touched.json()["detail"]
    assert noted.status_code == 403, "no command route admits a reader key, whatever its dependencies"
    assert by_an_applicant.json() == {"role": "partner"}


def test_a_unit_of_work_for_a_reader_or_a_route_for_a_role_no_key_carries_is_refused_at_import() -> None:
    with pytest.raises(ValueError, match="reader"):
        unit_of_work("coordination", "reader")
    for role in ("system", "cabn"):
        with pytest.raises(ValueError, match="is not a key role"):
            require("coordination", role)
        with pytest.raises(ValueError, match="is not a key role"):
            unit_of_work(role)


async def test_an_event_emitted_by_a_caban_keys_unit_of_work_acts_as_partner_and_fits_the_committed_schema(
    keys: Any, store: FakeStore[Any]
) -> None:
    measured = parse_data(Envelope.model_validate_json(EXAMPLE.read_text("utf-8")))
    router = api_router()

    @router.post("/measurements", status_code=201)
    async def measure(uow: UnitOfWork[Any] = Depends(unit_of_work("coordination", "caban"))) -> None:
        async with uow:
            uow.emit(measured, subject="action-46")

    async with client(keys, store, router) as http:
        response = await http.post("/measurements", headers=await bearer(keys, "caban", "caban"))

    assert response.status_code == 201, response.text
    [envelope] = store.events()
    raw = json.loads(envelope.model_dump_json())
    schema = json.loads(COMMITTED_SCHEMA.read_text("utf-8"))
    assert raw["actor"]["organisation"] == "caban" and raw["actor"]["role"] == "partner"
    jsonschema.validate(raw, schema)
    raw["actor"]["role"] = "caban"
    with pytest.raises(jsonschema.ValidationError):  # what a strict reader would have refused
        jsonschema.validate(raw, schema)


def test_the_document_shows_key_roles_as_keys_carry_them_and_keeps_readers_off_commands() -> None:
    router = api_router()

    @router.get("/cadastre", dependencies=[Depends(require("coordination", "caban"))])
    async def cadastre() -> None: ...

    @router.get("/figures", dependencies=[Depends(require())])
    async def figures() -> None: ...

    @router.post("/transfers", dependencies=[Depends(unit_of_work())])
    async def transfer() -> None: ...

    @router.post("/notes", dependencies=[Depends(require("coordination", "reader"))])
    async def note() -> None: ...

    shown = {route.path: access(route) for route in router.routes if isinstance(route, APIRoute)}
    assert shown == {
        "/cadastre": "coordination, caban",
        "/figures": "any key",
        "/transfers": "any key but reader",
        "/notes": "coordination",
    }
    app = FastAPI()
    app.include_router(router)
    app.state.api_routes = [r for r in router.routes if isinstance(r, APIRoute)]
    table = access_table(app)
    assert "| GET | `/cadastre` | key: coordination, caban |" in table
    assert "| POST | `/transfers` | any key but reader |" in table
