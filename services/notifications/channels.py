"""What one attempt at a delivery came to, whatever the channel (``smtp``, ``webhooks``).

The dispatcher loop decides from ``kind`` alone what happens next, so each channel module turns
everything its transport can say (status codes, exceptions, timeouts) into one of three words and
the dispatcher never learns a transport's vocabulary:

* ``sent`` -- the other side took it; the delivery is done.
* ``retry`` -- it may work later (the server is down, busy, or said "try again"): the caller's
  backoff decides when, until the delivery is too old.
* ``refused`` -- it will never work as it stands (the address does not exist, the receiver said
  stop, the message is too big): retrying only delays the report and annoys the other side.

``detail`` is what an operator reads in the delivery log (``GET /deliveries``): one line, bounded,
because it quotes the other side (an SMTP reply, an HTTP status, an exception) and a receiver
must not be able to fill our database or break a log line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OutcomeKind = Literal["sent", "retry", "refused"]

# Long enough for an SMTP reply with its enhanced status code and the mailbox it names, or an
# exception's repr; short enough that a chatty receiver cannot fill the delivery log.
DETAIL_MAX_CHARS = 300


def one_line(text: str, limit: int = DETAIL_MAX_CHARS) -> str:
    """``text`` on one line (every run of white space, line breaks of any kind included, becomes
    one space) and at most ``limit`` characters, an ellipsis marking a cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def describe(error: BaseException) -> str:
    """An exception as the delivery log shows it: ``ConnectError('...')``, on one line, bounded."""
    return one_line(repr(error))


@dataclass(frozen=True)
class Outcome:
    """The result of one attempt. ``hard_bounce`` says the *destination itself* is gone, not just
    this message: for e-mail the recipient's mailbox refused it (a 5.1.x/5.2.1 status: unknown
    user, disabled mailbox), which counts toward suspending the contact's e-mail channel; for a
    webhook the endpoint answered 410 Gone, which disables the endpoint. It is only ever set on
    ``refused`` (a soft failure says nothing about the address)."""

    kind: OutcomeKind
    detail: str = ""
    hard_bounce: bool = False

    def __post_init__(self) -> None:
        if self.hard_bounce and self.kind != "refused":
            raise ValueError(f"a hard bounce is a refusal, not {self.kind!r}")
        # Frozen: the normalised text replaces the given one through object.__setattr__, so every
        # Outcome, however built, keeps the one-line, bounded promise of the module docstring.
        object.__setattr__(self, "detail", one_line(self.detail))
