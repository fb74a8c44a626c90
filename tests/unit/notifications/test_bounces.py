"""Bounce addresses that say which message bounced, and the delivery status notifications (DSN)
that come back to them: hard and soft bounces, and everything that is not a bounce at all."""

from __future__ import annotations

import os
import time
from email.message import EmailMessage, Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from services.notifications.bounces import Bounce, bounce_address, message_of, parse_dsn

KEY = b"bounce-key-for-tests"
OURS = bounce_address("bounces", "passerelle.example", 1234, KEY)
CONTACT = "contact@partner.example"


def original() -> EmailMessage:
    m = EmailMessage()
    m["From"] = "Passerelle <passerelle@passerelle.example>"
    m["To"] = CONTACT
    m["Subject"] = "[Passerelle] Livraison"
    m["Message-ID"] = "<event.1234@passerelle.local>"
    m.set_content("Bonjour,\n")
    return m


def fields(**values: str) -> Message:
    block = Message()
    for name, value in values.items():
        block[name.replace("_", "-")] = value
    return block


def dsn(*recipients: Message, to: str = OURS, **headers: str) -> bytes:
    """A DSN as a mail server writes it (RFC 3464): a human part, the status part (one block for
    the message, one per recipient), the original message."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mx.partner.example>"
    report["To"] = to
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Auto-Submitted"] = "auto-replied"
    for name, value in headers.items():
        report[name.replace("_", "-")] = value
    report.attach(MIMEText("This is the mail system at host mx.partner.example.\n"))
    status = Message()
    status["Content-Type"] = "message/delivery-status"
    status.set_payload([fields(Reporting_MTA="dns; mx.partner.example"), *recipients])
    report.attach(status)
    report.attach(MIMEMessage(original()))
    return report.as_bytes()


def failed(status: str = "5.1.1", recipient: str = CONTACT, action: str = "failed") -> Message:
    return fields(
        Final_Recipient=f"rfc822; {recipient}",
        Action=action,
        Status=status,
        Diagnostic_Code=f"smtp; 550 {status} <{recipient}>: Recipient address rejected: User unknown",
    )


# --- bounce addresses ------------------------------------------------------------------------


def test_a_bounce_address_names_its_message_and_nobody_else_can_make_one() -> None:
    assert OURS.startswith("bounces+1234-") and OURS.endswith("@passerelle.example")
    assert message_of(OURS, KEY) == 1234
    assert message_of(f"Mail Delivery <{OURS}>", KEY) == 1234
    assert message_of(OURS.upper(), KEY) == 1234, "some servers change the case of the address"


@pytest.mark.parametrize(
    "address",
    [
        "bounces+1234-0000000000@passerelle.example",  # a forged tag
        "bounces+1235-" + OURS.split("-")[1],  # another message's row under this tag
        "bounces+01234-" + OURS.split("-")[1],  # the same row spelled otherwise
        bounce_address("bounces", "passerelle.example", 1234, b"another key"),
        "passerelle@passerelle.example",
        "",
        "x" * 10_000,
        f"{OURS}, someone@elsewhere.example",
    ],
)
def test_an_address_that_is_not_one_of_ours_names_no_message(address: str) -> None:
    assert message_of(address, KEY) is None


@pytest.mark.parametrize(
    ("local", "domain", "row"),
    [("bounces+x", "p.example", 1), ("bounces", "a@b", 1), ("", "p.example", 1), ("b", "p.example", 0)],
)
def test_a_bounce_address_cannot_be_made_ambiguous(local: str, domain: str, row: int) -> None:
    with pytest.raises(ValueError):
        bounce_address(local, domain, row, KEY)


# --- delivery status notifications -----------------------------------------------------------


def test_a_mailbox_that_does_not_exist_is_a_hard_bounce_of_its_message() -> None:
    assert parse_dsn(dsn(failed("5.1.1")), KEY) == [Bounce(1234, CONTACT, "5.1.1", "failed", hard=True)]


def test_a_delayed_delivery_is_a_soft_bounce() -> None:
    [bounce] = parse_dsn(dsn(failed("4.4.1", action="delayed")), KEY)

    assert (bounce.action, bounce.status, bounce.hard) == ("delayed", "4.4.1", False)


def test_a_delivery_given_up_on_a_temporary_status_is_not_a_hard_bounce() -> None:
    [bounce] = parse_dsn(dsn(failed("4.4.7 (delivery time expired)")), KEY)

    assert (bounce.action, bounce.status, bounce.hard) == ("failed", "4.4.7", False)


def test_each_recipient_is_reported_and_the_delivered_ones_are_not_bounces() -> None:
    report = dsn(
        failed("5.1.1", "gone@partner.example"),
        failed("2.0.0", "fine@partner.example", action="delivered"),
        failed("4.2.2", "full@partner.example", action="delayed"),
    )

    assert [(b.recipient, b.hard) for b in parse_dsn(report, KEY)] == [
        ("gone@partner.example", True),
        ("full@partner.example", False),
    ]


def test_the_message_is_found_from_where_the_dsn_was_delivered_to() -> None:
    elsewhere = "postmaster@passerelle.example"

    assert parse_dsn(dsn(failed(), to=elsewhere, Delivered_To=OURS), KEY)[0].message_row == 1234
    assert parse_dsn(dsn(failed(), to=elsewhere), KEY, envelope_to=OURS)[0].message_row == 1234


def test_a_dsn_to_a_forged_bounce_address_names_no_message() -> None:
    forged = "bounces+1234-0000000000@passerelle.example"

    [bounce] = parse_dsn(dsn(failed(), to=forged), KEY)

    assert bounce.message_row is None, "the Message-ID of the quoted original is not proof"


def test_the_internationalised_dsn_of_rfc_6533_is_read_too() -> None:
    # Written by hand: the standard library's generator writes only the first block of a
    # message/* part other than message/delivery-status.
    report = (
        f"To: {OURS}\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
        "--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNon remis / niet bezorgd.\r\n"
        "--B\r\nContent-Type: message/global-delivery-status\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Reporting-MTA: dns; mx.partenaire.example\r\n\r\n"
        "Final-Recipient: utf-8; josé@partenaire.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        "--B--\r\n"
    ).encode()

    assert parse_dsn(report, KEY) == [Bounce(1234, "josé@partenaire.example", "5.1.1", "failed", hard=True)]


def test_an_auto_reply_is_not_a_bounce() -> None:
    reply = EmailMessage()
    reply["From"] = CONTACT
    reply["To"] = OURS
    reply["Subject"] = "Absence du bureau / Afwezig"
    reply["Auto-Submitted"] = "auto-replied"
    reply.set_content("Je suis absent jusqu'au 3 mars. Status: 5.1.1 Action: failed\n")

    assert parse_dsn(reply.as_bytes(), KEY) == []


def test_a_read_receipt_is_not_a_bounce() -> None:
    receipt = dsn(failed()).replace(b'report-type="delivery-status"', b'report-type="disposition-notification"')

    assert b"disposition-notification" in receipt
    assert parse_dsn(receipt, KEY) == []


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"\x00\xff" * 1000,
        os.urandom(100_000),
        b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\nno boundary at all",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n--B\r\n"
        + b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: x\r\n\r\nAction: failed\r\nStatus: 5.1.1\r\n",
        b"X-Junk: " + b"a" * 5_000_000 + b"\r\n\r\nbody",
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n"
        + b"--B\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" * 20_000,
        dsn(*[failed(recipient=f"r{i}@partner.example") for i in range(2_000)]),
    ],
    ids=["empty", "binary", "random", "no-boundary", "cut-short", "huge-header", "deep-nesting", "many-recipients"],
)
def test_garbage_never_raises_and_takes_little_time(junk: bytes) -> None:
    started = time.monotonic()

    bounces = parse_dsn(junk, KEY)

    assert time.monotonic() - started < 2.0
    assert len(bounces) <= 50
