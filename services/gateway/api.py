"""HTTP API of the gateway: ``GET /streams``, the partner topics a key's organisation may read, as
Server-Sent Events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from services.runtime.auth import Caller, caller
from services.runtime.http import api_router

from . import selection
from .selection import Start
from .streams import Streams

# Key roles that read every partner topic without a grant of their own: as everywhere in
# Passerelle, the Coordination's and the operators' keys read everything (docs/architecture.md).
EVERY_TOPIC_ROLES = frozenset({"coordination", "operator"})

EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `id:` the position after the event, `event:` its type, `data:` the "
        "envelope (JSON, one line); `: keepalive` comments; id-only blocks when events left out by `types` "
        "moved the position; `event: revoked` before the stream ends when a topic is no longer granted or "
        "the key was revoked.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    429: {"description": "The organisation has its most streams open (Retry-After)"},
}


def router(streams: Streams) -> APIRouter:
    routes = api_router(tags=["streams"])

    @routes.get(
        "/streams",
        summary="The partner topics the key's organisation may read, as Server-Sent Events (resume with Last-Event-ID)",
        response_class=Response,
        responses=EVENT_STREAM,
    )
    async def stream(
        request: Request,
        who: Caller = Depends(caller()),
        topics: str | None = Query(
            default=None,
            max_length=2000,
            description="Comma-separated partner topics (registry names, e.g. passerelle.partners.funding.v1); "
            "default: every one granted to the organisation.",
        ),
        types: str | None = Query(
            default=None, max_length=4000, description="Comma-separated event types to send; default: all."
        ),
        start: Start = Query(
            default="beginning",
            alias="from",
            description="Where partitions the position does not name start: the first record or the next one.",
        ),
        last_event_id_query: str | None = Query(
            default=None,
            alias="last_event_id",
            max_length=4000,
            description="The last id received, for clients that cannot set the Last-Event-ID header (the header wins).",
        ),
        last_event_id: str | None = Header(
            default=None,
            alias="Last-Event-ID",
            max_length=4000,
            description="The last id received: the stream resumes right after it.",
        ),
    ) -> Response:
        # An EventSource sends the header with the latest id when it reconnects, to the same URL:
        # the header is newer than a last_event_id in that URL.
        asked = selection.parse(topics, types, start, last_event_id or last_event_id_query)
        partner = who.actor.organisation
        every_topic = who.key_role in EVERY_TOPIC_ROLES
        chosen, kinds = selection.resolve(asked, await streams.granted(partner, every_topic), partner)
        _, _, key = request.headers.get("authorization", "").partition(" ")  # the edge checked it is a bearer key
        return await streams.open(
            partner=partner,
            topics=chosen,
            types=kinds,
            every_topic=every_topic,
            start=asked.start,
            resume=asked.resume,
            key=key.strip(),
        )

    return routes
