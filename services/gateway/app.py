"""Composition root of the gateway: the partner topics as Server-Sent Events."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.runtime.auth import authenticate
from services.runtime.http import create_http_app
from services.runtime.service import Runtime

from . import api
from .grants import BrokerAcls, Grants
from .settings import GatewaySettings
from .streams import RETRY_AFTER_S, Refused, Streams

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The service's app; with no settings, the defaults (e.g. to write its OpenAPI document).
    Nothing connects before the app starts (the ACLs' admin client at the first stream)."""
    settings = settings or GatewaySettings()
    # It writes no event: no outbox, no relay. Its database holds the API keys.
    # It writes no event: no relay, and a producer that asks for no producer id (its principal
    # may write nowhere).
    runtime = Runtime(settings, migrations=MIGRATIONS, relay=False, publishes=False)
    grants = Grants(BrokerAcls(settings.kafka), settings.topic_prefix, settings.grants_ttl_s)

    async def key_is_live(token: str) -> bool:
        return await authenticate(runtime.pool, token) is not None

    streams = Streams(settings, grants, runtime.metrics, key_is_live)
    app = create_http_app(
        runtime,
        title="Passerelle — gateway",
        description="The partner topics as Server-Sent Events, for partners without a Kafka client: the same "
        "topics their Kafka principal may read, resumable with Last-Event-ID.",
        routers=[api.router(streams)],
    )
    app.state.streams = streams  # for operators' and tests' eyes; the routes hold their own reference

    @app.exception_handler(Refused)
    async def refused(request: Request, error: Refused) -> JSONResponse:
        return JSONResponse(
            {"error": error.code, "reason": error.reason},
            status_code=error.status_code,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    return app
