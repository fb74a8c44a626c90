"""Bounces: VERP bounce addresses for the envelope of each e-mail, and the delivery status
notifications (DSN, RFC 3464) that come back to them.

A recipient's server may accept an e-mail and find out later that it cannot deliver it (the
mailbox is gone, full, or the server behind it keeps saying "later"); it then mails a DSN to the
*envelope sender*. If every e-mail had the same envelope sender, a DSN would have to be matched to
its message by reading the original message it quotes, which it may quote in part or not at all,
and which anyone can forge. So each e-mail gets its own envelope sender (VERP, variable envelope
return path), ``bounces+<message row>-<tag>@<domain>``, where ``tag`` is an HMAC of the row: the
address a DSN is sent to says which message it is about, and only we can make one that
``message_of`` accepts, so a forged bounce cannot suspend a contact's e-mail channel.

The message is found from the DSN's envelope recipient alone (given by whoever received it, or
read from ``Delivered-To``, ``X-Original-To``, ``Envelope-To`` or ``To``), never from a
Message-ID in the returned message: that part is optional and carries no proof it is ours.

``parse_dsn`` reads a ``multipart/report; report-type=delivery-status`` message and returns one
``Bounce`` per recipient that ``failed`` or is ``delayed`` (a DSN may also report successful
``delivered``/``relayed``/``expanded`` recipients: not bounces, left out). Anything else (an
auto-reply, a read receipt, a newsletter, junk) is not a bounce: ``[]``. It reads what arrives
from the internet, so it never raises and its work is bounded: at most ``MAX_DSN_BYTES`` of the
message (the status part comes before the returned message), ``MAX_RECIPIENTS`` recipients,
fields cut at ``MAX_FIELD_CHARS``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import getaddresses

MAX_DSN_BYTES = 256 * 1024
MAX_RECIPIENTS = 50
MAX_FIELD_CHARS = 320
# 40 bits: forging an address means guessing it, one bounce sent to us per guess.
TAG_HEX_CHARS = 10
# Where mail servers write the envelope recipient of what they deliver, most reliable first.
ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
# RFC 6533 keeps report-type=delivery-status for its internationalised part; some servers name it.
REPORT_TYPES = frozenset({"delivery-status", "global-delivery-status"})
DSN_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})  # RFC 3464, RFC 6533
BOUNCE_ACTIONS = frozenset({"failed", "delayed"})

VERP = re.compile(
    rf"(?P<local>[^@+\s]+)\+(?P<row>[1-9][0-9]{{0,17}})-(?P<tag>[0-9a-f]{{{TAG_HEX_CHARS}}})@[^@\s]+", re.I
)
STATUS = re.compile(r"\s*([245]\.[0-9]{1,3}\.[0-9]{1,3})(?![0-9.])")


@dataclass(frozen=True)
class Bounce:
    """One recipient's fate as a DSN reports it. ``hard``: the action is ``failed`` with a 5.x.x
    status, the mailbox refused for good; ``delayed`` or a 4.x.x status is soft (the sending
    server is still trying, or gave up on something that may pass later)."""

    message_row: int | None
    recipient: str | None
    status: str
    action: str
    hard: bool


def _tag(message_row: int, key: bytes) -> str:
    # The "bounce:" prefix keeps these HMACs apart from any other use of the same key.
    return hmac.new(key, f"bounce:{message_row}".encode(), hashlib.sha256).hexdigest()[:TAG_HEX_CHARS]


def bounce_address(local: str, domain: str, message_row: int, key: bytes) -> str:
    """The envelope sender of message ``message_row``: ``<local>+<row>-<tag>@<domain>``."""
    if not local or any(c in local for c in "+@ \t\r\n") or not domain or any(c in domain for c in "@ \t\r\n"):
        raise ValueError("a bounce address needs a local part without '+' and a domain")
    if message_row < 1:
        raise ValueError("message rows start at 1")
    if not key:
        raise ValueError("the bounce key is empty")
    return f"{local}+{message_row}-{_tag(message_row, key)}@{domain}"


def message_of(address: str, key: bytes) -> int | None:
    """The message row a bounce address was made for, or None if it is not one of ours (another
    address, a wrong tag: forged, or made with another key). Accepts ``<addr>`` and ``Name <addr>``."""
    if len(address) > 2 * MAX_FIELD_CHARS:
        return None
    found = getaddresses([address])
    if len(found) != 1:  # a list names no one message
        return None
    match = VERP.fullmatch(found[0][1] or address.strip())
    if match is None:
        return None
    row = int(match["row"])
    return row if hmac.compare_digest(match["tag"].lower(), _tag(row, key)) else None


def parse_dsn(raw: bytes, key: bytes, *, envelope_to: str | None = None) -> list[Bounce]:
    """The bounces a DSN reports (see the module docstring), ``[]`` for anything else.
    ``envelope_to``: the address the DSN was delivered to, when the caller knows it from its own
    SMTP session (RCPT TO); the headers that record it are tried after it."""
    try:
        return _parse(raw[:MAX_DSN_BYTES], key, envelope_to)
    except Exception:  # noqa: BLE001 - junk from the internet is not a bounce; a parser's bug must not stop the loop
        return []


def _parse(raw: bytes, key: bytes, envelope_to: str | None) -> list[Bounce]:
    report = message_from_bytes(raw, policy=compat32)
    if report.get_content_type() != "multipart/report" or not report.is_multipart():
        return []
    if str(report.get_param("report-type", "")).lower() not in REPORT_TYPES:
        return []
    parts = [p for p in report.get_payload() if isinstance(p, Message)]
    status_part = next((p for p in parts if p.get_content_type() in DSN_TYPES), None)
    if status_part is None:
        return []
    row = _message_row(report, key, envelope_to)
    # The first block is about the whole message (Reporting-MTA …), one block per recipient follows.
    bounces = [_bounce(block, row) for block in _blocks(status_part)[1 : MAX_RECIPIENTS + 1]]
    return [b for b in bounces if b is not None]


def _message_row(report: Message, key: bytes, envelope_to: str | None) -> int | None:
    candidates = [envelope_to] if envelope_to else []
    for header in ENVELOPE_HEADERS:
        values = [str(v)[: 4 * MAX_FIELD_CHARS] for v in report.get_all(header, [])[:10]]
        candidates += [address for _, address in getaddresses(values)]
    for candidate in candidates[:MAX_RECIPIENTS]:
        row = message_of(candidate, key)
        if row is not None:
            return row
    return None


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a delivery-status part. The standard parser splits
    ``message/delivery-status`` into one header-only message per block; it reads the RFC 6533
    type as one message (the first block its headers, the others its body), split again here."""
    payload = part.get_payload()
    if part.get_content_type() == "message/delivery-status" and isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    if isinstance(payload, list):  # neither as_string() nor get_payload() keep UTF-8: bytes, decoded here
        text = "".join(
            "".join(f"{name}: {value}\n" for name, value in block.items()) + "\n" + _text(block)
            for block in payload
            if isinstance(block, Message)
        )
    else:
        text = _text(part)
    chunks = re.split(r"\r?\n[ \t]*\r?\n", text)
    return [HeaderParser(policy=compat32).parsestr(chunk.strip()) for chunk in chunks if chunk.strip()]


def _text(part: Message) -> str:
    body = part.get_payload(decode=True)
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else ""


def _field(block: Message, name: str) -> str:
    """A field on one line, bounded; bytes that are not UTF-8 (the parser keeps them as surrogate
    escapes, which no database accepts) become U+FFFD."""
    value = " ".join(str(block.get(name, "")).split())[:MAX_FIELD_CHARS]
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _bounce(block: Message, row: int | None) -> Bounce | None:
    action = (_field(block, "Action").lower().split() or [""])[0]
    if action not in BOUNCE_ACTIONS:
        return None
    status_match = STATUS.match(_field(block, "Status"))
    status = status_match[1] if status_match else ""
    # "rfc822; someone@example.org": the address after the address type.
    recipient = (_field(block, "Final-Recipient") or _field(block, "Original-Recipient")).partition(";")[2].strip()
    return Bounce(
        message_row=row,
        recipient=recipient or None,
        status=status,
        action=action,
        hard=action == "failed" and status.startswith("5."),
    )
