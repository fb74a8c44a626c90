"""FastAPI for services that take commands from people: /health, /ready, /ops/outbox, /metrics,
/asyncapi.json, JSON errors with a reason, a correlation id per request, and the dependencies
routers use: ``unit_of_work(*roles)`` for commands, ``repository`` for public reads,
``idempotency_key`` for the header.

Routers parse, authorise (through these dependencies), call a use case and shape the reply;
they never hold SQL or reach into ``app.state``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

import asyncpg
import structlog
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from passerelle_contracts import Actor
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import asyncapi, openapi
from .auth import READ_ONLY_ROLES, WRITER_ROLES, require
from .edge import DEFAULT_BODY_LIMIT, EdgeRoute, JsonTooLarge
from .errors import PasserelleError
from .logs import get_logger
from .service import Runtime
from .uow import Context, UnitOfWork

log = get_logger(__name__)

CORRELATION_HEADER = "X-Correlation-ID"

# PostgreSQL data errors (class 22) that only a request's value causes: text too long, a number
# or a date beyond its type, a character the database cannot store (NUL).
INPUT_SQLSTATES = frozenset({"22001", "22003", "22007", "22008", "22021", "22P05"})


def correlation_id(request: Request) -> uuid.UUID:
    """The caller's correlation id (header), or a new one: it ends up on every event caused."""
    correlation: uuid.UUID = request.state.correlation_id  # set by bind_correlation on every request
    return correlation


def unit_of_work(*roles: str) -> Callable[..., Awaitable[UnitOfWork[Any]]]:
    """A dependency: a unit of work acting for the caller, whose key must carry one of the key
    roles ``roles`` (any key role that writes if none is named: never ``reader``); its events
    carry the request's correlation id.

    The unit of work is the only way a router writes, so this is where a read-only key is kept
    from writing whatever the route's method (the edge refuses it on every command route too).
    Naming a read-only role here is a mistake caught at import.

    Its actor is the Caller's ``actor``: the event role the key acts in, never a finer key role
    (``auth.wire_role``), so every event and every stored ``recorded_by`` holds a ``Role``."""
    if read_only := READ_ONLY_ROLES.intersection(roles):
        raise ValueError(f"a unit of work writes: a {', '.join(sorted(read_only))} key never gets one")
    authorised = require(*(roles or WRITER_ROLES))

    async def dependency(request: Request, actor: Actor = Depends(authorised)) -> UnitOfWork[Any]:
        runtime: Runtime = request.app.state.runtime
        return runtime.unit_of_work(Context(actor=actor, correlation_id=correlation_id(request)))

    return dependency


async def repository(request: Request) -> Any:
    """A dependency: the service's repository on the pool, for reads that need no key."""
    return request.app.state.runtime.repository()


async def idempotency_key(
    key: str | None = Header(
        default=None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Repeat a command safely: the same key and body get the first reply back; "
        "the same key with another body is refused (422). Keys belong to the caller's organisation.",
    ),
) -> str | None:
    return key


def api_router(**options: Any) -> APIRouter:
    """A service's router: its routes check the caller's key before they read the body
    (``edge.EdgeRoute``)."""
    options.setdefault("max_body_size", DEFAULT_BODY_LIMIT)
    return APIRouter(route_class=EdgeRoute, **options)


def create_http_app(runtime: Runtime, *, title: str, description: str, routers: Iterable[APIRouter]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.router.route_class = EdgeRoute
    app.add_middleware(JsonTooLarge)  # inside the correlation middleware (added below, so outside)
    app.state.runtime = runtime
    asyncapi.declare_publishers(runtime.broker, runtime.settings.service_name)

    @cache
    def asyncapi_document() -> dict[str, Any]:
        return asyncapi.document(
            runtime.broker, title=title, description=description, topic_prefix=runtime.settings.topic_prefix
        )

    app.state.asyncapi = asyncapi_document

    @app.middleware("http")
    async def bind_correlation(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        raw = request.headers.get(CORRELATION_HEADER)
        try:
            request.state.correlation_id = uuid.UUID(raw) if raw else uuid.uuid4()
        except ValueError:
            return JSONResponse({"error": "bad-request", "reason": f"{CORRELATION_HEADER} must be a UUID"}, 400)
        with structlog.contextvars.bound_contextvars(correlation_id=str(request.state.correlation_id)):
            response = await call_next(request)
        response.headers[CORRELATION_HEADER] = str(request.state.correlation_id)
        return response

    @app.exception_handler(PasserelleError)
    async def domain_error(request: Request, error: PasserelleError) -> JSONResponse:
        return JSONResponse({"error": error.code, "reason": error.reason}, status_code=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, error: RequestValidationError) -> JSONResponse:
        details = [{"where": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in error.errors()]
        reason = "; ".join(f"{d['where']}: {d['problem']}" for d in details)
        return JSONResponse({"error": "invalid-request", "reason": reason, "details": details}, status_code=422)

    @app.exception_handler(asyncpg.DataError)
    async def unstorable_value(request: Request, error: asyncpg.DataError) -> JSONResponse:
        # A backstop behind the limits at the edge: PostgreSQL refused a value a request carried
        # (a NUL character, a number or a date beyond its column, text too long). The unit of
        # work rolled back; it is the request's fault. Any other data error (a division by zero,
        # a bad cast in our SQL) is ours: a 500, logged, so that tests and the fuzzer see it.
        if error.sqlstate in INPUT_SQLSTATES:
            return JSONResponse({"error": "invalid-request", "reason": f"a value cannot be stored: {error}"}, 422)
        log.error("database refused a value the service made", error=repr(error), sqlstate=error.sqlstate)
        return JSONResponse({"error": "internal-error", "reason": "the service failed; it is logged"}, 500)

    async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
        if isinstance(error, asyncpg.InterfaceError) and isinstance(error, ValueError):
            # asyncpg refused to send a value (an integer beyond int4 …): the request's fault
            return JSONResponse({"error": "invalid-request", "reason": f"a value cannot be stored: {error}"}, 422)
        log.warning("database unavailable", error=repr(error))
        return JSONResponse(
            {"error": "unavailable", "reason": "the database is unavailable; try again"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    # The database went away (connection lost or refused, server shutting down, a statement
    # cancelled by its timeout): the unit of work rolled back; the client may try again.
    for unavailable in (
        asyncpg.InterfaceError,
        asyncpg.PostgresConnectionError,
        asyncpg.CannotConnectNowError,
        asyncpg.AdminShutdownError,
        asyncpg.QueryCanceledError,
        ConnectionError,
        TimeoutError,
    ):
        app.add_exception_handler(unavailable, database_unavailable)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 405:  # Starlette's Allow names only the first route on the path
            allowed = openapi.methods_at(app, request.url.path)
            return JSONResponse(
                {"error": "method-not-allowed", "reason": f"{request.method} is not allowed; allowed: {allowed}"},
                status_code=405,
                headers={"Allow": allowed},
            )
        code = {
            401: "unauthorized",
            403: "forbidden",
            404: "not-found",
            405: "method-not-allowed",
            413: "too-large",
        }.get(error.status_code, "error")
        return JSONResponse(
            {"error": code, "reason": str(error.detail)}, status_code=error.status_code, headers=error.headers
        )

    @app.get("/health", tags=["operations"], summary="The process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": runtime.settings.service_name}

    @app.get(
        "/ready",
        tags=["operations"],
        summary="The service can accept work (its database answers); what is degraded, if anything",
    )
    async def ready() -> JSONResponse:
        checks = await runtime.readiness()
        ok = checks.pop("ready")
        status = ("degraded" if checks["degraded"] else "ready") if ok else "not-ready"
        return JSONResponse({"status": status, **checks}, status_code=200 if ok else 503)

    @app.get(
        "/ops/outbox",
        tags=["operations"],
        summary="Outbox backlog: unpublished events and the oldest one's age",
        dependencies=[Depends(require("coordination", "operator"))],
    )
    async def outbox() -> dict[str, object]:
        return await runtime.outbox_backlog()

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics (text exposition format): counters and gauges, no data",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def metrics() -> Response:
        return Response(await runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/asyncapi.json", tags=["operations"], summary="The events this service publishes and consumes (AsyncAPI 3)"
    )
    async def asyncapi_json() -> dict[str, Any]:
        return asyncapi_document()

    routers = list(routers)
    for router in routers:
        strays = [r.path for r in router.routes if isinstance(r, APIRoute) and not isinstance(r, EdgeRoute)]
        if strays:  # a route that would read the body before checking the key
            raise TypeError(f"routes not made by api_router(): {strays}")
        app.include_router(router)
    openapi.install(app, [*app.router.routes, *(route for router in routers for route in router.routes)])
    return app
