"""The alerting rules shipped in deploy/prometheus/alerts.yml use only metrics the services
expose, and each points to a section of the runbook that exists: an alert on a renamed metric
never fires, and an alert whose runbook link is dead leaves the operator alone at night."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import yaml

from services.notifications.settings import NotificationsSettings
from services.runtime.service import Runtime
from tests.support import ROOT

SERVICES = ("actions", "equipment", "funding", "notifications")
PROMETHEUS_OWN = {"up"}  # what Prometheus itself records for each target
METRIC = re.compile(r"\b(passerelle_[a-z_]+|up)\b")


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def exposed_series() -> set[str]:
    """Every series name the four services can expose (apps built, not started: no I/O)."""
    names: set[str] = set()
    for service in SERVICES:
        app = importlib.import_module(f"services.{service}.app").create_app()
        for family in app.state.runtime.metrics.registry.collect():  # labelled ones too, with no samples yet
            if family.type == "counter":
                names.add(f"{family.name}_total")
            elif family.type == "histogram":
                names.update({f"{family.name}_bucket", f"{family.name}_count", f"{family.name}_sum"})
            else:
                names.add(family.name)
    return names


def slug(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def runbook_anchors() -> set[str]:
    text = (ROOT / "docs" / "runbook.md").read_text()
    return {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_every_alert_uses_only_metrics_the_services_expose() -> None:
    exposed = exposed_series() | PROMETHEUS_OWN
    unknown = {
        (rule["alert"], name) for rule in rules() for name in METRIC.findall(rule["expr"]) if name not in exposed
    }
    assert unknown == set()


def test_every_alert_has_a_severity_a_summary_and_a_runbook_section_that_exists() -> None:
    anchors = runbook_anchors()
    for rule in rules():
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        path, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert path == "docs/runbook.md", rule["alert"]
        assert anchor in anchors, f"{rule['alert']}: no section #{anchor} in the runbook"


def test_the_rules_cover_the_outbox_the_consumers_the_dead_letters_and_the_mail() -> None:
    used = {name for rule in rules() for name in METRIC.findall(rule["expr"])}
    assert {
        "passerelle_outbox_oldest_age_seconds",
        "passerelle_outbox_parked",
        "passerelle_consumer_lag",
        "passerelle_dead_letters_total",
        "passerelle_emails_oldest_pending_age_seconds",
    } <= used


def test_a_service_without_a_relay_exports_no_relay_leader_to_alert_on() -> None:
    """A 0 there would page "no replica publishes" for ever. Every service publishes now (the
    notifications service since it reports what became of its messages), so each exports it."""
    for service in SERVICES:
        registry = importlib.import_module(f"services.{service}.app").create_app().state.runtime.metrics.registry
        assert registry.get_sample_value("passerelle_outbox_relay_leader") is not None, service
    without = Runtime(NotificationsSettings(), migrations=Path("."), relay=False)
    assert without.metrics.registry.get_sample_value("passerelle_outbox_relay_leader") is None


def test_each_consumed_topic_has_its_dead_letter_counters_at_0_before_the_first_one() -> None:
    """``increase()`` needs a sample before the first dead letter, or the first one never alerts."""
    registry = importlib.import_module("services.actions.app").create_app().state.runtime.metrics.registry
    for reason in ("invalid-envelope", "invalid-data", "handler-failed"):
        labels = {"topic": "passerelle.equipment.v1", "reason": reason}
        assert registry.get_sample_value("passerelle_dead_letters_total", labels) == 0, reason
