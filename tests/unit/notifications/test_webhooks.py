"""The webhook channel against a real HTTP receiver that checks signatures with the partners'
verifier: what it posts, and what each answer (or silence) of the receiver comes to."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from passerelle_contracts.webhooks import InvalidSignature, secret_key, verify

from services.notifications.channels import Outcome, OutcomeKind
from services.notifications.webhooks import (
    POST_TIMEOUT_S,
    RESPONSE_MAX_BYTES,
    check_url,
    new_secret,
    post_webhook,
    signature,
)
from tests.mail_servers import Reply, SilentServer, WebhookReceiver
from tests.support import free_port

SECRET = new_secret()
BODY = json.dumps({"type": "DevicesDelivered", "data": {"devices": 12, "commune": "Ixelles"}}).encode()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as c:
        yield c


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    replies: dict[str, Reply | int] = {
        "/gone": Reply(410, body=b"<html><h1>Gone</h1></html>"),
        "/bad": Reply(400, body=b'{"error": "unknown event type"}'),
        "/down": Reply(503, body=b"maintenance until 14:00\r\nX-Injected: yes"),
        "/busy": 429,
        "/moved": Reply(302, headers={"location": "http://169.254.169.254/latest"}),
        "/slow": Reply(200, delay_s=3.0),
        "/huge": Reply(500, body=b"E" * (4 * RESPONSE_MAX_BYTES)),
    }
    with WebhookReceiver(SECRET, replies) as r:
        yield r


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    secrets: tuple[str, ...] = (SECRET,),
    now: int | None = None,
    timeout_s: float = POST_TIMEOUT_S,
) -> Outcome:
    return await post_webhook(
        client, url, secrets, "msg_0193b1c2", BODY, now=now, timeout_s=timeout_s, allow_loopback=True
    )


async def test_an_event_arrives_signed_so_that_the_partner_verifies_it(
    client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    outcome = await post(client, receiver.url("/hooks/passerelle"))

    assert outcome == Outcome("sent", "HTTP 200")
    [request] = receiver.requests
    assert (request.method, request.path, request.body) == ("POST", "/hooks/passerelle", BODY)
    assert request.verified, request.problem
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == "msg_0193b1c2"
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 5


@pytest.mark.parametrize(
    ("path", "kind", "hard_bounce", "detail"),
    [
        ("/gone", "refused", True, "HTTP 410"),
        ("/bad", "refused", False, "HTTP 400"),
        ("/down", "retry", False, "HTTP 503"),
        ("/busy", "retry", False, "HTTP 429"),
        (
            "/moved",
            "refused",
            False,
            "HTTP 302: redirects are not followed, register the final URL — Location http://169.254.169.254/latest",
        ),
    ],
)
async def test_each_answer_of_the_receiver_comes_to_its_outcome(
    client: httpx.AsyncClient, receiver: WebhookReceiver, path: str, kind: OutcomeKind, hard_bounce: bool, detail: str
) -> None:
    outcome = await post(client, receiver.url(path))

    assert outcome == Outcome(kind, detail, hard_bounce)
    assert len(receiver.requests) == 1, "a redirect is not followed"


async def test_a_receiver_that_answers_too_late_means_try_again(
    client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    started = time.monotonic()

    outcome = await post(client, receiver.url("/slow"), timeout_s=0.5)

    assert outcome.kind == "retry" and "no answer within 0.5 s" in outcome.detail
    assert time.monotonic() - started < 2.0


async def test_a_receiver_that_never_says_a_word_means_try_again() -> None:
    with SilentServer() as silent:
        async with httpx.AsyncClient(timeout=0.3) as impatient:
            outcome = await post(impatient, f"http://127.0.0.1:{silent.port}/hooks")

    assert outcome.kind == "retry" and "ReadTimeout" in outcome.detail


async def test_a_receiver_that_is_down_means_try_again(client: httpx.AsyncClient) -> None:
    outcome = await post(client, f"http://127.0.0.1:{free_port()}/hooks")

    assert outcome.kind == "retry" and "ConnectError" in outcome.detail


async def test_a_huge_answer_is_not_downloaded_and_the_receivers_words_stay_out_of_the_log(
    client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    assert await post(client, receiver.url("/huge")) == Outcome("retry", "HTTP 500")
    assert await post(client, receiver.url("/gone")) == Outcome("refused", "HTTP 410", hard_bounce=True)


async def test_during_a_rotation_a_receiver_holding_either_secret_verifies(client: httpx.AsyncClient) -> None:
    old, new = new_secret(), new_secret()
    with WebhookReceiver(old) as keeps_the_old, WebhookReceiver(new) as took_the_new:
        for receiver in (keeps_the_old, took_the_new):
            assert (await post(client, receiver.url("/hooks"), secrets=(old, new))).kind == "sent"
        with WebhookReceiver(new_secret()) as another:
            assert await post(client, another.url("/hooks"), secrets=(old, new)) == Outcome("refused", "HTTP 401")
        [refused] = another.requests
        assert refused.problem == "no signature matches"

    assert all(r.verified for r in keeps_the_old.requests + took_the_new.requests)


async def test_a_stale_timestamp_fails_verification_at_the_receiver(
    client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    outcome = await post(client, receiver.url("/hooks"), now=int(time.time()) - 3600)

    assert outcome.kind == "refused" and outcome.detail.startswith("HTTP 401")
    [request] = receiver.requests
    assert not request.verified and "away from now" in request.problem


async def test_a_body_tampered_with_on_the_way_fails_verification_at_the_receiver(
    client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    now = int(time.time())
    signed_headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": signature([SECRET], "msg_1", now, BODY),
    }

    answer = await client.post(receiver.url("/hooks"), content=BODY.replace(b"12", b"120"), headers=signed_headers)

    assert answer.status_code == 401
    assert not receiver.requests[0].verified


def test_several_secrets_give_one_signature_each() -> None:
    old, new = new_secret(), new_secret()
    both = signature([old, new], "msg_1", 1_750_000_000, BODY)

    assert len(both.split(" ")) == 2
    for secret in (old, new):
        verify(
            secret,
            {"webhook-id": "msg_1", "webhook-timestamp": "1750000000", "webhook-signature": both},
            BODY,
            now=1_750_000_000,
        )
    with pytest.raises(InvalidSignature):
        verify(
            new_secret(),
            {"webhook-id": "msg_1", "webhook-timestamp": "1750000000", "webhook-signature": both},
            BODY,
            now=1_750_000_000,
        )


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()

    assert secret.startswith("whsec_") and len(secret_key(secret)) == 32
    assert secret != new_secret()


@pytest.mark.parametrize(
    "url",
    [
        "https://partner.example/hooks/passerelle",
        "https://partner.example:8443/hooks?tenant=ixelles",
        "https://193.191.245.10/hooks",
    ],
)
def test_an_endpoint_url_is_https_to_a_public_address(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize("url", ["http://localhost:8080/hooks", "http://127.0.0.1:9000/", "http://[::1]:9000/"])
def test_a_receiver_on_this_machine_is_allowed_only_where_the_deployment_allows_it(url: str) -> None:
    assert check_url(url, allow_loopback=True) == url
    with pytest.raises(ValueError, match="private network"):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.5/admin",
        "https://192.168.1.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00::1]/",
        "https://db.internal/",
    ],
)
def test_an_endpoint_in_a_private_network_is_refused_so_a_partner_cannot_probe_ours(url: str) -> None:
    with pytest.raises(ValueError, match="private network"):
        check_url(url, allow_loopback=True)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://partner.example/hooks", "https is required"),
        ("ftp://partner.example/hooks", "not an http or https URL"),
        ("file:///etc/passwd", "not an http or https URL"),
        ("https://user:secret@partner.example/hooks", "credentials"),
        ("https://token@partner.example/hooks", "credentials"),
        ("https:///hooks", "no host"),
        ("https://partner.example:port/hooks", "not a valid URL"),
        ("https://partner.example/hooks\r\nX-Injected: yes", "white space"),
        ("https://partner.example/" + "a" * 3000, "longer than"),
    ],
)
def test_an_endpoint_url_that_is_not_safe_to_post_to_is_rejected_with_the_reason(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_url(url)


async def test_posting_to_a_url_that_is_not_safe_is_refused_without_a_request(client: httpx.AsyncClient) -> None:
    outcome = await post(client, "http://partner.example/hooks")

    assert outcome == Outcome("refused", "endpoint URL not usable: https is required")


@pytest.mark.parametrize("message_id", ["msg\nX-Injected: yes", "msg_é", ""])
async def test_a_message_id_that_cannot_be_a_header_is_refused_without_a_request(
    client: httpx.AsyncClient, receiver: WebhookReceiver, message_id: str
) -> None:
    outcome = await post_webhook(client, receiver.url("/hooks"), [SECRET], message_id, BODY, allow_loopback=True)

    assert outcome.kind == "refused" and receiver.requests == []


async def test_an_endpoint_secret_that_is_not_one_is_refused_without_a_request(
    client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    outcome = await post_webhook(
        client, receiver.url("/hooks"), ["whsec_not base64!"], "msg_1", BODY, allow_loopback=True
    )

    assert outcome.kind == "refused" and outcome.detail.startswith("endpoint secret not usable")
    assert receiver.requests == []
