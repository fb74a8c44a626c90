"""What each partner may stream: the partner topics its Kafka principal may read, per the broker's
own ACLs, so that the HTTP stream and a Kafka client are granted the same topics, by the same
grant (``python -m services.access`` writes them; the gateway only reads them).

The broker is asked through ``services.access.admin.Admin`` (confluent-kafka, which blocks: it
runs in a thread), at most once per partner every ``grants_ttl_s``; concurrent streams of one
partner share the answer. When the broker does not answer, the last answer serves for a few
more periods (streams keep going through a short blip), then the grants are unknown: no new
stream, and open ones end.

A partner's READ grants are Kafka's: a literal ACL on a topic, a prefixed ACL on every topic
that starts with its name, the literal ``*`` on every topic. DENY bindings and ACLs of
``User:*`` are not read (``Admin.grants`` returns neither; ``services.access`` never writes
them).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable

from services.access.admin import Admin
from services.access.principals import Grant, partner_principal, partner_topics
from services.runtime.kafka_access import KafkaAccess
from services.runtime.logs import get_logger

log = get_logger(__name__)

STALE_PERIODS = 4  # how many periods a last answer serves while the broker does not answer

ReadGrants = Callable[[str], Iterable[Grant]]
"""A principal's ALLOW grants, as the broker holds them (blocking)."""


class GrantsUnavailable(RuntimeError):
    """The broker did not say what the partner may read (and no recent answer is known)."""


def readable_topics(grants: Iterable[Grant], prefix: str) -> frozenset[str]:
    """The partner topics (registry names, without ``prefix``) the grants let their principal read."""
    names = {name: prefix + name for name in partner_topics()}
    readable: set[str] = set()
    for grant in grants:
        if grant.resource_type != "topic" or grant.operation != "read":
            continue
        if grant.pattern_type == "prefixed":
            readable |= {name for name, full in names.items() if full.startswith(grant.resource_name)}
        elif grant.resource_name == "*":
            readable |= set(names)
        else:
            readable |= {name for name, full in names.items() if full == grant.resource_name}
    return frozenset(readable)


class BrokerAcls:
    """The ACLs as the broker holds them, through one admin client made at the first question
    (not at import nor when the app is built: tools build apps without a broker)."""

    def __init__(self, access: KafkaAccess) -> None:
        self._access = access
        self._admin: Admin | None = None
        self._lock = threading.Lock()

    def __call__(self, principal: str) -> set[Grant]:
        with self._lock:
            if self._admin is None:
                self._admin = Admin(self._access)
            admin = self._admin
        return admin.grants(principal)


class Grants:
    """The partner topics each partner may read, cached for ``ttl_s``."""

    def __init__(
        self, read: ReadGrants, prefix: str, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._read = read
        self._prefix = prefix
        self.ttl_s = ttl_s
        self._clock = clock
        self._known: dict[str, tuple[float, frozenset[str]]] = {}  # code -> (when read, topics)
        self._locks: dict[str, asyncio.Lock] = {}

    async def readable(self, code: str) -> frozenset[str]:
        """The partner topics the organisation ``code`` may read (none for a code that cannot be a
        partner's); ``GrantsUnavailable`` when the broker does not answer and no recent answer is known."""
        try:
            principal = partner_principal(code, self._prefix)
        except ValueError:
            return frozenset()  # an organisation code no partner principal can have: granted nothing
        fresh = self._fresh(code)
        if fresh is not None:
            return fresh
        async with self._locks.setdefault(code, asyncio.Lock()):
            fresh = self._fresh(code)  # another stream of the partner may have just asked
            if fresh is not None:
                return fresh
            try:
                held = await asyncio.to_thread(self._read, principal)
            except Exception as error:  # noqa: BLE001 - whatever the client raises, the grants are unknown
                return self._stale(code, error)
            topics = readable_topics(held, self._prefix)
            self._known[code] = (self._clock(), topics)
            return topics

    def _fresh(self, code: str) -> frozenset[str] | None:
        known = self._known.get(code)
        if known is not None and self._clock() - known[0] < self.ttl_s:
            return known[1]
        return None

    def _stale(self, code: str, error: Exception) -> frozenset[str]:
        known = self._known.get(code)
        if known is not None and self._clock() - known[0] < STALE_PERIODS * self.ttl_s:
            log.warning("grants not read; the last answer serves", partner=code, error=repr(error))
            return known[1]
        log.error("grants not read", partner=code, error=repr(error))
        raise GrantsUnavailable(f"the broker did not say what {code} may read; try again") from None
