"""Real servers for the notifications' delivery channels, each a context manager on a free
loopback port, recording what they receive so a test can read it back:

* ``SmtpSink`` -- an SMTP server (aiosmtpd) that keeps every envelope and can be told to refuse
  some recipients (550, 451 …), to answer DATA with a refusal, or to offer STARTTLS;
* ``WebhookReceiver`` -- an HTTP server that keeps every request, checks its signature with the
  contracts' verifier (as a partner would) and answers each path as it is told, late if asked;
* ``SilentServer`` -- a port that accepts connections and never says a word (a hung server).

They run in threads of their own, so the code under test talks to them over real sockets from
the test's event loop, exactly as it would to a relay or a partner.
"""

from __future__ import annotations

import contextlib
import email
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from passerelle_contracts.webhooks import InvalidSignature, verify

from tests.support import free_port

# What SmtpSink answers a refused recipient, by reply code, unless told otherwise.
SMTP_REFUSALS = {
    550: "550 5.1.1 <{address}>: Recipient address rejected: User unknown",
    451: "451 4.3.0 <{address}>: Temporary lookup failure, try again later",
}
MAX_WEBHOOK_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ReceivedMail:
    """One SMTP transaction the sink accepted: the envelope and the message as sent."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=default)
        assert isinstance(parsed, EmailMessage)  # the default policy builds EmailMessage
        return parsed


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps what it receives (``received``), thread-safely.

    ``refuse(address, 550)`` makes RCPT TO of that address fail with that code (texts in
    ``SMTP_REFUSALS``, or the reply given); ``answer_data("552 5.3.4 Message too big")`` makes DATA
    fail; ``tls_context`` offers STARTTLS with that server certificate; other keyword arguments go
    to aiosmtpd's ``SMTP`` (``data_size_limit`` …)."""

    def __init__(self, *, tls_context: ssl.SSLContext | None = None, **smtp_options: Any) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self._lock = threading.Lock()
        self._received: list[ReceivedMail] = []
        self._refusals: dict[str, str] = {}
        self._data_reply: str | None = None
        if tls_context is not None:
            smtp_options |= {"tls_context": tls_context, "require_starttls": False}
        self._controller = Controller(self, hostname=self.host, port=self.port, **smtp_options)

    def refuse(self, address: str, code: int = 550, reply: str | None = None) -> None:
        with self._lock:
            self._refusals[address.lower()] = reply or SMTP_REFUSALS[code].format(address=address)

    def answer_data(self, reply: str | None) -> None:
        """Answer DATA with ``reply`` from now on (None: accept again)."""
        with self._lock:
            self._data_reply = reply

    @property
    def received(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._received)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        with self._lock:
            refusal = self._refusals.get(address.lower())
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            if self._data_reply is not None:
                return self._data_reply
            self._received.append(
                ReceivedMail(str(envelope.mail_from), tuple(envelope.rcpt_tos), envelope.original_content or b"")
            )
        return "250 OK: queued"

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._controller.stop()


@dataclass(frozen=True)
class Reply:
    """How the receiver answers a path: a status, after ``delay_s``, with headers and a body."""

    status: int = 200
    delay_s: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class WebhookRequest:
    """One request as received: ``headers`` with lower-case names; ``verified`` whether its
    signature checked out with the receiver's secret, and ``problem`` why not."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    problem: str


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records every request (``requests``), verifies its
    signature with ``secret`` using the contracts' ``verify`` (as a partner would), and answers
    each path with its ``Reply`` (``answer(path, …)``; ``default`` for the others). With
    ``reject_unverified`` (the default, when there is a secret), a request whose signature does
    not verify gets 401, whatever its path, as a careful partner's receiver answers."""

    def __init__(
        self,
        secret: str | None = None,
        replies: Mapping[str, Reply | int] | None = None,
        *,
        default: Reply | int = 200,
        reject_unverified: bool = True,
    ) -> None:
        self.secret = secret
        self.reject_unverified = reject_unverified and secret is not None
        self._default = default if isinstance(default, Reply) else Reply(default)
        self._lock = threading.Lock()
        self._requests: list[WebhookRequest] = []
        self._replies: dict[str, Reply] = {}
        for path, reply in (replies or {}).items():
            self.answer(path, reply)
        self._closing = threading.Event()  # ends the delays of replies in progress at close
        self._server = _HttpServer(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="webhook-receiver", daemon=True
        )

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, reply: Reply | int) -> None:
        with self._lock:
            self._replies[path] = reply if isinstance(reply, Reply) else Reply(reply)

    @property
    def requests(self) -> list[WebhookRequest]:
        with self._lock:
            return list(self._requests)

    def _receive(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        verified, problem = False, "no secret to verify with"
        if self.secret is not None:
            try:
                verify(self.secret, headers, body)
                verified, problem = True, ""
            except InvalidSignature as error:
                problem = str(error)
        with self._lock:
            self._requests.append(WebhookRequest(method, path, headers, body, verified, problem))
            reply = self._replies.get(path, self._default)
        return Reply(401, body=problem.encode()) if self.reject_unverified and not verified else reply

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a reply still waiting out its delay must not hold the test's end
    receiver: WebhookReceiver


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        receiver = self.server.receiver
        length = min(int(self.headers.get("content-length") or 0), MAX_WEBHOOK_BODY_BYTES)
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = receiver._receive(self.command, self.path, headers, body)
        if reply.delay_s and receiver._closing.wait(reply.delay_s):
            return  # closing: the client has long given up
        with contextlib.suppress(OSError):  # the client may have given up meanwhile
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads ``requests``, not a log on stderr."""


class SilentServer:
    """A loopback port that accepts TCP connections and never answers: the kernel completes the
    handshake from the listen backlog, nothing ever reads or writes. A client must time out."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])

    def __enter__(self) -> Self:
        self._socket.listen(8)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._socket.close()
