"""The gateway's position token: what a client gives back in Last-Event-ID to resume a stream."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from services.gateway import position
from services.gateway.position import InvalidPosition

FUNDING = "passerelle.partners.funding.v1"
ACTIONS = "passerelle.partners.actions.v1"


def test_a_position_survives_its_round_trip_through_a_token() -> None:
    where = {(FUNDING, 0): 12, (FUNDING, 2): 7, (ACTIONS, 1): 0, (ACTIONS, 0): 2**63 - 1}
    assert position.decode(position.encode(where)) == where


def test_the_empty_position_is_a_token_too() -> None:
    assert position.decode(position.encode({})) == {}


def test_a_token_is_versioned_url_safe_and_short() -> None:
    token = position.encode({(FUNDING, p): 1_000_000 + p for p in range(3)} | {(ACTIONS, p): 5 for p in range(3)})
    assert token.startswith("v1.")
    assert all(c.isalnum() or c in "-_." for c in token)
    assert len(token) < 120


def test_the_same_position_always_gives_the_same_token() -> None:
    one = {(FUNDING, 0): 1, (ACTIONS, 1): 2}
    other = {(ACTIONS, 1): 2, (FUNDING, 0): 1}
    assert position.encode(one) == position.encode(other)


def test_a_position_that_moves_gives_another_token() -> None:
    assert position.encode({(FUNDING, 0): 1}) != position.encode({(FUNDING, 0): 2})


def test_a_position_outside_the_partner_topics_or_negative_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="not a partner topic"):
        position.encode({("passerelle.funding.v1", 0): 1})
    with pytest.raises(ValueError, match="not a position"):
        position.encode({(FUNDING, 0): -1})


def _flip(token: str, index: int) -> str:
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


@pytest.mark.parametrize("index", [3, 5, 10, -1, -4])
def test_a_token_altered_anywhere_is_refused(index: int) -> None:
    token = position.encode({(FUNDING, 0): 12, (FUNDING, 1): 40, (ACTIONS, 2): 3})
    with pytest.raises(InvalidPosition, match="cut or altered"):
        position.decode(_flip(token, index))


def test_a_token_cut_short_is_refused() -> None:
    token = position.encode({(FUNDING, 0): 12, (FUNDING, 1): 40})
    for length in (3, 4, 10, len(token) - 1):
        with pytest.raises(InvalidPosition):
            position.decode(token[:length])


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "starts with its version"),
        ("garbage", "starts with its version"),
        ("12345", "starts with its version"),
        ("v1", "starts with its version"),
        ("v1.", "cut or altered"),
        ("v1.not base64!", "not base64url"),
        ("v1.AAAA=", "not base64url"),
        ("v1." + "A" * 5000, "far shorter"),
    ],
)
def test_what_is_not_a_token_is_refused_with_a_reason(token: str, reason: str) -> None:
    with pytest.raises(InvalidPosition, match=reason):
        position.decode(token)


def test_a_token_of_an_unknown_version_is_refused_not_guessed() -> None:
    body = position.encode({(FUNDING, 0): 1}).removeprefix("v1.")
    with pytest.raises(InvalidPosition, match="version v2 is unknown"):
        position.decode("v2." + body)


def _forged(content: object) -> str:
    """A token with valid check digits around any JSON: the shape is checked all the same."""
    payload = json.dumps(content).encode()
    packed = hashlib.sha256(payload).digest()[:4] + payload
    return "v1." + base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "content",
    [
        [1, 2],
        {"funding.v1": 3},
        {"funding.v1": [-1]},
        {"funding.v1": [1.5]},
        {"funding.v1": [True]},
        {"funding.v1": ["3"]},
        {"funding.v1": [2**63]},
        {"": [1]},
        {"funding.v1": [0] * 1001},
    ],
)
def test_a_token_whose_content_is_not_a_position_is_refused(content: object) -> None:
    with pytest.raises(InvalidPosition):
        position.decode(_forged(content))


def test_a_partition_the_position_does_not_hold_is_left_out() -> None:
    assert position.decode(_forged({"funding.v1": [None, 4]})) == {(FUNDING, 1): 4}
