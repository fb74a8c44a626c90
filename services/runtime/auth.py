"""Bearer API keys: each maps to an organisation and a role; only a hash of the secret is kept.

Tokens look like ``psk_<key id>_<secret>``. The secret is 256 random bits, so a plain SHA-256
is enough to store it (no password-stretching needed for high-entropy keys), and the key id
lets us find the row without scanning.

Key roles and event roles
-------------------------
A key carries a *key role* (``passerelle_contracts.common.KeyRole``): the event roles but
"system", and finer ones (``caban``, ``epn-operator``, ``applicant``, ``reader``). Routes name
key roles (``require("coordination", "caban")``) and the edge checks them against the key's.

Everything past the edge sees an ``Actor`` whose role is the *event* role the key acts in
(``WIRE_ROLE``: a finer role acts as ``partner``). Why: the Actor goes into every event's
envelope and into stored rows that are read back with ``Actor.model_validate`` (``recorded_by``);
strict readers of events accept only ``Role``'s values, and widening ``Role`` is a breaking
change of every event's schema. So a new key role changes who may call a route, never what an
event or a stored actor may hold. Code that needs the finer role asks for the ``Caller`` (the
Actor and the key role) with ``caller(*roles)`` instead of ``require(*roles)``.

A ``reader`` key reads and writes nothing: ``READ_ONLY_ROLES`` are kept out of every command
route at the edge (``edge.route_policy``) and out of every unit of work (``http.unit_of_work``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from passerelle_contracts import Actor, Role
from passerelle_contracts.common import KEY_ROLES, ROLES, WIRE_ROLE, KeyRole

from .logs import get_logger

log = get_logger(__name__)

TOKEN_PREFIX = "psk"  # noqa: S105 - the tokens' public prefix, not a secret
bearer = HTTPBearer(auto_error=False, description="An API key created with `create-api-key`.")

READ_ONLY_ROLES: frozenset[str] = frozenset({"reader"})
"""Key roles that never write: no command route and no unit of work admits them."""

WRITER_ROLES: tuple[KeyRole, ...] = tuple(role for role in KEY_ROLES if role not in READ_ONLY_ROLES)
"""The key roles that may write: what ``http.unit_of_work()`` with no role named admits."""


# Every key role's event role: its own, or the one WIRE_ROLE names for a finer role.
_EVENT_ROLES: dict[str, Role] = {**{role: role for role in ROLES if role != "system"}, **WIRE_ROLE}


def wire_role(key_role: str) -> Role:
    """The event role (``Actor.role``) a key of ``key_role`` acts in: a finer role's
    (``WIRE_ROLE``), else its own. ``KeyError`` for a role no key carries."""
    return _EVENT_ROLES[key_role]


def check_role(role: str) -> KeyRole:
    """The key role, if it is one; else ``ValueError`` with the reason ("system" is Passerelle
    itself, never a key; a misspelt role would be a key, or a route, nobody can use)."""
    if role not in KEY_ROLES:
        raise ValueError(f"{role!r} is not a key role: one of {', '.join(KEY_ROLES)}")
    return role


@dataclass(frozen=True)
class Caller:
    """Who calls: the ``Actor`` use cases, repositories and events see (its role is the event
    role, see the module docstring) and the key's own, possibly finer, role.

    Only the edge and the routers hold a Caller; what goes past them is ``actor``, so a finer
    role can never reach an event or a stored actor."""

    actor: Actor
    key_role: KeyRole


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
    """A new key of ``role`` (a key role: ``KEY_ROLES``) for ``organisation``; the token is
    returned once, only its hash is kept. ``ValueError`` for an organisation code or a role
    that is not one (the table has no CHECK on the role: this is where it is checked)."""
    check_organisation(organisation)
    check_role(role)
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


async def authenticate(pool: asyncpg.Pool, token: str) -> Caller | None:
    """The caller of a live key (neither revoked nor expired), None otherwise. Its ``actor``
    acts in the event role of the key's role (``wire_role``)."""
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
    if row["role"] not in KEY_ROLES:  # written by hand in the table, or a role since removed
        log.warning("API key with an unknown role refused", key_id=key_id, role=row["role"])
        return None
    key_role = check_role(row["role"])
    return Caller(Actor(organisation=row["organisation"], role=wire_role(key_role), key_id=key_id), key_role)


# The attribute that marks a dependency made by ``require`` or ``caller``: the edge (``edge.py``)
# and the OpenAPI document (``openapi.py``) read a route's key roles from it.
ROLES_ATTRIBUTE = "__passerelle_roles__"


def _checked_roles(roles: tuple[str, ...]) -> tuple[str, ...]:
    for role in roles:  # at import: a misspelt role would make a route nobody can call
        check_role(role)
    return roles


async def _identify(
    request: Request, credentials: HTTPAuthorizationCredentials | None, allowed: tuple[str, ...]
) -> Caller:
    found: Caller | None = getattr(request.state, "caller", None)  # the edge's, if it ran
    if found is None:
        if credentials is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "an API key is required (Authorization: Bearer …)")
        found = await authenticate(request.app.state.runtime.pool, credentials.credentials)
        if found is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key")
    if allowed and found.key_role not in allowed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"role {found.key_role!r} may not do this; allowed: {sorted(allowed)}"
        )
    return found


def caller(*roles: str) -> Callable[..., Awaitable[Caller]]:
    """A FastAPI dependency: the ``Caller`` (Actor and key role), if its key is valid and its key
    role is one of ``roles`` (any key role if none is named). For the few routes that need the
    finer role itself (a ``caban`` key reading what a ``partner`` key may not); the others use
    ``require``, whose Actor is all a use case should see."""
    allowed = _checked_roles(roles)

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> Caller:
        return await _identify(request, credentials, allowed)

    setattr(dependency, ROLES_ATTRIBUTE, allowed)
    return dependency


def require(*roles: str) -> Callable[..., Awaitable[Actor]]:
    """A FastAPI dependency: the caller's Actor, if its key is valid and its *key* role is one of
    ``roles`` (any key role if none is named: a read open to every key, ``reader`` included).

    The Actor's role is the event role the key acts in (``wire_role``): a ``caban`` key passes
    ``require("coordination", "caban")`` and its Actor's role is "partner". Routes that need the
    finer role use ``caller(*roles)``.

    The edge (``edge.EdgeRoute``) has already checked both before the body was read and left the
    Caller on ``request.state``; the role is checked here again all the same, so that a route with
    two such dependencies needs a role both allow."""
    allowed = _checked_roles(roles)

    async def dependency(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Actor:
        return (await _identify(request, credentials, allowed)).actor

    setattr(dependency, ROLES_ATTRIBUTE, allowed)
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
