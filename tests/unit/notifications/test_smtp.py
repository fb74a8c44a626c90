"""The SMTP channel against a real SMTP server on loopback: what it sends, and what each answer of
the relay (or its silence) comes to: sent, retried, or refused, and when the mailbox is to blame."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from services.notifications.bounces import bounce_address, message_of
from services.notifications.channels import Outcome
from services.notifications.smtp import SmtpServer, classify_reply, send_email
from tests.mail_servers import SilentServer, SmtpSink
from tests.support import free_port

KEY = b"bounce-key-for-tests"
PARTNER = "contact@partner.example"
BOUNCES = bounce_address("bounces", "passerelle.example", 42, KEY)


def message(*, body: str = "Bonjour,\n\nLivraison de 12 ordinateurs.\n") -> EmailMessage:
    m = EmailMessage()
    m["From"] = "Passerelle <passerelle@passerelle.example>"
    m["To"] = PARTNER
    m["Subject"] = "[Passerelle] Livraison"
    m["Message-ID"] = "<event.42@passerelle.local>"
    m.set_content(body)
    return m


def relay(sink: SmtpSink, *, starttls: bool = False) -> SmtpServer:
    return SmtpServer(host="127.0.0.1", port=sink.port, starttls=starttls, timeout_s=5.0)


async def send(server: SmtpServer) -> Outcome:
    return await send_email(server, message(), envelope_from=BOUNCES, recipient=PARTNER)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


async def test_a_message_reaches_the_relay_with_its_bounce_address_as_envelope_sender(sink: SmtpSink) -> None:
    outcome = await send(relay(sink))

    assert outcome.kind == "sent" and outcome.detail.startswith("250")
    [mail] = sink.received
    assert mail.mail_from == BOUNCES and message_of(mail.mail_from, KEY) == 42
    assert mail.rcpt_tos == (PARTNER,)
    assert mail.message()["Message-ID"] == "<event.42@passerelle.local>"


async def test_only_the_envelope_recipient_gets_it_whatever_the_headers_say(sink: SmtpSink) -> None:
    m = message()
    m["Bcc"] = "someone@elsewhere.example"

    assert (await send_email(relay(sink), m, envelope_from=BOUNCES, recipient=PARTNER)).kind == "sent"
    [mail] = sink.received
    assert mail.rcpt_tos == (PARTNER,)
    assert b"someone@elsewhere.example" not in mail.raw, "a Bcc header is never transmitted"


@pytest.mark.parametrize(
    "recipient",
    ["Someone <other@elsewhere.example>", "contact@partner.example, other@elsewhere.example", "a@b.example\r\nRSET"],
)
async def test_an_address_that_is_not_exactly_an_address_is_refused_not_rewritten(
    sink: SmtpSink, recipient: str
) -> None:
    outcome = await send_email(relay(sink), message(), envelope_from=BOUNCES, recipient=recipient)

    assert outcome == Outcome("refused", outcome.detail) and "not a bare e-mail address" in outcome.detail
    assert sink.received == []


async def test_a_recipient_the_server_refuses_with_550_is_a_hard_bounce(sink: SmtpSink) -> None:
    sink.refuse(PARTNER, 550)

    outcome = await send(relay(sink))

    assert outcome.kind == "refused" and outcome.hard_bounce
    assert outcome.detail.startswith("550 5.1.1 <contact@partner.example>") and "(RCPT TO)" in outcome.detail
    assert sink.received == []


async def test_a_recipient_the_server_refuses_with_451_is_tried_again_later(sink: SmtpSink) -> None:
    sink.refuse(PARTNER, 451)

    outcome = await send(relay(sink))

    assert outcome.kind == "retry" and not outcome.hard_bounce and outcome.detail.startswith("451 4.3.0")


async def test_a_recipient_refused_by_policy_is_refused_without_blaming_the_mailbox(sink: SmtpSink) -> None:
    sink.refuse(PARTNER, reply="554 5.7.1 <contact@partner.example>: Relay access denied")

    outcome = await send(relay(sink))

    assert outcome.kind == "refused" and not outcome.hard_bounce


async def test_a_message_too_big_for_the_relay_is_refused_without_blaming_the_mailbox() -> None:
    with SmtpSink(data_size_limit=200) as small:
        outcome = await send_email(relay(small), message(body="x" * 1000), envelope_from=BOUNCES, recipient=PARTNER)

    assert outcome.kind == "refused" and not outcome.hard_bounce
    assert outcome.detail.startswith("552") and "(MAIL FROM)" in outcome.detail


@pytest.mark.parametrize(
    ("reply", "kind", "hard_bounce"),
    [
        ("554 5.6.0 Message content rejected", "refused", False),
        ("451 4.7.1 Greylisted, try again in 5 minutes", "retry", False),
        ("550 5.1.1 Mailbox does not exist", "refused", True),
    ],
)
async def test_the_answer_to_data_decides_like_any_other(
    sink: SmtpSink, reply: str, kind: str, hard_bounce: bool
) -> None:
    sink.answer_data(reply)

    outcome = await send(relay(sink))

    assert (outcome.kind, outcome.hard_bounce) == (kind, hard_bounce)
    assert outcome.detail == f"{reply} (DATA)"


async def test_a_relay_that_is_down_means_try_again_later() -> None:
    outcome = await send(SmtpServer(host="127.0.0.1", port=free_port(), timeout_s=2.0))

    assert outcome.kind == "retry" and "SMTPConnectError" in outcome.detail


async def test_a_relay_that_never_answers_means_try_again_after_the_timeout() -> None:
    with SilentServer() as silent:
        started = time.monotonic()
        outcome = await send(SmtpServer(host="127.0.0.1", port=silent.port, timeout_s=0.3))

    assert outcome.kind == "retry" and "Timeout" in outcome.detail
    assert time.monotonic() - started < 2.0


# --- STARTTLS --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: trusted by no one unless a test says so."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_sink(certificate: tuple[Path, Path]) -> Iterator[SmtpSink]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    with SmtpSink(tls_context=context) as server:
        yield server


async def test_starttls_refuses_to_send_to_a_relay_whose_certificate_nobody_vouches_for(tls_sink: SmtpSink) -> None:
    outcome = await send(relay(tls_sink, starttls=True))

    assert outcome.kind == "retry" and "CERTIFICATE_VERIFY_FAILED" in outcome.detail
    assert tls_sink.received == []


async def test_starttls_sends_to_a_relay_whose_certificate_is_trusted(
    tls_sink: SmtpSink, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # what the default context trusts

    outcome = await send(relay(tls_sink, starttls=True))

    assert outcome.kind == "sent" and len(tls_sink.received) == 1


async def test_starttls_required_but_not_offered_is_tried_again_and_never_sent_in_clear(sink: SmtpSink) -> None:
    outcome = await send(relay(sink, starttls=True))

    assert outcome.kind == "retry" and "STARTTLS" in outcome.detail
    assert sink.received == []


# --- the rule, reply by reply ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "code", "reply", "kind", "hard_bounce"),
    [
        ("RCPT TO", 550, "5.1.1 <x@y.example>: user unknown", "refused", True),
        ("RCPT TO", 550, "No such user here", "refused", True),
        ("RCPT TO", 550, "5.0.0 <x@y.example>... User unknown", "refused", True),
        ("RCPT TO", 550, "5.2.1 Mailbox disabled, not accepting messages", "refused", True),
        ("RCPT TO", 552, "5.2.2 Mailbox full", "refused", False),
        ("RCPT TO", 550, "5.1.8 Sender address rejected: Domain not found", "refused", False),
        ("RCPT TO", 550, "5.7.1 Service unavailable; client host blocked", "refused", False),
        ("RCPT TO", 450, "4.2.0 Mailbox temporarily unavailable", "retry", False),
        ("MAIL FROM", 553, "5.7.1 Sender address rejected: not owned by user", "refused", False),
        ("MAIL FROM", 550, "Sender rejected", "refused", False),
        ("DATA", 554, "5.1.1 Delivery error: mailbox does not exist", "refused", True),
        ("DATA", 552, "5.3.4 Message size exceeds fixed limit", "refused", False),
        ("DATA", 421, "4.4.2 Connection timed out", "retry", False),
    ],
)
def test_a_refusal_blames_the_mailbox_only_when_its_status_code_says_so(
    command: str, code: int, reply: str, kind: str, hard_bounce: bool
) -> None:
    outcome = classify_reply(command, code, reply)

    assert (outcome.kind, outcome.hard_bounce) == (kind, hard_bounce)
