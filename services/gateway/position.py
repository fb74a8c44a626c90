"""A stream's position: for every partition it reads, the offset of the next record to read.

Sent as the SSE ``id:`` of every event, and given back in ``Last-Event-ID`` (or the
``last_event_id`` query parameter) to resume exactly there: nothing skipped, nothing twice.

The token is opaque to partners but not secret: it only says where to resume in topics the
partner may read anyway (the grants are checked on every stream). Its form, version 1::

    v1.<base64url, no padding, of: 4 bytes of SHA-256(payload) + payload>

where ``payload`` is compact JSON ``{"<topic>": [<next offset of partition 0>, <of 1>, …]}``,
the topic named without the partner topics' common prefix (``funding.v1`` for
``passerelle.partners.funding.v1``) and ``null`` for a partition the position does not hold.
The digest is a check against a token cut or altered on its way (a header truncated by a proxy,
a copy and paste), not a signature. Another form gets another version; a version this code does
not know is refused, never guessed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from passerelle_contracts.partners import PARTNER_PREFIX

VERSION = "v1"
DIGEST_BYTES = 4
MAX_TOKEN_CHARS = 4096  # a few topics of a few partitions need ~100; anything near this is not ours
MAX_PARTITIONS = 1000
MAX_OFFSET = 2**63 - 1  # Kafka's offsets are int64
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_VERSION = re.compile(r"v[0-9]{1,3}")

Position = dict[tuple[str, int], int]
"""(registry topic name, partition) -> the offset of the next record to read there."""


class InvalidPosition(ValueError):
    """The token is not a position this gateway made; the message says why."""


def encode(position: Mapping[tuple[str, int], int]) -> str:
    """The token of ``position`` (the same position always gives the same token)."""
    by_topic: dict[str, list[int | None]] = {}
    for (topic, partition), offset in position.items():
        if partition < 0 or partition >= MAX_PARTITIONS or not 0 <= offset <= MAX_OFFSET:
            raise ValueError(f"not a position: partition {partition}, offset {offset} of {topic}")
        offsets = by_topic.setdefault(_short(topic), [])
        offsets.extend([None] * (partition + 1 - len(offsets)))
        offsets[partition] = offset
    payload = json.dumps(dict(sorted(by_topic.items())), separators=(",", ":")).encode()
    packed = hashlib.sha256(payload).digest()[:DIGEST_BYTES] + payload
    return f"{VERSION}.{base64.urlsafe_b64encode(packed).rstrip(b'=').decode()}"


def decode(token: str) -> Position:
    """The position a token holds; ``InvalidPosition`` with the reason for anything else."""
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidPosition(f"the position is {len(token)} characters long; a position is far shorter")
    version, dot, body = token.partition(".")
    if not dot or not _VERSION.fullmatch(version):
        raise InvalidPosition("not a position: it starts with its version, e.g. v1.")
    if version != VERSION:
        raise InvalidPosition(f"position version {version} is unknown here (this gateway reads {VERSION})")
    if not _BASE64URL.fullmatch(body) or len(body) % 4 == 1:
        raise InvalidPosition("the position is not base64url: was it cut or altered?")
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise InvalidPosition("the position is not base64url: was it cut or altered?") from None
    if base64.urlsafe_b64encode(packed).rstrip(b"=").decode() != body:  # the unused low bits of its end were set
        raise InvalidPosition("the position is not base64url as this gateway writes it: was it cut or altered?")
    digest, payload = packed[:DIGEST_BYTES], packed[DIGEST_BYTES:]
    if len(digest) < DIGEST_BYTES or hashlib.sha256(payload).digest()[:DIGEST_BYTES] != digest:
        raise InvalidPosition("the position does not match its check digits: was it cut or altered?")
    try:
        # The digest matched, so this is our own JSON; the checks below still guard the shape.
        data: Any = json.loads(payload.decode(), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError):
        raise InvalidPosition("the position's content is not JSON") from None
    return _position(data)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not an offset")


def _position(data: Any) -> Position:
    if not isinstance(data, dict):
        raise InvalidPosition("the position's content is not a map of topics")
    position: Position = {}
    for short, offsets in data.items():
        if not short or not isinstance(offsets, list) or len(offsets) > MAX_PARTITIONS:
            raise InvalidPosition(f"the position of {short!r} is not a list of offsets")
        for partition, offset in enumerate(offsets):
            if offset is None:
                continue
            # bool is an int in Python: refuse true/false as offsets.
            if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
                raise InvalidPosition(f"partition {partition} of {short!r} has no valid offset ({offset!r})")
            position[(PARTNER_PREFIX + short, partition)] = offset
    return position


def _short(topic: str) -> str:
    if not topic.startswith(PARTNER_PREFIX) or topic == PARTNER_PREFIX:
        raise ValueError(f"{topic!r} is not a partner topic")
    return topic.removeprefix(PARTNER_PREFIX)
