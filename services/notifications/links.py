"""One-click unsubscribe links (RFC 8058) that need no login, and nothing else.

A link names a contact and a topic (an event type, or a kind of digest) and carries an HMAC of
both under this deployment's own key (``service_secrets``), so it cannot be forged for another
contact or topic, needs no session, and stays valid as long as the contact exists. Following it
with GET only shows a confirmation page: mail scanners fetch links, and RFC 8058 says a GET must
not unsubscribe; the mail client's one-click POST (``List-Unsubscribe=One-Click``) does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

KEY_NAME = "unsubscribe"
_TOPIC = re.compile(r"^(\*|[A-Za-z]{3,60}|digest:(daily|weekly|meeting))$")


@dataclass(frozen=True)
class Unsubscribe:
    contact: int
    topic: str


def _mac(key: bytes, contact: int, topic: str) -> str:
    digest = hmac.new(key, f"{contact}\n{topic}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def token(key: bytes, contact: int, topic: str) -> str:
    """The link's last path segment: ``<contact>.<topic>.<mac>``."""
    return f"{contact}.{topic}.{_mac(key, contact, topic)}"


def read_token(key: bytes, value: str) -> Unsubscribe | None:
    """The contact and topic of a genuine token; none for anything else (forged, cut, too long)."""
    if len(value) > 120:
        return None
    parts = value.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[0]) > 18 or not _TOPIC.match(parts[1]):
        return None
    contact, topic = int(parts[0]), parts[1]
    if not hmac.compare_digest(parts[2], _mac(key, contact, topic)):
        return None
    return Unsubscribe(contact, topic)


def unsubscribe_url(public_url: str, key: bytes, contact: int, topic: str) -> str:
    return f"{public_url.rstrip('/')}/unsubscribe/{token(key, contact, topic)}"
