"""What a gateway stream may read: the request's names, the partner's grants (the broker's ACLs,
read as Kafka reads them, and cached), the limits on open streams."""

from __future__ import annotations

import pytest

from services.access.principals import Grant, partner_grants, partner_principal
from services.gateway import position, selection
from services.gateway.grants import Grants, GrantsUnavailable, readable_topics
from services.gateway.selection import InvalidPositionError
from services.gateway.streams import Limits, Refused
from services.runtime.errors import Forbidden, Invalid

FUNDING = "passerelle.partners.funding.v1"
ACTIONS = "passerelle.partners.actions.v1"
EQUIPMENT = "passerelle.partners.equipment.v1"
PREFIX = "t1."


def test_a_request_names_partner_topics_and_their_event_types() -> None:
    asked = selection.parse(f" {FUNDING},{ACTIONS},{FUNDING}", "GrantAwarded, EpnRegistered", "end", None)
    assert asked.topics == (FUNDING, ACTIONS)
    assert asked.types == frozenset({"GrantAwarded", "EpnRegistered"})
    assert asked.start == "end"
    assert asked.resume == {}


@pytest.mark.parametrize(
    ("topics", "types", "reason"),
    [
        ("passerelle.funding.v1", None, "not partner topics: passerelle.funding.v1"),
        ("nothing", None, "not partner topics: nothing"),
        (",", None, "topics names nothing"),
        (None, "NoSuchEvent", "not event types of any partner topic: NoSuchEvent"),
        # notifications has no partner topic: its events are no partner topic's type
        (None, "MessageSent", "not event types of any partner topic: MessageSent"),
    ],
)
def test_a_name_the_registry_does_not_know_is_refused(topics: str | None, types: str | None, reason: str) -> None:
    with pytest.raises(Invalid, match=reason):
        selection.parse(topics, types, "beginning", None)


def test_a_position_is_read_from_last_event_id_and_an_invalid_one_is_refused() -> None:
    token = position.encode({(FUNDING, 1): 9})
    assert selection.parse(None, None, "beginning", token).resume == {(FUNDING, 1): 9}
    with pytest.raises(InvalidPositionError, match="Last-Event-ID") as refused:
        selection.parse(None, None, "beginning", "v1.nonsense")
    assert refused.value.status_code == 400


def test_by_default_a_stream_reads_every_topic_granted() -> None:
    asked = selection.parse(None, None, "beginning", None)
    assert selection.resolve(asked, {FUNDING, ACTIONS}, "epn-ixelles") == ((ACTIONS, FUNDING), None)


def test_a_topic_not_granted_is_refused_by_name() -> None:
    asked = selection.parse(f"{FUNDING},{ACTIONS}", None, "beginning", None)
    with pytest.raises(Forbidden, match=f"not granted to epn-ixelles: {ACTIONS}"):
        selection.resolve(asked, {FUNDING}, "epn-ixelles")


def test_a_partner_granted_nothing_is_refused() -> None:
    with pytest.raises(Forbidden, match="no partner topic is granted to epn-ixelles"):
        selection.resolve(selection.parse(None, None, "beginning", None), set(), "epn-ixelles")


def test_a_type_the_streamed_topics_never_carry_is_refused() -> None:
    asked = selection.parse(FUNDING, "GrantAwarded,ActionRegistered", "beginning", None)
    with pytest.raises(Invalid, match="never carry ActionRegistered"):
        selection.resolve(asked, {FUNDING, ACTIONS}, "epn-ixelles")


def test_the_grants_read_are_the_partner_topics_readable_as_kafka_reads_acls() -> None:
    who = partner_principal("epn-ixelles", PREFIX)
    granted = set(partner_grants("epn-ixelles", [FUNDING], PREFIX))
    assert readable_topics(granted, PREFIX) == {FUNDING}
    # describe alone, another deployment's prefix, a group: no read of a partner topic
    others = {
        Grant(who, "topic", PREFIX + ACTIONS, "literal", "describe"),
        Grant(who, "topic", "t2." + ACTIONS, "literal", "read"),
        Grant(who, "group", PREFIX + ACTIONS, "literal", "read"),
    }
    assert readable_topics(others, PREFIX) == set()
    # a prefixed ACL reads every topic its name starts; the literal * every topic
    assert readable_topics({Grant(who, "topic", PREFIX + "passerelle.partners.", "prefixed", "read")}, PREFIX) == {
        FUNDING,
        ACTIONS,
        EQUIPMENT,
    }
    assert readable_topics({Grant(who, "topic", "*", "literal", "read")}, PREFIX) == {FUNDING, ACTIONS, EQUIPMENT}


class FakeBroker:
    def __init__(self) -> None:
        self.grants: dict[str, set[Grant]] = {}
        self.asked: list[str] = []
        self.down = False

    def __call__(self, principal: str) -> set[Grant]:
        self.asked.append(principal)
        if self.down:
            raise RuntimeError("broker away")
        return self.grants.get(principal, set())


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_grants_are_read_once_per_period_and_again_after_it() -> None:
    broker, clock = FakeBroker(), Clock()
    broker.grants[partner_principal("epn-ixelles", PREFIX)] = set(partner_grants("epn-ixelles", [FUNDING], PREFIX))
    grants = Grants(broker, PREFIX, ttl_s=30, clock=clock)
    assert await grants.readable("epn-ixelles") == {FUNDING}
    broker.grants.clear()  # offboarded
    clock.now += 29
    assert await grants.readable("epn-ixelles") == {FUNDING}
    clock.now += 2
    assert await grants.readable("epn-ixelles") == set()
    assert broker.asked == [partner_principal("epn-ixelles", PREFIX)] * 2


async def test_a_broker_that_does_not_answer_leaves_the_last_grants_for_a_while_then_none() -> None:
    broker, clock = FakeBroker(), Clock()
    broker.grants[partner_principal("epn-ixelles", PREFIX)] = set(partner_grants("epn-ixelles", [FUNDING], PREFIX))
    grants = Grants(broker, PREFIX, ttl_s=10, clock=clock)
    assert await grants.readable("epn-ixelles") == {FUNDING}
    broker.down = True
    clock.now += 15
    assert await grants.readable("epn-ixelles") == {FUNDING}
    clock.now += 30
    with pytest.raises(GrantsUnavailable):
        await grants.readable("epn-ixelles")
    with pytest.raises(GrantsUnavailable):
        await grants.readable("epn-forest")  # never read: unknown at once


async def test_an_organisation_code_no_partner_principal_can_have_is_granted_nothing() -> None:
    broker = FakeBroker()
    grants = Grants(broker, PREFIX, ttl_s=10)
    assert await grants.readable("a" * 64) == set()
    assert broker.asked == []


def test_open_streams_are_limited_per_partner_and_in_all() -> None:
    limits = Limits(per_partner=2, overall=3)
    limits.take("a")
    limits.take("a")
    with pytest.raises(Refused) as refused:
        limits.take("a")
    assert refused.value.status_code == 429
    limits.take("b")
    with pytest.raises(Refused) as refused:
        limits.take("c")
    assert refused.value.status_code == 503
    limits.give_back("a")
    limits.take("c")
