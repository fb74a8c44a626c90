"""Sends one e-mail to one recipient through the SMTP relay (aiosmtplib) and says what came of it.

One call is one SMTP session: connect, (STARTTLS, AUTH,) MAIL FROM, RCPT TO, DATA, QUIT. It never
raises for anything the relay or the network does; the dispatcher gets an ``Outcome``:

* ``sent`` -- the relay answered 250 to DATA. An error after that (QUIT, a dropped connection) no
  longer matters: the message is the relay's responsibility now.
* ``retry`` -- every 4xx reply, wherever it comes; connection refused or lost, timeouts (each
  command's ``timeout_s``, and the whole session's, ``SESSION_TIMEOUTS`` of them); and *every*
  failure before MAIL FROM (greeting, EHLO, STARTTLS, AUTH), whatever its code. Those are about
  our link to the relay, not about this message: they fail every message alike, and an operator
  can fix them (a certificate, a password). Refusing would silently drop every e-mail of the
  outage; retrying keeps them until the delivery's give-up age. A session that breaks after DATA
  was sent but before the relay answered is retried too, so a message can arrive twice: its
  Message-ID is stable (see ``mailer``), so mail clients recognise the duplicate.
* ``refused`` -- a 5xx reply to MAIL FROM, RCPT TO or DATA (the relay or the recipient's server
  will not take *this* message), or a message that cannot be put on the wire at all (a recipient
  that is not exactly one bare address, see ``is_bare_address``; a non-ASCII address the relay
  cannot carry).

``hard_bounce`` (the recipient's mailbox is gone: counts toward suspending the contact's e-mail
channel) is decided from the reply's enhanced status code (RFC 3463, ``5.1.1`` in
``550 5.1.1 <x>: user unknown``):

* it blames the mailbox when it is ``5.1.x`` (bad destination address, system, syntax, mailbox
  moved, null MX) except ``5.1.7`` and ``5.1.8``, which are about our *sender* address, or
  ``5.2.0``/``5.2.1`` (mailbox disabled). ``5.2.2`` (full) and ``5.2.3`` (message too big for the
  mailbox) refuse this message, not the address. Any other class (``5.3`` mail system, ``5.4``
  routing, ``5.5`` protocol, ``5.6`` content, ``5.7`` policy such as "relaying denied") is not a
  hard bounce: suspending a contact because our relay or a spam filter refused us would punish the
  wrong party, and a relay misconfiguration would suspend every contact at once;
* a refusal of RCPT TO without an enhanced code, or with the undefined ``5.0.0``, is a hard bounce
  (the classic ``550 No such user``); at MAIL FROM or DATA it is not (the refusal is about the
  sender or the content unless the code says the mailbox).

STARTTLS checks the relay's certificate: ``validate_certs=True`` makes aiosmtplib build
``ssl.create_default_context()`` (in a thread, as loading the trusted authorities takes ~20 ms),
so the certificate must chain to an authority the system trusts and name ``host``; a context
that does not check encrypts but does not know who answers. When ``starttls`` is off, STARTTLS
is never attempted (aiosmtplib would otherwise upgrade whenever the relay offers it, and fail on
a local relay's self-signed certificate).

The envelope sender (``envelope_from``) is the message's VERP bounce address (``bounces``), so a
delivery status notification sent later by the recipient's server names the message it is about.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

import aiosmtplib

from .channels import Outcome, describe

# The whole session may take this many times ``timeout_s``: each command has ``timeout_s``, but a
# relay that answers every one of the nine or so commands just in time would otherwise hold the
# dispatcher for minutes.
SESSION_TIMEOUTS = 3

ENHANCED_STATUS = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")


@dataclass(frozen=True)
class SmtpServer:
    """The relay every e-mail goes through (the service's ``smtp_*`` settings)."""

    host: str
    port: int
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0


def enhanced_status(reply: str) -> tuple[int, int, int] | None:
    """The RFC 3463 status a reply's text starts with (``5.1.1 <x>: user unknown`` → (5, 1, 1))."""
    match = ENHANCED_STATUS.match(reply)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def blames_mailbox(reply: str, *, when_unsaid: bool) -> bool:
    """Whether a 5xx reply says the recipient's mailbox is gone (the rules of the module
    docstring); ``when_unsaid`` answers for a reply without an enhanced code or with ``5.0.0``."""
    status = enhanced_status(reply)
    if status is None or status[1:] == (0, 0):
        return when_unsaid
    _, subject, detail = status
    if subject == 1:
        return detail not in (7, 8)
    if subject == 2:
        return detail in (0, 1)
    return False


def is_bare_address(address: str) -> bool:
    """``someone@example.org`` and nothing else. aiosmtplib parses what it is given leniently and
    sends to what it finds: ``Name <x@other.example>`` would go to x@other.example, the first of a
    list to the first alone, and anything after a line break would vanish; a contact's address
    that is not exactly an address must be reported, not silently rewritten."""
    return (
        0 < len(address) <= 320
        and address.count("@") >= 1
        and not any(c.isspace() or not c.isprintable() or c in '<>,;"' for c in address)
        and parseaddr(address)[1] == address
    )


def classify_reply(command: str, code: int, reply: str) -> Outcome:
    """An SMTP error reply to ``command`` ("MAIL FROM", "RCPT TO", "DATA") as an Outcome."""
    detail = f"{code} {reply} ({command})"
    if 500 <= code <= 599:
        return Outcome("refused", detail, hard_bounce=blames_mailbox(reply, when_unsaid=command == "RCPT TO"))
    # 4xx, and anything a confused relay may answer instead: it may work next time.
    return Outcome("retry", detail)


async def send_email(server: SmtpServer, message: EmailMessage, *, envelope_from: str, recipient: str) -> Outcome:
    """Send ``message`` to ``recipient`` alone (the envelope, not the headers, decides who gets it:
    a Cc or Bcc header reaches no one), with ``envelope_from`` as the envelope sender."""
    for role, address in (("recipient", recipient), ("envelope sender", envelope_from)):
        if not is_bare_address(address):
            return Outcome("refused", f"the {role} is not a bare e-mail address: {address!r}")
    client = aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        timeout=server.timeout_s,
        start_tls=server.starttls,
        validate_certs=True,
        username=server.username,
        password=server.password,
    )
    sending = False  # False while the session is being set up: see "retry" in the module docstring
    answering = True  # the relay still answers commands: worth a QUIT
    try:
        async with asyncio.timeout(server.timeout_s * SESSION_TIMEOUTS):
            await client.connect()
            sending = True
            _, reply = await client.send_message(message, sender=envelope_from, recipients=[recipient])
    except aiosmtplib.SMTPRecipientsRefused as error:
        refusal = error.recipients[0]  # one recipient per session
        return classify_reply("RCPT TO", refusal.code, refusal.message)
    except aiosmtplib.SMTPSenderRefused as error:
        return classify_reply("MAIL FROM", error.code, error.message)
    except aiosmtplib.SMTPDataError as error:
        return classify_reply("DATA", error.code, error.message)
    except aiosmtplib.SMTPResponseException as error:
        if sending:
            return classify_reply("SMTP", error.code, error.message)
        return Outcome("retry", f"{error.code} {error.message} (session set-up)")
    except (aiosmtplib.SMTPNotSupported, ValueError) as error:
        if sending:  # a non-ASCII address and no SMTPUTF8, a message aiosmtplib cannot put on the wire
            return Outcome("refused", f"cannot be sent: {describe(error)}")
        return Outcome("retry", describe(error))  # no AUTH mechanism in common: our configuration
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        # Connection refused or lost, timeouts, TLS failures (ssl.SSLError is an OSError), STARTTLS
        # asked for and not offered (then nothing is ever sent in clear).
        answering = False
        limit_s = server.timeout_s * SESSION_TIMEOUTS
        return Outcome("retry", describe(error) if str(error) else f"the session took over {limit_s:g} s")
    finally:
        await _close(client, server.timeout_s if answering else None)
    return Outcome("sent", f"250 {reply}")


async def _close(client: aiosmtplib.SMTP, quit_timeout_s: float | None) -> None:
    """QUIT politely if the relay still answers (not after a timeout: a hung relay would hold the
    dispatcher once more); whatever it answers changes nothing."""
    if quit_timeout_s is not None and client.is_connected:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            await client.quit(timeout=quit_timeout_s)
    client.close()
