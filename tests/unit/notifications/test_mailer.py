"""The mailer against the fake unit of work and a fake SMTP server: what is sent, what is retried."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import uuid
from email.message import EmailMessage

import pytest

from services.notifications.domain import NewDelivery
from services.notifications.mailer import Mailer
from services.notifications.settings import NotificationsSettings

from .given import ACTIRIS, EASY, Store, system

SETTINGS = NotificationsSettings(
    smtp_from="Passerelle <passerelle@test.example>", mail_give_up_after_s=3600, mail_batch_size=10
)


class Smtp:
    """Accepts messages, or refuses those to the addresses it is told to."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.refuse = refuse or set()
        self.accepted: list[EmailMessage] = []

    def __call__(self, message: EmailMessage) -> None:
        if message["To"] in self.refuse:
            raise smtplib.SMTPRecipientsRefused({message["To"]: (550, b"mailbox unavailable")})
        self.accepted.append(message)


async def queue(store: Store, *partners: str, subject: str = "[Passerelle] Sujet") -> uuid.UUID:
    event_id, correlation_id = uuid.uuid4(), uuid.uuid4()
    for p in (EASY, ACTIRIS):
        await store.repo.upsert_partner(p)
    await store.repo.add_deliveries(
        NewDelivery(
            partner_code=code,
            event_id=event_id,
            event_type="IndicatorMeasured",
            correlation_id=correlation_id,
            email=f"{code}@partners.example",
            language="fr",
            subject=subject,
            body="Bonjour,\n",
        )
        for code in partners
    )
    return correlation_id


def mailer(store: Store, smtp: Smtp) -> Mailer:
    return Mailer(SETTINGS, lambda: system(store), send=smtp)


async def test_a_due_e_mail_is_sent_once_with_a_message_id_that_names_its_event_and_delivery(store: Store) -> None:
    correlation_id = await queue(store, "easy-brussels")
    smtp = Smtp()

    assert await mailer(store, smtp).send_due() == 1
    assert await mailer(store, smtp).send_due() == 0, "a sent e-mail is not due any more"

    [message] = smtp.accepted
    [delivery] = await store.repo.deliveries(None, None, 10)
    assert (delivery.status, delivery.attempts, delivery.sent_at is not None) == ("sent", 1, True)
    assert message["Message-ID"] == f"<{delivery.event_id}.{delivery.id}@passerelle.local>"
    assert message["X-Passerelle-Correlation-Id"] == str(correlation_id)
    assert (message["From"], message["To"], message["Subject"]) == (
        "Passerelle <passerelle@test.example>",
        "easy-brussels@partners.example",
        "[Passerelle] Sujet",
    )


async def test_a_refused_e_mail_is_kept_for_later_and_does_not_hold_back_the_others(store: Store) -> None:
    await queue(store, "easy-brussels", "actiris")
    smtp = Smtp(refuse={"easy-brussels@partners.example"})

    assert await mailer(store, smtp).send_due() == 1

    by_partner = {d.partner_code: d for d in await store.repo.deliveries(None, None, 10)}
    assert (by_partner["actiris"].status, by_partner["easy-brussels"].status) == ("sent", "pending")
    assert by_partner["easy-brussels"].attempts == 1
    assert "SMTPRecipientsRefused" in (by_partner["easy-brussels"].last_error or "")
    assert await store.repo.due_deliveries(10) == [], "the retry waits for its backoff"


async def test_an_e_mail_refused_again_and_again_is_given_up_once_it_is_too_old(store: Store) -> None:
    await queue(store, "easy-brussels")
    smtp = Smtp(refuse={"easy-brussels@partners.example"})
    [delivery] = await store.repo.deliveries(None, None, 10)

    for _ in range(12):  # an outage far longer than the old eight attempts lasted
        store.repo.make_due(delivery.id)
        await mailer(store, smtp).send_due()
    [still] = await store.repo.deliveries(None, None, 10)
    assert (still.status, still.attempts) == ("pending", 12)

    store.repo.age(delivery.id, seconds=SETTINGS.mail_give_up_after_s + 1)
    store.repo.make_due(delivery.id)
    await mailer(store, smtp).send_due()
    [failed] = await store.repo.deliveries(None, None, 10)
    assert (failed.status, failed.attempts) == ("failed", 13)
    store.repo.make_due(delivery.id)
    assert await store.repo.due_deliveries(10) == [], "a failed delivery is not tried again"


async def test_each_e_mail_commits_on_its_own_so_a_crash_mid_pass_sends_again_only_the_one_being_sent(
    store: Store,
) -> None:
    """At least once, but no more than needed: the process stops (here: cancelled) while the
    second e-mail is with the SMTP server; the first one stays sent, the second is sent again
    with the same Message-ID."""
    await queue(store, "easy-brussels", "actiris")

    class Stops(Smtp):
        def __call__(self, message: EmailMessage) -> None:
            super().__call__(message)
            if len(self.accepted) == 2:
                raise asyncio.CancelledError  # the shutdown arrives before the row is marked sent

    smtp = Stops()
    with pytest.raises(asyncio.CancelledError):
        await mailer(store, smtp).send_due()
    by_partner = {d.partner_code: d.status for d in await store.repo.deliveries(None, None, 10)}
    assert by_partner == {"easy-brussels": "sent", "actiris": "pending"}

    again = Smtp()
    assert await mailer(store, again).send_due() == 1
    assert [m["To"] for m in again.accepted] == ["actiris@partners.example"]
    assert again.accepted[0]["Message-ID"] == smtp.accepted[1]["Message-ID"], "recognisable as a duplicate"


async def test_an_unexpected_error_sending_one_e_mail_is_recorded_for_it_and_does_not_hold_back_the_others(
    store: Store,
) -> None:
    await queue(store, "easy-brussels", "actiris")

    class Breaks(Smtp):
        def __call__(self, message: EmailMessage) -> None:
            if message["To"] == "easy-brussels@partners.example":
                raise RuntimeError("the server vanished")
            super().__call__(message)

    assert await mailer(store, Breaks()).send_due() == 1
    by_partner = {d.partner_code: d for d in await store.repo.deliveries(None, None, 10)}
    assert (by_partner["actiris"].status, by_partner["easy-brussels"].status) == ("sent", "pending")
    assert "the server vanished" in (by_partner["easy-brussels"].last_error or "")


async def test_line_breaks_in_a_subject_are_folded_and_block_nothing(store: Store) -> None:
    """A line break in a value that reaches a subject (a recipient's name, an indicator's name)
    made the e-mail library raise, which stopped every later e-mail for ever."""
    await queue(
        store, "easy-brussels", "actiris", subject="[Passerelle] Livraison\r\nBcc: x@evil.example\u2028à\x85Ixelles"
    )
    smtp = Smtp()
    assert await mailer(store, smtp).send_due() == 2
    assert {m["Subject"] for m in smtp.accepted} == {"[Passerelle] Livraison Bcc: x@evil.example à Ixelles"}
    assert all(m["Bcc"] is None for m in smtp.accepted), "no header injected"


def test_starttls_verifies_the_server_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    contexts: list[ssl.SSLContext | None] = []

    class Server:
        def __init__(self, *args: object, **kwargs: object) -> None: ...
        def __enter__(self) -> Server:
            return self

        def __exit__(self, *exc: object) -> None: ...
        def starttls(self, context: ssl.SSLContext | None = None) -> None:
            contexts.append(context)

        def send_message(self, message: EmailMessage) -> None: ...

    monkeypatch.setattr(smtplib, "SMTP", Server)
    settings = NotificationsSettings(smtp_starttls=True)
    Mailer(settings, lambda: pytest.fail("no database needed")).send_smtp(EmailMessage())
    [context] = contexts
    assert context is not None, "without a context, starttls does not verify the certificate"
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)


async def test_an_e_mail_says_its_language_and_its_message_id_is_the_same_each_time_it_is_built(store: Store) -> None:
    await queue(store, "easy-brussels")
    [due] = await store.repo.due_deliveries(10)
    first, again = mailer(store, Smtp()).build(due), mailer(store, Smtp()).build(due)
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Message-ID"] == f"<{due.event_id}.{due.id}@passerelle.local>", "unique across deployments too"
    assert first["Content-Language"] == "fr"
