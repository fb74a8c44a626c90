"""Checking, on a partner's side, that a webhook request comes from Passerelle: the Standard
Webhooks scheme (https://www.standardwebhooks.com), with the standard library only.

Passerelle sends each event as a JSON body with three headers:

* ``webhook-id`` -- the message's id, the same on every attempt: the receiver's idempotency key;
* ``webhook-timestamp`` -- when this attempt was signed, in seconds since the epoch;
* ``webhook-signature`` -- ``v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>``, several of
  them separated by spaces while a secret is being rotated (the old and the new secret both sign).

The secret Passerelle gives is ``whsec_`` followed by the key in base64. A receiver::

    from passerelle_contracts.webhooks import InvalidSignature, verify

    try:
        verify(secret, request.headers, raw_body)   # the bytes as received, before any JSON parsing
    except InvalidSignature:
        return 401

Verify the raw bytes: a body parsed and serialised again is not the one that was signed. The
timestamp bounds the replay window: a request captured on the way and sent again later is refused
once it is older than ``tolerance_s``; within the window, ``webhook-id`` lets the receiver drop a
repeat (also what makes Passerelle's retries harmless).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix every secret has, not a secret
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
# A header that long is not ours: every signature is 47 characters, and rotation needs two.
MAX_SIGNATURE_HEADER_CHARS = 4096


class InvalidSignature(ValueError):
    """The request is not one Passerelle signed with this secret, now: answer 401 and drop it."""


def secret_key(secret: str) -> bytes:
    """The key a ``whsec_<base64>`` secret holds (the prefix and the base64 padding are optional,
    as in the reference libraries). A ValueError for a secret that is not one: a configuration
    error on the receiver's side, not a bad request, so not an ``InvalidSignature``."""
    encoded = secret.removeprefix(SECRET_PREFIX).strip()
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from None
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of a message (what ``webhook-signature`` carries)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, *, tolerance_s: int = 300, now: int | None = None
) -> None:
    """Return if the request carries a valid ``v1`` signature of ``body`` by ``secret`` and was
    signed within ``tolerance_s`` of ``now`` (either way: a clock ahead is as suspect as one
    behind); raise ``InvalidSignature`` otherwise. Header names are case-insensitive."""
    fields = {name.lower(): value for name, value in headers.items()}
    message_id = fields.get(ID_HEADER, "")
    timestamp_text = fields.get(TIMESTAMP_HEADER, "").strip()
    signatures = fields.get(SIGNATURE_HEADER, "")
    if not (message_id and timestamp_text and signatures):
        raise InvalidSignature(f"missing {ID_HEADER}, {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    if not (timestamp_text.isascii() and timestamp_text.isdigit() and len(timestamp_text) <= 12):
        raise InvalidSignature(f"{TIMESTAMP_HEADER} is not a time in seconds")
    timestamp = int(timestamp_text)
    if abs((int(time.time()) if now is None else now) - timestamp) > tolerance_s:
        raise InvalidSignature(f"{TIMESTAMP_HEADER} is more than {tolerance_s} s away from now")
    if len(signatures) > MAX_SIGNATURE_HEADER_CHARS:
        raise InvalidSignature(f"{SIGNATURE_HEADER} is too long")
    expected = sign(secret, message_id, timestamp, body).encode("ascii")
    # Every candidate is compared, in constant time, whatever the outcome of the others: the time
    # taken then says nothing about which one came close.
    matched = False
    for candidate in signatures.split():
        if candidate.startswith("v1,"):
            matched |= hmac.compare_digest(candidate.encode("utf-8", "replace"), expected)
    if not matched:
        raise InvalidSignature("no signature matches")
