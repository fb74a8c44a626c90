"""Posts one event to a partner's webhook endpoint, signed the Standard Webhooks way
(https://www.standardwebhooks.com), and says what came of it (an ``Outcome``).

The signing is ``passerelle_contracts.webhooks.sign``, the very function partners verify with
(``verify`` there), so the two sides cannot drift apart. Every attempt is signed anew with the
current time (the receiver refuses a timestamp older than its tolerance, 5 min by default), under
the same ``webhook-id``: the receiver's key for dropping a repeat.

What the answer means (the dispatcher's backoff decides *when* to try again; nothing in the answer,
not even ``Retry-After``, is honoured):

* 2xx -- ``sent``.
* 410 Gone -- ``refused`` with ``hard_bounce``: the receiver says the endpoint is gone, and the
  caller disables it rather than keep posting into the void.
* 408 Request Timeout, 425 Too Early, 429 Too Many Requests, every 5xx -- ``retry``: the receiver
  is slow, busy or broken for now.
* any other 4xx -- ``refused``: the receiver understood the request and will not take it (a bad
  signature, a body it rejects); the same request would get the same answer.
* 3xx -- ``refused``, redirects are not followed: the event was signed for the URL the partner
  registered; following a ``Location`` would post it wherever the answer points (another host, an
  address inside our network), and the partner is better told to register the final URL.
* connection refused, reset or cut, TLS failures, timeouts -- ``retry``.
* no request at all -- ``refused``: a URL ``check_url`` rejects, a secret that is not one, a
  message id that cannot be a header (wrong on every attempt alike).

The detail is ``HTTP <status>`` and nothing else (with the reason for a 3xx and its ``Location``):
the dispatcher recognises a 410 by it, and a receiver's words (an HTML error page, a stack trace)
have no place in our delivery log. The response body is read up to ``RESPONSE_MAX_BYTES`` and
dropped: a small one read to the end lets the connection be used again, a huge one is not
downloaded.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import secrets as random
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx
from passerelle_contracts.webhooks import ID_HEADER, SECRET_PREFIX, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

from .channels import Outcome, describe

# 32 random bytes: within the 24–64 the Standard Webhooks specification asks for.
SECRET_BYTES = 32
# The whole exchange, connection to last byte read: httpx's timeouts bound each read, so a receiver
# trickling a byte at a time would hold the dispatcher for ever without this.
POST_TIMEOUT_S = 15.0
RESPONSE_MAX_BYTES = 64 * 1024
MAX_URL_CHARS = 2048
MAX_MESSAGE_ID_CHARS = 256
# Plain http is allowed only here, so tests and a developer's machine can run a local receiver;
# anywhere else the event (partners' names, amounts) would cross the network in clear.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
RETRIED_4XX = frozenset({408, 425, 429})


def new_secret() -> str:
    """A fresh ``whsec_<base64>`` secret for an endpoint (shown to the partner once)."""
    return SECRET_PREFIX + base64.b64encode(random.token_bytes(SECRET_BYTES)).decode("ascii")


def signature(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: one ``v1,…`` per secret, separated by spaces. During a
    rotation the endpoint has two secrets and both sign, so the receiver can switch to the new one
    whenever it likes and both its old and its new configuration verify."""
    if not secrets:
        raise ValueError("a webhook is signed with at least one secret")
    return " ".join(sign(secret, message_id, timestamp, body) for secret in secrets)


def check_url(url: str, *, allow_loopback: bool = False) -> str:
    """``url`` if an endpoint may have it, else a ValueError saying why: https only, to a public
    address (plain http to the loopback only where ``allow_loopback``: development and tests), and
    no credentials in it (``user:pass@``
    would be stored and logged in clear with the endpoint; the signature is what authenticates
    us, so a receiver needs no password from us)."""
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"longer than {MAX_URL_CHARS} characters")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError("white space or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError("not an http or https URL")
    if "@" in parts.netloc:
        raise ValueError("credentials in the URL")
    host = parts.hostname
    if not host:
        raise ValueError("no host")
    try:
        parts.port  # noqa: B018 - a port that is not a number raises here
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as error:
        raise ValueError(f"not a valid URL: {error}") from None
    if host.lower() in LOOPBACK_HOSTS or _internal(host):
        if not (allow_loopback and host.lower() in LOOPBACK_HOSTS):
            raise ValueError("an address of this machine or of a private network (its services are not partners')")
        return url  # a local receiver, where the deployment allows it (development, tests)
    if scheme == "http":
        raise ValueError("https is required")
    return url


def _internal(host: str) -> bool:
    """Whether ``host`` is an IP literal of a loopback, private, link-local or reserved network: a
    partner's key must not make this service post into the networks it runs in. (A name that
    resolves to one is not caught here: see the README.)"""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.lower().endswith((".localhost", ".local", ".internal"))
    return not address.is_global


def classify_status(status: int) -> Outcome:
    """An HTTP status as an Outcome (the rules of the module docstring), the detail without body."""
    detail = f"HTTP {status}"
    if 200 <= status <= 299:
        return Outcome("sent", detail)
    if status == 410:
        return Outcome("refused", detail, hard_bounce=True)
    if status in RETRIED_4XX or 500 <= status <= 599:
        return Outcome("retry", detail)
    if 300 <= status <= 399:
        return Outcome("refused", f"{detail}: redirects are not followed, register the final URL")
    return Outcome("refused", detail)


async def post_webhook(
    client: httpx.AsyncClient,
    url: str,
    secrets: Sequence[str],
    message_id: str,
    body: bytes,
    *,
    now: int | None = None,
    timeout_s: float = POST_TIMEOUT_S,
    allow_loopback: bool = False,
) -> Outcome:
    """POST ``body`` (JSON) to ``url``, signed with every one of ``secrets``, at ``now`` (seconds
    since the epoch; the current time by default). Never raises for what the endpoint does."""
    timestamp = int(time.time()) if now is None else now
    # What is wrong with the endpoint as stored, or with the message, is wrong on every attempt.
    try:
        check_url(url, allow_loopback=allow_loopback)
    except ValueError as error:
        return Outcome("refused", f"endpoint URL not usable: {error}")
    if not (0 < len(message_id) <= MAX_MESSAGE_ID_CHARS and message_id.isascii() and message_id.isprintable()):
        return Outcome("refused", "the message id is not 1 to 256 printable ASCII characters")
    try:
        signed = signature(secrets, message_id, timestamp, body)
    except ValueError as error:
        return Outcome("refused", f"endpoint secret not usable: {error}")
    headers = {
        "content-type": "application/json",
        "user-agent": "Passerelle-Webhooks/1",
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signed,
    }
    try:
        async with (
            asyncio.timeout(timeout_s),
            client.stream("POST", url, content=body, headers=headers, follow_redirects=False) as response,
        ):
            await _drain(response)
    except httpx.LocalProtocolError as error:  # we could not even write the request (a header value)
        return Outcome("refused", describe(error))
    except (httpx.HTTPError, OSError, TimeoutError) as error:
        return Outcome(
            "retry", describe(error) if str(error) else f"{describe(error)}: no answer within {timeout_s:g} s"
        )
    outcome = classify_status(response.status_code)
    if 300 <= response.status_code <= 399 and "location" in response.headers:
        return Outcome(outcome.kind, f"{outcome.detail} — Location {response.headers['location']}")
    return outcome


async def _drain(response: httpx.Response) -> None:
    """Read the response body up to ``RESPONSE_MAX_BYTES`` (see the module docstring), keep none."""
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > RESPONSE_MAX_BYTES:
            break
