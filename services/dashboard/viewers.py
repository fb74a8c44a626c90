"""Who is looking: an operator signed in with an API key of this service, or a caller with the key.

The dashboard is a browser application, so a person signs in once (``POST /login`` with an API
key made by ``python -m services.dashboard keys create``) and gets a session: a random token in an
HttpOnly, SameSite=Strict cookie, whose SHA-256 alone is stored (``sessions``), like the keys'
secrets. Every request checks that the session has not expired *and that its key is still live*:
revoking or expiring the key ends its sessions at once. Scripts and tests may send the key itself
(``Authorization: Bearer``) to the JSON routes and pages instead.

Two views, by the key's role: the Coordination and operators see everything (every event with its
free text, the System page, the replay button); any other role sees the partner view: the figures,
and the feed of the events that name its organisation, without what partners never read (the
partner topics' projection, ``passerelle_contracts.partners``).

Forms that change something (sign out, replay) carry the session's CSRF token as well: the
SameSite cookie already keeps other sites' forms out, the token keeps it so behind a proxy that
rewrites cookies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from fastapi import HTTPException, Request, status

from services.runtime.auth import authenticate

COOKIE = "passerelle_session"
OPERATOR_ROLES = frozenset({"coordination", "operator"})


@dataclass(frozen=True)
class Viewer:
    organisation: str
    role: str  # the key's role
    key_id: str
    csrf: str = ""  # empty for a bearer key (no form to protect)

    @property
    def is_operator(self) -> bool:
        return self.role in OPERATOR_ROLES


class SignInRequired(Exception):
    """No valid session or key: a page redirects to the login form, a JSON route answers 401."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def sign_in(pool: asyncpg.Pool, key: str, ttl_s: int) -> tuple[str, Viewer] | None:
    """A new session for a live key: its token (for the cookie) and its viewer; None for a bad key."""
    caller = await authenticate(pool, key.strip())
    if caller is None or caller.actor.key_id is None:
        return None
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    await pool.execute("DELETE FROM sessions WHERE expires_at < now()")
    await pool.execute(
        """INSERT INTO sessions (token_hash, key_id, organisation, role, csrf, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        _hash(token),
        caller.actor.key_id,
        caller.actor.organisation,
        caller.key_role,
        csrf,
        datetime.now(UTC) + timedelta(seconds=ttl_s),
    )
    return token, Viewer(caller.actor.organisation, caller.key_role, caller.actor.key_id, csrf)


async def sign_out(pool: asyncpg.Pool, token: str) -> None:
    await pool.execute("DELETE FROM sessions WHERE token_hash = $1", _hash(token))


async def identify(request: Request) -> Viewer:
    """The viewer of a request: its session cookie, else its bearer key; ``SignInRequired`` if neither."""
    pool: asyncpg.Pool = request.app.state.runtime.pool
    token = request.cookies.get(COOKIE)
    if token:
        row = await pool.fetchrow(
            """SELECT s.key_id, s.organisation, s.role, s.csrf FROM sessions s
               JOIN api_keys k ON k.key_id = s.key_id
               WHERE s.token_hash = $1 AND s.expires_at > now()
                 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())""",
            _hash(token),
        )
        if row is not None:
            return Viewer(row["organisation"], row["role"], row["key_id"], row["csrf"])
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        caller = await authenticate(pool, credentials.strip())
        if caller is not None and caller.actor.key_id is not None:
            return Viewer(caller.actor.organisation, caller.key_role, caller.actor.key_id)
    raise SignInRequired


async def signed_in(request: Request) -> Viewer:
    """A FastAPI dependency: any signed-in viewer."""
    return await identify(request)


async def operator(request: Request) -> Viewer:
    """A FastAPI dependency: an operator or the Coordination (403 for the partner view)."""
    viewer = await identify(request)
    if not viewer.is_operator:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this page is for the Coordination and operators")
    return viewer


def check_csrf(viewer: Viewer, submitted: str | None) -> None:
    """A form's token must be its session's (a bearer key has no session and sends none)."""
    if viewer.csrf and not hmac.compare_digest(viewer.csrf, submitted or ""):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form is stale or forged: reload the page")
