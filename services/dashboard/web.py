"""The web application's frame: templates, the language, signing in and out, the live stream, the
feed and the audit trail. The figure pages (plan, equipment, funding, system) are in ``pages``.

Pages are rendered on the server (Jinja2) and work without JavaScript; ``static/dashboard.js``
adds the live updates: it follows ``GET /live`` (Server-Sent Events) and, when an event of a
page's topics arrives, fetches the page's figures again (``?fragment=1``: the same template
without the frame) and swaps them in, or adds the event's row to the feed. Nothing reloads, and
the focus stays where it was.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from passerelle_contracts import i18n
from passerelle_contracts.common import Language

from services.runtime.http import api_router
from services.runtime.inputs import brussels_today

from . import feed, texts
from .live import Hub
from .projector import EVENT_TYPES, TOPICS
from .settings import DashboardSettings
from .viewers import COOKIE, SignInRequired, Viewer, check_csrf, identify, sign_in, sign_out, signed_in

HERE = Path(__file__).resolve().parent
LANG_COOKIE = "passerelle_lang"
FORM_LIMIT = 4096  # bytes of a sign-in or replay form
BACKLOG_LIMIT = 500  # events a stream sends to catch up; more, and the page is told to reload
MAX_POSITION = 2**63 - 1  # a bigserial's largest: a larger one is a 422, not a database error
# Only this site's own script, styles and connections; no frame, no inline script or style (the
# charts are SVG attributes, the progress bars <progress>): an injected tag would do nothing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
RECHECK_S = 30.0  # how often an open stream checks that its session or key is still valid

templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals.update(i18n=i18n)
templates.env.filters.update(
    number=lambda value, lang, decimals=0: i18n.fmt_number(value, lang, decimals),
    percent=lambda value, lang, decimals=0: i18n.fmt_percent(value, lang, decimals),
    day=lambda value, lang: i18n.fmt_date(value, lang) if value else i18n.NOTHING,
    moment=lambda value, lang: i18n.fmt_datetime(value, lang) if value else i18n.NOTHING,
)


def language(request: Request) -> Language:
    """``?lang=``, else the cookie the switch set, else the browser's preference, else French."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in texts.LANGUAGES:
            return candidate
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in texts.LANGUAGES:
            return code
    return "fr"


def today() -> date:
    """Today in Brussels, as every service counts days (a UTC date is yesterday's until 1 or 2 am)."""
    return brussels_today()


def local_path(target: str | None) -> str:
    """A redirect target of this site only: a path, never another host (``//host``, ``/\\host``)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def render(
    request: Request,
    viewer: Viewer | None,
    template: str,
    context: Mapping[str, Any],
    *,
    title: str,
    live_topics: tuple[str, ...] = (),
    after: int | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A page in the viewer's language, or only its figures when the live script asks (``?fragment=1``).
    ``after``: the feed's last position read *before* the page's figures, from which its live
    stream starts (so that nothing applied meanwhile is missed)."""
    lang = language(request)
    t = texts.all_texts(lang)
    fragment = request.query_params.get("fragment") == "1"
    response = templates.TemplateResponse(
        request,
        template,
        {
            **context,
            "lang": lang,
            "other_lang": "nl" if lang == "fr" else "fr",
            "colon": "\u00a0:" if lang == "fr" else ":",  # French puts a (no-break) space before it
            "t": t,
            "viewer": viewer,
            "title": t.get(title, title),
            "live_topics": " ".join(live_topics),
            "after": after,
            "fragment": fragment,
            "path": request.url.path,
            "query": request.url.query,
        },
        status_code=status_code,
    )
    response.headers["Content-Language"] = lang
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(SECURITY_HEADERS)
    if request.query_params.get("lang") in texts.LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return response


def settings_of(request: Request) -> DashboardSettings:
    settings: DashboardSettings = request.app.state.runtime.settings
    return settings


def pool_of(request: Request) -> Any:
    return request.app.state.runtime.pool


async def read_form(request: Request) -> dict[str, str]:
    """A small urlencoded form (sign-in, replay), bounded; FastAPI's Form would need python-multipart."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"a form is at most {FORM_LIMIT} bytes")
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=10)
    except (UnicodeDecodeError, ValueError) as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"unreadable form: {error}") from None
    return {name: values[0] for name, values in fields.items()}


def feed_filters(
    topic: str | None = Query(default=None, max_length=feed.MAX_FILTER_LENGTH),
    type: str | None = Query(default=None, max_length=feed.MAX_FILTER_LENGTH),
    organisation: str | None = Query(default=None, max_length=feed.MAX_FILTER_LENGTH),
    action: int | None = Query(default=None, ge=1, le=66),
    before: int | None = Query(default=None, ge=1, le=MAX_POSITION),
) -> feed.Filters:
    """The feed's filters from the query (the page and its JSON read the same ones)."""
    return feed.Filters(topic or None, type or None, organisation or None, action, before)


def router(hub: Hub) -> APIRouter:
    r = api_router()

    @r.get("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_form(request: Request, next: str = Query(default="/", max_length=2000)) -> HTMLResponse:
        return render(request, None, "login.html", {"next": local_path(next), "error": False}, title="sign_in_title")

    @r.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await read_form(request)
        target = local_path(form.get("next"))
        key = form.get("key", "")
        signed = await sign_in(pool_of(request), key, settings_of(request).session_ttl_s) if key else None
        if signed is None:
            return render(
                request, None, "login.html", {"next": target, "error": True}, title="sign_in_title", status_code=401
            )
        token, _viewer = signed
        response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
        response.set_cookie(
            COOKIE,
            token,
            max_age=settings_of(request).session_ttl_s,
            httponly=True,
            samesite="strict",
            secure=settings_of(request).secure_cookies,
        )
        return response

    @r.post("/logout", include_in_schema=False)
    async def logout(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
        form = await read_form(request)
        check_csrf(viewer, form.get("csrf"))
        token = request.cookies.get(COOKIE)
        if token:
            await sign_out(pool_of(request), token)
        response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
        response.delete_cookie(COOKIE)
        return response

    @r.get("/feed", response_class=HTMLResponse, summary="The live feed: every event as it arrives, filterable")
    async def feed_page(
        request: Request,
        viewer: Viewer = Depends(signed_in),
        filters: feed.Filters = Depends(feed_filters),
    ) -> HTMLResponse:
        # The last position first: an event applied while the page is read is then after it, and
        # the page's stream sends it (the script drops a row it has already).
        latest = await feed.latest(pool_of(request))
        events = await feed.page(pool_of(request), viewer, filters, settings_of(request).feed_page_size)
        older = events[-1].position if len(events) == settings_of(request).feed_page_size else None
        return render(
            request,
            viewer,
            "feed.html",
            {
                "events": events,
                "filters": filters,
                "topics": TOPICS,
                "types": sorted(EVENT_TYPES),
                "older": urlencode({**filters.as_query(), "before": older}) if older else None,
                "latest": latest,
            },
            title="nav_feed",
            live_topics=TOPICS,
            after=latest,
        )

    @r.get("/api/feed", summary="The feed as JSON, newest first")
    async def feed_json(
        request: Request,
        viewer: Viewer = Depends(signed_in),
        filters: feed.Filters = Depends(feed_filters),
        limit: int = Query(default=100, ge=1, le=1000),
    ) -> JSONResponse:
        events = await feed.page(pool_of(request), viewer, filters, limit)
        return JSONResponse({"events": [e.as_json() for e in events]})

    @r.get("/trail/{correlation_id}", response_class=HTMLResponse, summary="One flow's events across the services")
    async def trail_page(request: Request, correlation_id: uuid.UUID, viewer: Viewer = Depends(signed_in)) -> Response:
        events = await feed.trail(pool_of(request), viewer, correlation_id)
        if not events:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no event of this flow that you may see")
        return render(
            request, viewer, "trail.html", {"events": events, "correlation_id": correlation_id}, title="trail_title"
        )

    @r.get("/api/trail/{correlation_id}", summary="One flow's events as JSON, in the order they happened")
    async def trail_json(
        request: Request, correlation_id: uuid.UUID, viewer: Viewer = Depends(signed_in)
    ) -> JSONResponse:
        events = await feed.trail(pool_of(request), viewer, correlation_id)
        return JSONResponse({"correlation_id": str(correlation_id), "events": [e.as_json() for e in events]})

    @r.get(
        "/live",
        summary="Server-Sent Events: each new event the viewer may see, as a feed row",
        tags=["stream"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "The events, as they are applied"}},
    )
    async def live(
        request: Request,
        viewer: Viewer = Depends(signed_in),
        after: int | None = Query(
            default=None, ge=0, le=MAX_POSITION, description="Send the events after this position first"
        ),
    ) -> Response:
        # A page knows the last position it showed (the feed's ``data-after``); a reconnecting
        # EventSource sends the last id it received. Either way the events applied in between are
        # sent first, so that none falls in the gap between a page's rendering and its stream.
        # Positions commit in their order (``projector.FEED_LOCK``), so "after" misses nothing.
        last_id = request.headers.get("last-event-id", "")
        if last_id.isdigit() and int(last_id) <= MAX_POSITION:
            after = int(last_id)
        refused = hub.refusal(viewer.key_id)
        if refused is not None:
            return JSONResponse(
                {"error": "too_many_streams", "reason": refused}, status_code=503, headers={"Retry-After": "10"}
            )
        lang = language(request)
        heartbeat = settings_of(request).heartbeat_s
        ends_at = time.monotonic() + settings_of(request).max_stream_s

        def message(event: feed.FeedEvent) -> str:
            row = templates.get_template("_feed_row.html").render(
                event=event, lang=lang, t=texts.all_texts(lang), viewer=viewer
            )
            payload = {
                "position": event.position,
                "topic": event.topic,
                "type": event.event_type,
                "action": event.action_number,
                "organisations": event.organisations,
                "row": row,
            }
            return f"id: {event.position}\nevent: feed\ndata: {json.dumps(payload)}\n\n"

        async def still_signed_in() -> bool:
            try:
                await identify(request)
            except SignInRequired:
                return False
            return True

        async def events() -> AsyncIterator[str]:
            # The subscription is taken here, inside the body: a client gone before the first
            # chunk never starts the generator, and so never holds a slot.
            async with hub.subscribe(viewer.key_id) as queue:
                yield "retry: 3000\n\n"
                sent = 0
                if after is not None:
                    missed = await feed.after(pool_of(request), viewer, after, BACKLOG_LIMIT + 1)
                    if len(missed) > BACKLOG_LIMIT:
                        yield "event: reload\ndata: {}\n\n"
                        return
                    for event in missed:
                        sent = event.position
                        yield message(event)
                last = checked = time.monotonic()
                while time.monotonic() < ends_at:  # then the browser reconnects with Last-Event-ID
                    try:
                        position = await asyncio.wait_for(queue.get(), timeout=1.0)
                    except TimeoutError:
                        now = time.monotonic()
                        if await request.is_disconnected():
                            return
                        if now - checked >= RECHECK_S:  # a revoked key or an ended session ends its streams
                            checked = now
                            if not await still_signed_in():
                                yield "event: reload\ndata: {}\n\n"
                                return
                        if now - last >= heartbeat:
                            last = now
                            yield ": keep-alive\n\n"
                        continue
                    last = time.monotonic()
                    if position is None:  # fell behind, or the listener reconnected
                        yield "event: reload\ndata: {}\n\n"
                        return
                    if position <= sent:
                        continue  # sent with the backlog already
                    found = await feed.one(pool_of(request), viewer, position)
                    if found is not None:
                        yield message(found)

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return r


def login_redirect(request: Request) -> Response:
    """Where ``SignInRequired`` leads: the form for a page, 401 for JSON and the live stream."""
    path = request.url.path
    if path.startswith("/api/") or path == "/live" or "text/html" not in request.headers.get("accept", ""):
        return JSONResponse(
            {"error": "sign_in_required", "reason": "sign in, or send an API key (Authorization: Bearer …)"},
            status_code=401,
        )
    target = path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=status.HTTP_303_SEE_OTHER)
