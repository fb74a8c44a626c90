"""Who may call what, on every route of every service (issue 10), read from each service's own
OpenAPI document: a route that needs a key refuses a caller without one (401) before it reads
the body, and a key of a role the route does not allow (403); a reader key writes nothing and
reads what any key reads."""

from __future__ import annotations

import re
from typing import Any

import pytest
from passerelle_contracts.common import KEY_ROLES

SERVICES = ("actions", "equipment", "funding", "gateway", "notifications")
COMMANDS = {"post", "put", "patch", "delete"}


def allowed_roles(access: str) -> set[str]:
    """The key roles an ``x-passerelle-access`` names ("any key but reader": all the others)."""
    if access == "any key":
        return set[str](KEY_ROLES)
    if access == "any key but reader":
        return set[str](KEY_ROLES) - {"reader"}
    return set(access.split(", "))


SOME_UUID = "00000000-0000-4000-8000-000000000001"


def operations(service: Any) -> list[tuple[str, str, str]]:
    """(method, concrete path, access) of every documented operation; path parameters are "1",
    which every route's pattern matches (they are validated after the key is checked), or a UUID
    where the route itself takes only UUIDs (``/meetings/{meeting_id:uuid}``)."""
    found = []
    for template, item in service.app.openapi()["paths"].items():
        for method, operation in item.items():
            uuids = {
                p["name"]
                for p in operation.get("parameters", [])
                if p["in"] == "path" and p.get("schema", {}).get("format") == "uuid"
            }
            names = re.findall(r"\{([^}]+)\}", template)
            path = template
            for name in names:
                path = path.replace(f"{{{name}}}", SOME_UUID if name in uuids else "1")
            found.append((method, path, operation["x-passerelle-access"]))
    return found


# What anyone may read, decided per route (issue 10): the plan, its indicators and aggregate
# figures, and the operational endpoints (health, readiness, counters, the AsyncAPI document).
# Written out, not read from the document, so that a route made public by mistake fails here.
OPERATIONS = ["GET /asyncapi.json", "GET /health", "GET /metrics", "GET /ready"]
PUBLIC = {
    "actions": [
        "GET /actions",
        "GET /actions/1",
        "GET /annual-reports",
        "GET /annual-reports/1/1",
        "GET /indicators",
        "GET /milestones",
        "GET /organisations",
        "GET /rollup",
        *OPERATIONS,
    ],
    "equipment": ["GET /caps", "GET /figures", *OPERATIONS],
    "funding": [
        "GET /epn-labels",
        "GET /epn-labels/1",
        "GET /epns",
        "GET /epns/1",
        "GET /label-criteria",
        "GET /calls",
        "GET /calls/export.csv",
        "GET /calls/export.xlsx",
        "GET /calls/1",
        *OPERATIONS,
    ],
    # The one-click unsubscribe (RFC 8058) needs no login: its link's HMAC token is the credential.
    "notifications": ["GET /unsubscribe/1", "POST /unsubscribe/1", *OPERATIONS],
    "gateway": OPERATIONS,  # the stream needs a key: what it sends depends on the partner's ACLs
}
# Services that take no command at all: the gateway only streams.
READ_ONLY = {"gateway"}
# Commands anyone may send, each with the credential it carries instead of a key.
PUBLIC_COMMANDS = {("post", "/unsubscribe/1")}


@pytest.fixture(params=SERVICES)
def service(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("name", SERVICES)
def test_only_the_plan_its_indicators_aggregate_figures_and_operations_are_public(
    name: str, request: pytest.FixtureRequest
) -> None:
    service = request.getfixturevalue(name)
    public = sorted(f"{m.upper()} {p}" for m, p, access in operations(service) if access == "public")

    assert public == sorted(PUBLIC[name])


async def test_no_command_is_public_and_every_keyed_route_refuses_a_caller_without_a_key(service: Any) -> None:
    keyed = [(m, p) for m, p, access in operations(service) if access != "public"]
    public_commands = {(m, p) for m, p, access in operations(service) if m in COMMANDS and access == "public"}
    assert public_commands <= PUBLIC_COMMANDS
    assert keyed, "a service with no keyed route"
    for method, path in keyed:
        # A malformed body, too: the key is checked before the body is read (it was 422 before).
        response = await service.client.request(
            method, path, content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 401, f"{method.upper()} {path}: {response.status_code} {response.text}"
        assert response.json()["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_every_keyed_route_refuses_a_role_it_does_not_allow(service: Any) -> None:
    checked = 0
    for method, path, access in operations(service):
        if access in ("public", "any key"):
            continue
        other = next(role for role in KEY_ROLES if role not in allowed_roles(access))
        headers = {**await service.key("some-partner", other), "Content-Type": "application/json"}
        response = await service.client.request(method, path, content=b"{not json", headers=headers)
        assert response.status_code == 403, f"{method.upper()} {path} as {other}: {response.text}"
        assert other in response.json()["reason"]
        checked += 1
    assert checked


async def test_a_reader_key_is_refused_on_every_command_route(service: Any) -> None:
    headers = {**await service.key("some-partner", "reader"), "Content-Type": "application/json"}
    # A public command (the one-click unsubscribe) takes no key at all: a reader's is not read.
    commands = [(m, p, access) for m, p, access in operations(service) if m in COMMANDS and access != "public"]
    assert commands or service.app.state.runtime.settings.service_name in READ_ONLY, "a service that takes no command"
    for method, path, access in commands:
        assert "reader" not in allowed_roles(access), f"{method.upper()} {path} documents a reader may write"
        response = await service.client.request(method, path, content=b"{not json", headers=headers)
        assert response.status_code == 403, f"{method.upper()} {path} as reader: {response.status_code} {response.text}"
        assert "'reader'" in response.json()["reason"]


async def test_a_reader_key_passes_the_key_check_of_every_read_open_to_any_key(service: Any) -> None:
    headers = await service.key("some-partner", "reader")
    reads = [(m, p) for m, p, access in operations(service) if m == "get" and access == "any key"]
    for method, path in reads:
        response = await service.client.request(method, path, headers=headers)
        assert response.status_code != 401, f"GET {path} as reader: {response.text}"
        # A 403 may still come after the key check, about the data (the gateway: no topic granted
        # to this organisation), never about the role.
        if response.status_code == 403:
            assert "reader" not in response.json()["reason"], f"GET {path} as reader: {response.text}"


async def test_a_body_above_the_limit_is_refused_before_it_is_read(funding: Any) -> None:
    headers = {**await funding.key("coordination-inclusion-numerique", "coordination")}
    huge = b'{"call_code": "' + b"x" * (2 * 1024 * 1024) + b'"}'

    response = await funding.client.post("/grants", content=huge, headers=headers)

    assert response.status_code == 413
    assert response.json()["error"] == "too-large", "the same JSON shape as every other refusal"


async def test_a_body_streamed_past_the_limit_is_cut_off(funding: Any) -> None:
    headers = {**await funding.key("coordination-inclusion-numerique", "coordination")}

    async def chunks() -> Any:  # no Content-Length: the limit is counted as the body arrives
        for _ in range(40):
            yield b"x" * 64 * 1024

    response = await funding.client.post("/grants", content=chunks(), headers=headers)

    assert response.status_code == 413
    assert response.json()["error"] == "too-large"


async def test_a_method_the_path_does_not_have_is_405_naming_all_the_methods_it_has(notifications: Any) -> None:
    """Starlette's Allow named only the first route on the path (GET), not PUT (found by fuzzing)."""
    response = await notifications.client.request("DELETE", "/partners/caban")

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, PUT"
    assert response.json()["error"] == "method-not-allowed"
