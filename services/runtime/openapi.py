"""The OpenAPI document says everything a service can answer, and who may call what.

FastAPI documents a route's success and its 422 (with a schema we do not send). Partners, and
the fuzzer in CI (``tests/fuzz``), read the document as a promise, so each operation gets:

- every error it can answer, with the body we send (``Error``): 400 (a malformed
  ``X-Correlation-ID``), 404, 422, 503 (the database is away) on all; 401 and 403 on those that
  need a key; 409 and 413 on commands;
- ``x-passerelle-access``: ``public``, ``any key``, ``any key but reader`` (commands, and any
  unit of work: a reader key writes nothing) or the key roles allowed as keys carry them
  (``coordination, caban``: not the event roles their events show), read from the same
  dependency tree the edge enforces (``edge.route_policy``), and the body limit on commands;
- the media type of a file a GET serves (``….csv``, ``….pdf``, ``….png``, ``….xlsx``) when the route does not
  declare it.

``access_table`` renders the same facts as the table each service's README carries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from .auth import READ_ONLY_ROLES, WRITER_ROLES
from .edge import COMMANDS, DEFAULT_BODY_LIMIT, route_policy

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "reason"],
    "properties": {
        "error": {"type": "string", "description": "A stable code: unauthorized, forbidden, not-found, conflict, …"},
        "reason": {"type": "string", "description": "What was wrong, for a person"},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"where": {"type": "string"}, "problem": {"type": "string"}},
            },
        },
    },
}

ERRORS = {
    "400": "A malformed request header (X-Correlation-ID must be a UUID)",
    "401": "No API key, or an unknown, expired or revoked one",
    "403": "The key's role may not do this",
    "404": "No such resource",
    "409": "Valid, but not in the current state",
    "413": "The body is larger than the limit",
    "422": "Invalid input, with the reason",
    "503": "The database is unavailable; try again",
}

FILE_TYPES = {
    ".csv": "text/csv",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
ANY_KEY, ANY_WRITING_KEY = "any key", f"any key but {', '.join(sorted(READ_ONLY_ROLES))}"


def access(route: APIRoute) -> str:
    """``public``, ``any key``, ``any key but reader``, or the key roles the route allows."""
    policy = route_policy(route)
    if not policy.key_required:
        return "public"
    if policy.roles is None:
        return ANY_KEY
    if set(policy.roles) == set(WRITER_ROLES):
        return ANY_WRITING_KEY
    return ", ".join(policy.roles) or "nobody (its requirements exclude each other)"


def _amend(document: dict[str, Any], routes: list[APIRoute], body_limit: int | None) -> None:
    document.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for route in routes:
        policy = route_policy(route)
        for method in route.methods or ():
            operation = document["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:  # include_in_schema=False
                continue
            codes = ["400", "404", "422", "503"]
            if policy.key_required:
                codes += ["401", "403"]
            if method in COMMANDS:
                codes += ["409", "413"]
                operation["x-max-body-bytes"] = route.max_body_size or body_limit
            responses = operation.setdefault("responses", {})
            if "201" in responses and "200" not in responses:  # a repeated command gets the first reply
                responses["200"] = {**responses["201"], "description": "Already done: the first reply, unchanged"}
            for code in codes:
                documented = responses.setdefault(code, {"description": ERRORS[code]})
                # The edge answers errors in JSON; a route that answers one of its own in another
                # media type (a page for a person) documents it, and keeps it.
                documented["content"] = {**error_ref, **documented.get("content", {})}
            operation["x-passerelle-access"] = access(route)
            suffix = next((s for s in FILE_TYPES if route.path_format.endswith(s)), None)
            ok = responses.get("200", {})
            if method == "GET" and suffix and "application/json" in ok.get("content", {}):
                ok["content"] = {FILE_TYPES[suffix]: {"schema": {"type": "string", "format": "binary"}}}


def install(app: FastAPI, routes: list[BaseRoute]) -> None:
    """Replace ``app.openapi`` by one that amends FastAPI's document once, on first use; keep the
    service's routes on ``app.state.api_routes`` (FastAPI 0.16x includes routers lazily: the
    app's ``routes`` no longer lists them one by one)."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    app.state.api_routes = [r for r in routes if isinstance(r, APIRoute) and r.include_in_schema]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _amend(generate(), app.state.api_routes, DEFAULT_BODY_LIMIT)
        return app.openapi_schema  # type: ignore[return-value]  # set by generate() above

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to amend the document


def methods_at(app: FastAPI, path: str) -> str:
    """The methods the document lists for a concrete path (``Allow`` of a 405)."""
    methods: set[str] = set()
    for route in app.state.api_routes:
        if route.path_regex.match(path):
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


def access_table(app: FastAPI) -> str:
    """A Markdown table of the service's routes: method, path, who may call it, what it does."""
    lines = ["| method | path | who may call it | what |", "|---|---|---|---|"]
    rows = []
    for route in app.state.api_routes:
        for method in sorted(route.methods or ()):
            who = access(route)
            who = who if who in ("public", ANY_KEY, ANY_WRITING_KEY) else f"key: {who}"
            rows.append((route.path_format, method, who, (route.summary or route.name).replace("|", "\\|")))
    for path, method, who, what in sorted(rows):
        lines.append(f"| {method} | `{path}` | {who} | {what} |")
    return "\n".join(lines) + "\n"
