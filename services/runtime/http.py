"""FastAPI for services that take commands from people: /health, /ready, /ops/outbox,
JSON errors with a reason, and a correlation id per request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import PasserelleError
from .service import Runtime

CORRELATION_HEADER = "X-Correlation-ID"


def correlation_id(request: Request) -> uuid.UUID:
    """The caller's correlation id (header), or a new one: it ends up on every event caused."""
    return request.state.correlation_id  # type: ignore[no-any-return]


def create_http_app(runtime: Runtime, *, title: str, description: str, routers: Iterable[APIRouter]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.runtime = runtime

    @app.middleware("http")
    async def bind_correlation(request: Request, call_next):  # type: ignore[no-untyped-def]
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

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "error")
        return JSONResponse({"error": code, "reason": str(error.detail)}, status_code=error.status_code, headers=error.headers)

    @app.get("/health", tags=["operations"], summary="The process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": runtime.settings.service_name}

    @app.get("/ready", tags=["operations"], summary="The database and the broker are reachable")
    async def ready() -> JSONResponse:
        checks = await runtime.readiness()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ok else "not-ready", **checks}, status_code=200 if ok else 503)

    @app.get("/ops/outbox", tags=["operations"], summary="Outbox backlog: unpublished events and the oldest one's age")
    async def outbox() -> dict[str, object]:
        return await runtime.outbox_backlog()

    for router in routers:
        app.include_router(router)
    return app
