"""The edge of every service's HTTP API: the key is checked before the body is read, and the body
is limited before it is held.

FastAPI reads and parses a JSON body before it resolves dependencies, so a client without a key
that sent a malformed body got 422 instead of 401, and one that sent a large body had it held in
memory first. ``EdgeRoute`` (every service's routers use it, through ``http.api_router``) checks
the key and the role *before* FastAPI's handler touches the body, and leaves the ``Caller``
(its Actor and its key role) on ``request.state`` so that ``auth.require`` does not look the key
up twice. Roles are checked against the key's own role (``caban``, ``reader`` …), never against
the event role its Actor acts in (see ``auth``).

A route answering a command (POST, PUT, PATCH, DELETE) never admits a read-only key role
(``auth.READ_ONLY_ROLES``: ``reader``), whatever its dependencies allow: "a reader key writes
nothing" holds by the HTTP method, at the one place every route passes, rather than by each
router remembering it. ``http.unit_of_work`` refuses it too, for a write behind a GET.

Body limits are FastAPI's own (``max_body_size``, new in 0.16x): ``DEFAULT_BODY_LIMIT`` on every
service router (JSON commands), a route's own for CSV uploads. A ``Content-Length`` above the
limit is refused at once with 413; a body sent without a length is counted as it streams and cut
off at the limit. They are set on the routers, not the app, so that they run inside the app's
middleware, where ``JsonTooLarge`` gives Starlette's plain-text 413 our JSON shape.

A route's needs are read once from FastAPI's dependency tree (``route_policy``), the same source
``openapi.py`` documents them from, so the document and the behaviour cannot drift.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from passerelle_contracts.common import KEY_ROLES
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY

from .auth import READ_ONLY_ROLES, ROLES_ATTRIBUTE, authenticate

DEFAULT_BODY_LIMIT = 1024 * 1024  # 1 MiB: the largest JSON command (a 5,000-device batch) is ~700 KiB
COMMANDS = frozenset({"POST", "PUT", "PATCH", "DELETE"})  # the methods that change something


@dataclass(frozen=True)
class RoutePolicy:
    key_required: bool
    roles: tuple[str, ...] | None  # key roles; None: any; empty: none at all (requirements that exclude each other)


def _roles_in(dependant: Dependant) -> tuple[bool, tuple[str, ...] | None]:
    """Whether any dependency needs a key, and the roles every one of them allows (None: any)."""
    needed, allowed = False, None
    for sub in dependant.dependencies:
        roles = getattr(sub.call, ROLES_ATTRIBUTE, None)
        if roles is not None:
            needed = True
            if roles:  # a dependency naming roles narrows what the others allow
                allowed = tuple(r for r in roles if allowed is None or r in allowed)
        nested_needed, nested = _roles_in(sub)
        if nested_needed:
            needed = True
            if nested is not None:
                allowed = tuple(r for r in nested if allowed is None or r in allowed)
    return needed, allowed


def route_policy(route: APIRoute) -> RoutePolicy:
    """Whether the route needs a key, and which key roles it allows (read from its dependencies:
    every one of them must allow a role). A command route never allows a read-only role: "any
    key" becomes every key role but those."""
    needed, roles = _roles_in(route.dependant)
    if needed and COMMANDS & set(route.methods or ()):
        roles = tuple(r for r in (KEY_ROLES if roles is None else roles) if r not in READ_ONLY_ROLES)
    return RoutePolicy(needed, roles)


async def check_key(request: Request, policy: RoutePolicy) -> None:
    """401 without a valid key, 403 for a key role the route does not allow; else the Caller is
    put on ``request.state.caller``."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "an API key is required (Authorization: Bearer …)", {"WWW-Authenticate": "Bearer"})
    caller = await authenticate(request.app.state.runtime.pool, token.strip())
    if caller is None:
        raise HTTPException(401, "unknown or revoked API key", {"WWW-Authenticate": "Bearer"})
    if policy.roles is not None and caller.key_role not in policy.roles:
        raise HTTPException(403, f"role {caller.key_role!r} may not do this; allowed: {sorted(policy.roles)}")
    request.state.caller = caller


def refuse_a_declared_body_above_the_limit(request: Request) -> None:
    """413 before the handler runs. Starlette's limit acts when the body is read, or, for a route
    that never reads it (``POST /transfers/{id}/confirm``), only when the response starts: the
    command would have been applied, then answered 413 (found by review)."""
    limit = request.scope.get(MAX_BODY_SIZE_SCOPE_KEY)
    declared = request.headers.get("content-length", "")
    if limit is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, "the body is larger than this route accepts")


class EdgeRoute(APIRoute):
    """An APIRoute that checks the caller's key before its body is read (FastAPI's documented hook
    for custom request handling: a route class overriding ``get_route_handler``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        policy = route_policy(self)
        if not policy.key_required:

            async def public(request: Request) -> Response:
                refuse_a_declared_body_above_the_limit(request)
                return await handle(request)

            return public

        async def handler(request: Request) -> Response:
            await check_key(request, policy)
            refuse_a_declared_body_above_the_limit(request)
            return await handle(request)

        return handler


class JsonTooLarge:
    """Starlette's body limit answers a ``Content-Length`` above the limit with a plain-text 413
    of its own ("Content Too Large"), whatever the app answered; every other refusal of ours is
    JSON with a reason. This ASGI wrapper, around the routes (and inside the correlation
    middleware, so the answer carries its id), gives that one the same shape."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rewriting = False

        async def json_send(message: dict[str, Any]) -> None:
            nonlocal rewriting
            if message["type"] == "http.response.start" and message["status"] == 413:
                headers = dict(message.get("headers", []))
                rewriting = headers.get(b"content-type", b"").startswith(b"text/plain")
                if rewriting:
                    body = json.dumps({"error": "too-large", "reason": "the body is larger than this route accepts"})
                    others = [(k, v) for k, v in message.get("headers", []) if k not in TOO_LARGE_REPLACED]
                    message = {
                        **message,
                        "headers": [
                            *others,
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                    await send(message)
                    await send({"type": "http.response.body", "body": body.encode()})
                    return
            elif rewriting:
                return  # the plain-text body, replaced above
            await send(message)

        await self.app(scope, receive, json_send)


TOO_LARGE_REPLACED = {b"content-type", b"content-length"}
