"""The mailer against the fake unit of work and a fake SMTP server: what is sent, what is retried."""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage

import pytest

from services.notifications.domain import NewDelivery
from services.notifications.mailer import Mailer
from services.notifications.settings import NotificationsSettings

from .given import ACTIRIS, EASY, Store, system

SETTINGS = NotificationsSettings(
    smtp_from="Passerelle <passerelle@test.example>", mail_max_attempts=3, mail_batch_size=10
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


async def queue(store: Store, *partners: str) -> uuid.UUID:
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
            subject="[Passerelle] Sujet",
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


async def test_an_e_mail_refused_at_every_attempt_is_given_up_after_the_last_one(store: Store) -> None:
    await queue(store, "easy-brussels")
    smtp = Smtp(refuse={"easy-brussels@partners.example"})
    [delivery] = await store.repo.deliveries(None, None, 10)

    for _ in range(SETTINGS.mail_max_attempts):
        store.repo.make_due(delivery.id)
        await mailer(store, smtp).send_due()

    [failed] = await store.repo.deliveries(None, None, 10)
    assert (failed.status, failed.attempts) == ("failed", SETTINGS.mail_max_attempts)
    store.repo.make_due(delivery.id)
    assert await store.repo.due_deliveries(10) == [], "a failed delivery is not tried again"


async def test_a_pass_that_breaks_sends_its_batch_again_at_the_next_pass(store: Store) -> None:
    """At least once: if the pass fails after sending (here: the SMTP server breaks with an
    unexpected error on the second message), nothing of the pass is recorded and the batch is
    sent again, its Message-ID naming the same delivery."""
    await queue(store, "easy-brussels", "actiris")

    class Breaks(Smtp):
        def __call__(self, message: EmailMessage) -> None:
            if self.accepted:
                raise RuntimeError("the server vanished")
            super().__call__(message)

    smtp = Breaks()
    with pytest.raises(RuntimeError, match="vanished"):
        await mailer(store, smtp).send_due()
    assert [d.status for d in await store.repo.deliveries(None, None, 10)] == ["pending", "pending"]

    again = Smtp()
    assert await mailer(store, again).send_due() == 2
    [first] = smtp.accepted
    assert [m["To"] for m in again.accepted] == ["easy-brussels@partners.example", "actiris@partners.example"]
    assert first["Message-ID"] == again.accepted[0]["Message-ID"], "a resent e-mail can be recognised as a duplicate"


async def test_an_e_mail_says_its_language_and_its_message_id_is_the_same_each_time_it_is_built(store: Store) -> None:
    await queue(store, "easy-brussels")
    [due] = await store.repo.due_deliveries(10)
    first, again = mailer(store, Smtp()).build(due), mailer(store, Smtp()).build(due)
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Message-ID"] == f"<{due.event_id}.{due.id}@passerelle.local>", "unique across deployments too"
    assert first["Content-Language"] == "fr"
