"""The verifier partners run on their side: it accepts what Passerelle signed, now, with their
secret, and nothing else."""

from __future__ import annotations

import pytest
from passerelle_contracts.webhooks import InvalidSignature, secret_key, sign, verify

# The Standard Webhooks reference test vector (its libraries' test suites): the same inputs must
# give the same signature, or partners using another implementation could not verify ours.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

NOW = 1_750_000_000
SECRET = "whsec_c2VjcmV0LWZvci10ZXN0cy0xMjM0NTY3ODkwYWJjZA=="
BODY = b'{"type":"DevicesDelivered","data":{"devices":12}}'


def headers(
    body: bytes = BODY, *, timestamp: int = NOW, secret: str = SECRET, message_id: str = "msg_1"
) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


def test_the_signature_is_the_standard_webhooks_one() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    verify(
        VECTOR_SECRET,
        {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TIMESTAMP), "webhook-signature": VECTOR_SIGNATURE},
        VECTOR_BODY,
        now=VECTOR_TIMESTAMP,
    )


def test_a_request_signed_now_with_the_secret_verifies() -> None:
    verify(SECRET, headers(), BODY, now=NOW)


def test_header_names_are_case_insensitive() -> None:
    verify(SECRET, {name.title(): value for name, value in headers().items()}, BODY, now=NOW)


def test_the_secret_may_come_without_its_prefix_or_its_padding() -> None:
    bare = SECRET.removeprefix("whsec_")
    verify(bare, headers(), BODY, now=NOW)
    verify(bare.rstrip("="), headers(), BODY, now=NOW)


def test_a_tampered_body_does_not_verify() -> None:
    with pytest.raises(InvalidSignature, match="no signature matches"):
        verify(SECRET, headers(), BODY.replace(b"12", b"13"), now=NOW)


def test_a_request_signed_with_another_secret_does_not_verify() -> None:
    with pytest.raises(InvalidSignature):
        verify(SECRET, headers(secret=VECTOR_SECRET), BODY, now=NOW)


def test_a_signature_moved_to_another_message_id_or_time_does_not_verify() -> None:
    signed = headers()
    with pytest.raises(InvalidSignature):
        verify(SECRET, signed | {"webhook-id": "msg_2"}, BODY, now=NOW)
    with pytest.raises(InvalidSignature):
        verify(SECRET, signed | {"webhook-timestamp": str(NOW + 1)}, BODY, now=NOW)


@pytest.mark.parametrize("offset_s", [-301, 301])
def test_a_timestamp_outside_the_tolerance_is_a_replay_either_way(offset_s: int) -> None:
    with pytest.raises(InvalidSignature, match="away from now"):
        verify(SECRET, headers(timestamp=NOW + offset_s), BODY, now=NOW)
    verify(SECRET, headers(timestamp=NOW + offset_s), BODY, now=NOW, tolerance_s=301)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_does_not_verify(missing: str) -> None:
    incomplete = {name: value for name, value in headers().items() if name != missing}
    with pytest.raises(InvalidSignature, match="missing"):
        verify(SECRET, incomplete, BODY, now=NOW)


@pytest.mark.parametrize("timestamp", ["soon", "1.75e9", "-1750000000", "", "١٧٥٠٠٠٠٠٠٠"])
def test_a_timestamp_that_is_not_whole_seconds_does_not_verify(timestamp: str) -> None:
    with pytest.raises(InvalidSignature):
        verify(SECRET, headers() | {"webhook-timestamp": timestamp}, BODY, now=NOW)


def test_one_matching_signature_among_several_is_enough_as_during_a_rotation() -> None:
    signed = headers()
    others = f"v1,{'A' * 43}= v2,{signed['webhook-signature'][3:]} v1a,xyz garbage"
    verify(SECRET, signed | {"webhook-signature": f"{others} {signed['webhook-signature']}"}, BODY, now=NOW)


def test_only_v1_signatures_count() -> None:
    signed = headers()
    with pytest.raises(InvalidSignature):
        verify(SECRET, signed | {"webhook-signature": "v2," + signed["webhook-signature"][3:]}, BODY, now=NOW)


def test_a_signature_header_too_long_to_be_ours_is_refused_unread() -> None:
    signed = headers()
    with pytest.raises(InvalidSignature, match="too long"):
        verify(SECRET, signed | {"webhook-signature": "v1,x " * 2000 + signed["webhook-signature"]}, BODY, now=NOW)


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_", ""])
def test_a_secret_that_is_not_one_is_a_configuration_error_not_a_bad_request(secret: str) -> None:
    with pytest.raises(ValueError) as raised:
        secret_key(secret)
    assert not isinstance(raised.value, InvalidSignature)
