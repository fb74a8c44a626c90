"""Who may read and write what (``services.access.principals``), derived from the topic registry:
a service writes only what it produces (and the dead letters of what it consumes), a partner reads
the partner topics it was granted and nothing else, every name carries the deployment's prefix, and
the registry's consumers are exactly what each service subscribes to, since the broker refuses a
subscription its ACLs do not allow. No broker here: these are values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from passerelle_contracts import TOPICS, all_topics

from services.access import principals
from services.access.cli import parser
from services.access.principals import (
    Grant,
    consumed_by,
    partner_grants,
    partner_group_prefix,
    partner_principal,
    partner_topics,
    service_grants,
    service_principal,
    services,
)

PREFIX = "t1234abcd.pa42."
INTERNAL = [spec.name for spec in all_topics() if spec.audience == "internal"]  # dead-letter topics included
PARTNER = list(partner_topics())


def every_service_grant() -> list[Grant]:
    return [grant for service in services() for grant in service_grants(service, PREFIX)]


def topics_with(grants: list[Grant], principal: str, operation: str) -> set[str]:
    return {
        g.resource_name.removeprefix(PREFIX)
        for g in grants
        if g.principal == principal and g.resource_type == "topic" and g.operation == operation
    }


def test_the_services_with_a_principal_are_the_registry_s_producers_the_gateway_and_the_dashboard() -> None:
    assert set(services()) == {spec.producer for spec in TOPICS} | {"gateway", "dashboard"}
    assert set(services()) == {"actions", "equipment", "funding", "notifications", "gateway", "dashboard"}


def test_the_dashboard_reads_every_internal_topic_and_writes_only_their_dead_letters() -> None:
    grants = service_grants("dashboard", PREFIX)
    internal = {spec.name for spec in TOPICS if spec.audience == "internal"}
    assert topics_with(grants, PREFIX + "service-dashboard", "read") == internal | {f"{name}.dlq" for name in internal}
    assert topics_with(grants, PREFIX + "service-dashboard", "write") == {f"{name}.dlq" for name in internal}


@pytest.mark.parametrize("topic", [spec.name for spec in all_topics()])
def test_a_topic_is_written_only_by_its_producer_or_for_a_dead_letter_topic_by_the_consumers_of_its_topic(
    topic: str,
) -> None:
    spec = next(s for s in all_topics() if s.name == topic)
    if topic.endswith(".dlq"):
        source = next(s for s in TOPICS if s.dead_letter.name == topic)
        expected = {service_principal(c, PREFIX) for c in source.consumers if c in services()}
    else:
        expected = {service_principal(spec.producer, PREFIX)}

    writers = {
        g.principal
        for g in every_service_grant()
        if g.resource_type == "topic" and g.operation == "write" and g.resource_name == PREFIX + topic
    }

    assert writers == expected


@pytest.mark.parametrize("service", services())
def test_a_service_writes_only_the_topics_it_produces_and_the_dead_letters_of_the_internal_topics_it_consumes(
    service: str,
) -> None:
    grants = service_grants(service, PREFIX)
    produced = {spec.name for spec in TOPICS if spec.producer == service}
    dead_letters = {spec.dead_letter.name for spec in consumed_by(service) if spec.audience == "internal"}

    assert topics_with(grants, service_principal(service, PREFIX), "write") == produced | dead_letters
    written = {g.resource_name for g in grants if g.operation == "write"}
    assert written <= {PREFIX + spec.name for spec in all_topics()}, "no WRITE on a topic that is not created"


def test_the_gateway_reads_every_partner_topic_without_a_group_and_writes_nowhere() -> None:
    grants = service_grants("gateway", PREFIX)
    gateway = service_principal("gateway", PREFIX)

    assert topics_with(grants, gateway, "read") == set(PARTNER)
    assert topics_with(grants, gateway, "write") == set()
    assert [g for g in grants if g.resource_type == "group"] == []
    assert [(g.resource_type, g.operation) for g in grants if g.resource_type == "cluster"] == [("cluster", "describe")]


@pytest.mark.parametrize("service", [s for s in services() if s != "gateway"])
def test_a_service_reads_what_the_registry_lists_it_as_consumer_of_in_its_own_consumer_groups(service: str) -> None:
    grants = service_grants(service, PREFIX)
    who = service_principal(service, PREFIX)
    consumed = {spec.name for spec in consumed_by(service)}
    dead_letters = {spec.dead_letter.name for spec in consumed_by(service)}

    assert topics_with(grants, who, "read") == consumed | dead_letters
    groups = {(g.resource_name, g.pattern_type, g.operation) for g in grants if g.resource_type == "group"}
    assert groups == ({(f"{PREFIX}{service}.", "prefixed", op) for op in ("read", "describe")} if consumed else set())
    assert not any(g.resource_type == "cluster" for g in grants), "only the gateway describes the cluster"


def test_no_service_reads_a_partner_topic_but_the_gateway() -> None:
    readers = {
        g.principal
        for g in every_service_grant()
        if g.operation == "read" and g.resource_name.removeprefix(PREFIX) in PARTNER
    }
    assert readers == {service_principal("gateway", PREFIX)}


def test_a_partner_reads_and_describes_its_granted_topic_and_its_groups_and_nothing_else() -> None:
    grants = partner_grants("caban", ["passerelle.partners.funding.v1"], PREFIX)
    who = f"{PREFIX}partner-caban"

    assert set(grants) == {
        Grant(who, "topic", f"{PREFIX}passerelle.partners.funding.v1", "literal", "read"),
        Grant(who, "topic", f"{PREFIX}passerelle.partners.funding.v1", "literal", "describe"),
        Grant(who, "group", f"{PREFIX}partner-caban.", "prefixed", "read"),
        Grant(who, "group", f"{PREFIX}partner-caban.", "prefixed", "describe"),
    }


@pytest.mark.parametrize("granted", [PARTNER[:1], PARTNER[1:], PARTNER])
def test_a_partner_never_writes_creates_or_describes_the_cluster_whatever_it_was_granted(granted: list[str]) -> None:
    grants = partner_grants("epn-ixelles", granted, PREFIX)

    assert {g.operation for g in grants} == {"read", "describe"}
    assert {g.resource_type for g in grants} == {"topic", "group"}
    assert {g.resource_name for g in grants if g.resource_type == "topic"} == {PREFIX + t for t in granted}
    assert {g.principal for g in grants} == {partner_principal("epn-ixelles", PREFIX)}


@pytest.mark.parametrize("topic", [*INTERNAL, "passerelle.partners.nowhere.v1", "passerelle.funding.v1.dlq"])
def test_granting_a_partner_a_topic_that_is_not_a_partner_topic_is_refused(topic: str) -> None:
    with pytest.raises(ValueError, match="not partner topics"):
        partner_grants("caban", ["passerelle.partners.funding.v1", topic], PREFIX)


def test_the_command_line_refuses_an_internal_topic_before_it_asks_the_broker(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["partners", "onboard", "caban", "--topics", "passerelle.funding.v1", "--out", "kits"])
    assert "invalid choice: 'passerelle.funding.v1'" in capsys.readouterr().err


def test_principal_names_group_prefixes_and_every_resource_but_the_cluster_carry_the_deployment_s_prefix() -> None:
    assert service_principal("funding", PREFIX) == f"{PREFIX}service-funding"
    assert partner_principal("caban", PREFIX) == f"{PREFIX}partner-caban"
    assert partner_group_prefix("caban", PREFIX) == f"{PREFIX}partner-caban."
    grants = every_service_grant() + partner_grants("caban", PARTNER, PREFIX)
    assert all(g.principal.startswith(PREFIX) for g in grants)
    assert all(g.resource_name.startswith(PREFIX) for g in grants if g.resource_type != "cluster")
    assert {g.resource_name for g in grants if g.resource_type == "cluster"} == {principals.CLUSTER}


def test_two_deployments_on_one_broker_share_no_principal_and_no_resource() -> None:
    ours = {(g.principal, g.resource_name) for g in every_service_grant() if g.resource_type != "cluster"}
    theirs = {
        (g.principal, g.resource_name)
        for service in services()
        for g in service_grants(service, "other.")
        if g.resource_type != "cluster"
    }
    assert {p for p, _ in ours} & {p for p, _ in theirs} == set()
    assert {r for _, r in ours} & {r for _, r in theirs} == set()


@pytest.mark.parametrize("code", ["", "Caban", "caban_", "-caban", "caban-", "a" * 41, "caban;admin", "caban.x"])
def test_a_partner_code_other_than_lower_case_letters_digits_and_inner_hyphens_is_refused(code: str) -> None:
    with pytest.raises(ValueError, match="partner code"):
        partner_principal(code)


def test_a_service_not_in_the_registry_has_no_grants() -> None:
    with pytest.raises(ValueError, match="not a service of the registry"):
        service_grants("reporting", PREFIX)


# --- the registry's consumers are what the services subscribe to ---------------------------------


def _app_factories() -> dict[str, Callable[[], Any]]:
    from services.actions.app import create_app as actions
    from services.dashboard.app import create_app as dashboard
    from services.equipment.app import create_app as equipment
    from services.funding.app import create_app as funding
    from services.notifications.app import create_app as notifications

    return {
        "actions": actions,
        "dashboard": dashboard,
        "equipment": equipment,
        "funding": funding,
        "notifications": notifications,
    }


def test_every_service_with_a_principal_but_the_gateway_is_checked_below() -> None:
    """The gateway subscribes to nothing through the runtime: each of its streams is a consumer of
    its own, without a group (``services.gateway.streams``), on the partner topics it may read."""
    assert set(_app_factories()) == set(services()) - {"gateway"}


@pytest.mark.parametrize("service", [s for s in services() if s != "gateway"])
def test_a_service_subscribes_to_exactly_the_topics_the_registry_lets_it_read_in_groups_it_may_use(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscription the ACLs do not allow is refused by the broker at runtime (the service
    starts, then its consumer fails); a READ granted for a topic nobody subscribes to is a
    privilege a stolen password would have for nothing. Both fail here first."""
    monkeypatch.setenv("PASSERELLE_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    monkeypatch.setenv("PASSERELLE_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    monkeypatch.setenv("PASSERELLE_TOPIC_PREFIX", PREFIX)
    app = _app_factories()[service]()
    subscribers = list(app.state.runtime.broker.subscribers)

    subscribed = {name for s in subscribers for name in s.topic_names}
    grants = service_grants(service, PREFIX)
    readable = {g.resource_name for g in grants if g.resource_type == "topic" and g.operation == "read"}
    group_prefixes = [g.resource_name for g in grants if g.resource_type == "group" and g.operation == "read"]

    assert subscribed == {PREFIX + spec.name for spec in consumed_by(service)}
    assert subscribed <= readable
    assert all(any(s.group_id.startswith(p) for p in group_prefixes) for s in subscribers), [
        s.group_id for s in subscribers
    ]
