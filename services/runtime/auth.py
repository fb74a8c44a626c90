"""Bearer API keys: each maps to an organisation and a role; only a hash of the secret is kept.

Tokens look like ``psk_<key id>_<secret>``. The secret is 256 random bits, so a plain SHA-256
is enough to store it (no password-stretching needed for high-entropy keys), and the key id
lets us find the row without scanning.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime

import asyncpg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from passerelle_contracts import Actor

TOKEN_PREFIX = "psk"  # noqa: S105 - the tokens' public prefix, not a secret
bearer = HTTPBearer(auto_error=False, description="An API key created with `create-api-key`.")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# An organisation's code as the services know it (caban, epn-ixelles, coordination-inclusion-numerique).
ORGANISATION_CODE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")


def check_organisation(code: str) -> str:
    """The code, if it is one; else ``ValueError`` with the reason (a key names its organisation
    on every event it causes: a typo there is an actor nobody can find)."""
    if not ORGANISATION_CODE.fullmatch(code):
        raise ValueError(f"{code!r} is not an organisation code: lower-case letters, digits and hyphens, at most 64")
    return code


async def create_api_key(
    pool: asyncpg.Pool, organisation: str, role: str, label: str = "", expires_at: datetime | None = None
) -> str:
    check_organisation(organisation)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    await pool.execute(
        """INSERT INTO api_keys (key_id, secret_sha256, organisation, role, label, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        key_id,
        _hash(secret),
        organisation,
        role,
        label,
        expires_at,
    )
    return f"{TOKEN_PREFIX}_{key_id}_{secret}"


async def authenticate(pool: asyncpg.Pool, token: str) -> Actor | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    _, key_id, secret = parts
    row = await pool.fetchrow(
        """SELECT secret_sha256, organisation, role FROM api_keys
           WHERE key_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())""",
        key_id,
    )
    if row is None or not hmac.compare_digest(row["secret_sha256"], _hash(secret)):
        return None
    return Actor(organisation=row["organisation"], role=row["role"], key_id=key_id)


# The attribute that marks a dependency made by ``require``: the edge (``edge.py``) and the
# OpenAPI document (``openapi.py``) read a route's roles from it.
ROLES_ATTRIBUTE = "__passerelle_roles__"


def require(*roles: str) -> Callable[..., object]:
    """A FastAPI dependency: the caller's Actor, if its key is valid and its role is allowed (any
    role if none is named).

    The edge (``edge.EdgeRoute``) has already checked both before the body was read and left the
    Actor on ``request.state``; the role is checked here again all the same, so that a route with
    two such dependencies needs a role both allow."""
    allowed: Iterable[str] = roles

    async def dependency(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Actor:
        actor: Actor | None = getattr(request.state, "actor", None)  # the edge's, if it ran
        if actor is None:
            if credentials is None:
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, "an API key is required (Authorization: Bearer …)")
            actor = await authenticate(request.app.state.runtime.pool, credentials.credentials)
            if actor is None:
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key")
        if allowed and actor.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"role {actor.role!r} may not do this; allowed: {sorted(allowed)}"
            )
        return actor

    setattr(dependency, ROLES_ATTRIBUTE, tuple(roles))
    return dependency


async def list_api_keys(pool: asyncpg.Pool, organisation: str | None = None) -> list[dict[str, object]]:
    """The keys (never their secrets), newest first; revoked ones carry their ``revoked_at``."""
    rows = await pool.fetch(
        """SELECT key_id, organisation, role, label, created_at, revoked_at, expires_at FROM api_keys
           WHERE $1::text IS NULL OR organisation = $1 ORDER BY created_at DESC, key_id""",
        organisation,
    )
    return [dict(row) for row in rows]


async def revoke_api_key(pool: asyncpg.Pool, key_id: str) -> bool:
    """Revoke a key at once (the next request with it gets 401). False if no such live key.

    A key is revoked, never deleted: the key id stays on the events it caused (``Actor.key_id``),
    and the row says what it was and when it stopped."""
    revoked = await pool.fetchval(
        "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL RETURNING true", key_id
    )
    return bool(revoked)


async def expire_api_key(pool: asyncpg.Pool, key_id: str, at: datetime) -> bool:
    """Set when a live key stops working (now or later); False if no such live key."""
    expired = await pool.fetchval(
        "UPDATE api_keys SET expires_at = $2 WHERE key_id = $1 AND revoked_at IS NULL RETURNING true", key_id, at
    )
    return bool(expired)
