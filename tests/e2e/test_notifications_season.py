"""A delivery season told to the partners, end to end: the four services as processes, a real SMTP
server that refuses one address, a real webhook receiver that verifies every signature.

Partners set themselves up with their own keys (self-service): a person with quiet hours now, one
who reads increments in the daily digest, one whose address does not exist, one who unsubscribes
in one click after the first e-mail, and a system that receives signed webhooks. Ten deliveries of
refurbished devices move action 46's indicator ten times; then the Coordination schedules a
Working Group meeting. Each mailbox and the receiver hold exactly what they should: nothing during
quiet hours, one digest line for the season's indicator, a suspension after three hard bounces
(and the Coordination told), one e-mail before the unsubscribe and none after, one signed post per
increment, one convocation and one pre-meeting digest per member."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.notifications.audience import BRUSSELS
from tests.e2e.conftest import call
from tests.mail_servers import SmtpSink, WebhookReceiver
from tests.support import ServiceProcess, eventually

COORDINATION = "coordination-inclusion-numerique"
SEASON = 10  # deliveries, each one increment of action 46's indicator
DIGEST_IN_S = 120  # the daily digest's time of day, from the services' start: after the season
BOUNCING = "nobody@bounce.example"

pytestmark = [pytest.mark.infra, pytest.mark.timeout(DIGEST_IN_S + 240)]


@pytest.fixture
def smtp() -> Any:
    """The system's SMTP server: a sink that refuses one address with 550 5.1.1 (user unknown)."""
    with SmtpSink() as sink:
        sink.refuse(BOUNCING, 550)
        yield sink, sink.port


@pytest.fixture
def service_env() -> dict[str, str]:
    digest_at = (datetime.now(BRUSSELS) + timedelta(seconds=DIGEST_IN_S)).time().replace(microsecond=0)
    return {
        "PASSERELLE_NOTIFICATIONS_SCHEDULE_INTERVAL_S": "1",
        "PASSERELLE_NOTIFICATIONS_MAIL_POLL_INTERVAL_S": "0.2",
        "PASSERELLE_NOTIFICATIONS_DIGEST_TIME": digest_at.isoformat(),
        "PASSERELLE_NOTIFICATIONS_WEBHOOK_ALLOW_LOOPBACK": "true",  # the receiver runs on this machine
    }


def to(sink: SmtpSink, address: str) -> list[Any]:
    return [r.message() for r in sink.received if address in r.rcpt_tos]


def unsubscribe(url: str) -> int:
    """What a mail client does with List-Unsubscribe-Post (RFC 8058): POST, no login, no cookie."""
    request = urllib.request.Request(url, data=b"List-Unsubscribe=One-Click", method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


async def test_a_season_is_told_to_each_partner_as_it_chose_by_e_mail_digest_webhook_and_meeting(
    system: dict[str, ServiceProcess], smtp: tuple[SmtpSink, int]
) -> None:
    sink, _ = smtp
    equipment, actions, notifications = system["equipment"], system["actions"], system["notifications"]
    notes = notifications.cli("create-api-key", "--organisation", COORDINATION, "--role", "coordination")

    def partner(code: str, language: str = "fr") -> str:
        """A partner organisation (the Coordination's act) and a key of its own, for self-service."""
        body = {"name": code, "email": f"{code}@partners.example", "language": language}
        assert call(notifications.url + f"/partners/{code}", body, notes, method="PUT")[0] == 200
        return notifications.cli("create-api-key", "--organisation", code, "--role", "partner")

    def contact(
        code: str, key: str, body: dict[str, Any], preferences: list[dict[str, str]] | None = None
    ) -> dict[str, Any]:
        status, made = call(notifications.url + f"/partners/{code}/contacts", {"language": "fr", **body}, key)
        assert status == 201, made
        follows = {"subscriptions": [{"event_type": "IndicatorMeasured", "filters": {"action": ["46"]}}]}
        assert call(notifications.url + f"/contacts/{made['id']}/subscriptions", follows, key, method="PUT")[0] == 200
        if preferences:
            status, answer = call(
                notifications.url + f"/contacts/{made['id']}/preferences",
                {"preferences": preferences},
                key,
                method="PUT",
            )
            assert status == 200, answer
        return made

    now = datetime.now(BRUSSELS)
    quiet_hours = {
        "quiet_from": (now - timedelta(hours=1)).strftime("%H:%M"),
        "quiet_until": (now + timedelta(hours=1)).strftime("%H:%M"),
    }
    quiet = contact("asbl-calme", partner("asbl-calme"), {"email": "calme@asbl.example", **quiet_hours})
    daily_key = partner("asbl-jour", "nl")
    contact(
        "asbl-jour", daily_key, {"email": "dag@asbl.example", "language": "nl"},
        [{"topic": "IndicatorMeasured", "channel": "email", "frequency": "daily"}],
    )  # fmt: skip
    gone = contact("asbl-partie", partner("asbl-partie"), {"email": BOUNCING})
    contact("asbl-desabo", partner("asbl-desabo"), {"email": "desabo@asbl.example"})
    # Another organisation's key reads none of these contacts (404, not 403: it learns nothing).
    assert call(notifications.url + f"/contacts/{quiet['id']}", token=daily_key)[0] == 404

    with WebhookReceiver() as receiver:
        system_key = partner("asbl-systeme")
        hook = contact("asbl-systeme", system_key, {"kind": "webhook", "webhook_url": receiver.url("/passerelle")})
        receiver.secret = hook["webhook_secret"]  # shown once, at creation, to the partner's key

        refurbisher = equipment.cli("create-api-key", "--organisation", "caban", "--role", "refurbisher")

        def deliver(n: int) -> None:
            body = {
                "recipient": "asbl-devoirs-exemple",
                "recipient_kind": "pupils-association",
                "devices": {"laptop": 2},
                "public": "young-people",
                "beneficiaries": 2,
                "commune": "Anderlecht",
                "delivered_on": (datetime.now(UTC).date() - timedelta(days=n)).isoformat(),
            }
            status, answer = call(equipment.url + "/deliveries", body, refurbisher, {"Idempotency-Key": f"season-{n}"})
            assert status == 201, answer

        # The first delivery: one e-mail to the person who will unsubscribe, then the link, no login.
        deliver(1)
        await eventually(lambda: len(to(sink, "desabo@asbl.example")) == 1, timeout=60, what="the first e-mail")
        [first] = to(sink, "desabo@asbl.example")
        assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = first["List-Unsubscribe"].strip("<>")
        path = link[link.index("/unsubscribe/") :]
        assert unsubscribe(notifications.url + path) == 200

        for n in range(2, SEASON + 1):
            deliver(n)

        def increments() -> int:
            """Action 46's increments notifications told (its log, read with the Coordination's key)."""
            log = call(notifications.url + f"/deliveries?contact={quiet['id']}&channel=feed&limit=1000", token=notes)[1]
            return len(log)

        await eventually(lambda: increments() >= SEASON, timeout=90, what="the season's increments in the feed")
        told = increments()
        await eventually(lambda: len(receiver.requests) >= told, timeout=60, what="a webhook post per increment")

        # Quiet hours: nothing by e-mail yet; each e-mail waits for their end, the feed has them all.
        assert to(sink, "calme@asbl.example") == []
        held = call(notifications.url + f"/deliveries?contact={quiet['id']}&channel=email&limit=1000", token=notes)[1]
        assert len(held) == told and {d["status"] for d in held} == {"pending"}
        ends = datetime.fromisoformat(held[0]["next_attempt_at"])
        assert timedelta(minutes=30) < ends - datetime.now(UTC) <= timedelta(hours=1, minutes=1)

        # The unsubscribed person: the one e-mail before the link, none after.
        assert len(to(sink, "desabo@asbl.example")) == 1

        # Signed webhooks: one per increment, each verified with the partner's secret, none twice.
        posts = receiver.requests
        assert len(posts) == told and all(p.verified for p in posts), [p.problem for p in posts]
        assert len({p.headers["webhook-id"] for p in posts}) == told

    # Hard bounces: three refusals, then the e-mail channel is suspended and the Coordination told.
    def suspended() -> bool:
        return call(notifications.url + f"/contacts/{gone['id']}", token=notes)[1]["suspended_at"] is not None

    await eventually(suspended, timeout=60, what="the bouncing contact suspended")
    assert len([r for r in sink.received if BOUNCING in r.rcpt_tos]) == 0, "a refused recipient receives nothing"
    log = call(notifications.url + f"/deliveries?contact={gone['id']}&channel=email&limit=1000", token=notes)[1]
    statuses = sorted(d["status"] for d in log)
    assert statuses.count("bounced") == 3 and set(statuses) <= {"bounced", "suppressed"}
    coordination_mailbox = next(
        p["email"] for p in call(notifications.url + "/partners", token=notes)[1] if p["code"] == COORDINATION
    )
    await eventually(
        lambda: any("asbl-partie" in m["Subject"] for m in to(sink, coordination_mailbox)),
        timeout=30,
        what="the Coordination told of the suspension",
    )

    # A Working Group meeting: a convocation to each member, and the digest of what changed since
    # the last meeting (three days before: at once).
    coordination_actions = actions.cli("create-api-key", "--organisation", COORDINATION, "--role", "coordination")
    meeting = {
        "kind": "working_group",
        "starts_at": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        "location": "Rue Royale 2-4, 1000 Bruxelles",
        "agenda": [{"action_number": 46, "title": "Bilan de la saison de livraisons"}],
    }
    status, scheduled = call(actions.url + "/meetings/planned", meeting, coordination_actions)
    assert status == 201, scheduled
    members = {"easy-brussels": "Convocation", "actiris": "Uitnodiging"}
    addresses = {p["code"]: p["email"] for p in call(notifications.url + "/partners", token=notes)[1]}

    def convened() -> bool:
        return all(any(word in m["Subject"] for m in to(sink, addresses[code])) for code, word in members.items())

    await eventually(convened, timeout=60, what="a convocation to each member")
    for code, word in members.items():
        convocations = [m for m in to(sink, addresses[code]) if word in m["Subject"]]
        assert len(convocations) == 1, code
        assert "Bilan de la saison de livraisons" in convocations[0].get_content()

    def pre_meeting_digests(code: str) -> list[Any]:
        return [m for m in to(sink, addresses[code]) if "Avant le" in m["Subject"] or "Voor de" in m["Subject"]]

    await eventually(lambda: all(pre_meeting_digests(c) for c in members), timeout=60, what="the pre-meeting digests")
    [before_meeting] = pre_meeting_digests("easy-brussels")
    assert "Action 46" in before_meeting.get_content()
    assert all(len(pre_meeting_digests(c)) == 1 for c in members)

    # The daily digest, at its time: the season's increments in one line for the indicator.
    await eventually(lambda: to(sink, "dag@asbl.example"), timeout=DIGEST_IN_S + 60, what="the daily digest")
    [digest] = to(sink, "dag@asbl.example")
    body = digest.get_content()
    assert f"({told} metingen)" in body, body
    assert body.count("Actie 46:") == 1, "one line for the indicator, from the first value to the last"
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert to(sink, "calme@asbl.example") == [], "quiet hours still hold the quiet person's e-mails"
