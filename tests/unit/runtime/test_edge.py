"""The edge of every service's API (``services.runtime.edge``): a route's roles, and a body above
the limit refused before the route runs."""

from __future__ import annotations

import httpx
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute

from services.runtime.auth import require
from services.runtime.edge import route_policy
from services.runtime.http import api_router


def test_a_route_needs_a_role_every_one_of_its_dependencies_allows() -> None:
    router = api_router()

    @router.get("/both", dependencies=[Depends(require()), Depends(require("coordination", "operator"))])
    async def both() -> None: ...

    @router.get("/narrowed", dependencies=[Depends(require("owner", "partner")), Depends(require("partner", "donor"))])
    async def narrowed() -> None: ...

    @router.get("/nobody", dependencies=[Depends(require("owner")), Depends(require("donor"))])
    async def nobody() -> None: ...

    @router.get("/open")
    async def open_() -> None: ...

    policies = {route.path: route_policy(route) for route in router.routes if isinstance(route, APIRoute)}
    assert policies["/both"].key_required and policies["/both"].roles == ("coordination", "operator")
    assert policies["/narrowed"].roles == ("partner",)
    assert policies["/nobody"].roles == (), "no role, not any role"
    assert not policies["/open"].key_required


async def test_a_command_that_reads_no_body_is_not_run_when_the_declared_body_is_above_the_limit() -> None:
    """Found by review: Starlette's limit acts when the body is read; a route that never reads it
    ran (and committed), then its answer was replaced by 413."""
    ran = []
    router = api_router(max_body_size=1024)

    @router.post("/confirm")
    async def confirm() -> dict[str, bool]:
        ran.append(True)
        return {"confirmed": True}

    app = FastAPI()
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge") as client:
        refused = await client.post("/confirm", content=b"x" * 4096)
        accepted = await client.post("/confirm")

    assert refused.status_code == 413
    assert accepted.status_code == 200
    assert ran == [True], "only the second request ran the command"
