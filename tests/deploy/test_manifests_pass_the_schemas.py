"""Every manifest a platform team applies passes the schemas its API server would check it
against, offline, with two validators (``tools.kube_schemas`` builds both):

- kubeconform, strict (an unknown field is an error), with Kubernetes' JSON schemas (the
  ``kubernetes-validate`` package's) and those of the operators' CustomResourceDefinitions
  (Strimzi's release CRDs, CloudNativePG's from its Go module);
- kubectl-validate, the API server's own validation code on the same CRDs and Kubernetes' OpenAPI
  documents: it also runs the CRDs' CEL rules and checks names, which kubeconform cannot.

Each kind is its own test, and so is a deliberately broken manifest of each kind, which both must
reject at the field that was broken: a validator that accepted everything would fail here."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import OVERLAYS, Doc, of_kind, rendered
from tools import kube_schemas

Break = Callable[[Doc], None]


def _set(path: str, value: Any) -> Break:
    """A break: the field at ``path`` (dots; numbers index lists) set to ``value``."""

    def apply(doc: Doc) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return apply


# Per kind: how its first manifest is broken, and the JSON pointer kubeconform must name.
BROKEN: dict[str, tuple[Break, str]] = {
    "ConfigMap": (_set("data.PASSERELLE_LOG_LEVEL", 3), "/data/PASSERELLE_LOG_LEVEL"),
    "Deployment": (_set("spec.replicas", "two"), "/spec/replicas"),
    "Service": (_set("spec.ports.0.port", "http"), "/spec/ports/0/port"),
    "PodDisruptionBudget": (_set("spec.selector", "every pod"), "/spec/selector"),
    "NetworkPolicy": (_set("spec.policyTypes", "Ingress"), "/spec/policyTypes"),
    "Ingress": (_set("spec.rules.0.http.paths.0.pathType", 1), "/spec/rules/0/http/paths/0/pathType"),
    "Kafka": (_set("spec.kafka.listeners.0.type", "public"), "/spec/kafka/listeners/0/type"),
    "KafkaNodePool": (_set("spec.roles", ["worker"]), "/spec/roles/0"),
    "KafkaTopic": (_set("spec.partitions", "three"), "/spec/partitions"),
    "KafkaUser": (_set("spec.authentication.type", "scram-sha-256"), "/spec/authentication/type"),
    "Cluster": (_set("spec.instances", "three"), "/spec/instances"),
    "Database": (_set("spec.ensure", "exists"), "/spec/ensure"),
    "ScheduledBackup": (_set("spec.method", "tape"), "/spec/method"),
}
KINDS = sorted(BROKEN)


@cache
def toolchain() -> kube_schemas.Toolchain:
    return kube_schemas.ensure()


def kubeconform(docs: list[Doc], tmp_path: Path) -> list[dict[str, Any]]:
    """kubeconform's verdict on each document (-verbose: the valid ones are listed too)."""
    path = tmp_path / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    done = subprocess.run(
        [*kube_schemas.kubeconform_command(toolchain(), "-verbose"), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.strip(), f"kubeconform printed nothing (exit {done.returncode}): {done.stderr}"
    resources: list[dict[str, Any]] = json.loads(done.stdout)["resources"]
    assert (done.returncode == 0) == all(r["status"] == "statusValid" for r in resources), done.stdout
    return resources


def test_the_overlays_hold_exactly_the_kinds_tested_here() -> None:
    rendered_kinds = {d["kind"] for overlay in OVERLAYS for d in rendered(overlay)}
    assert rendered_kinds == set(KINDS), "a new kind needs its schema test and its broken manifest"


def every_manifest_of(kind: str) -> list[Doc]:
    docs = [d for overlay in OVERLAYS for d in of_kind(rendered(overlay), kind)]
    assert docs, f"no {kind} in the overlays"
    return docs


def broken(kind: str) -> tuple[Doc, str]:
    """The first manifest of the kind, broken as BROKEN says, and the pointer of the broken field."""
    doc = copy.deepcopy(of_kind(rendered("production"), kind)[0])
    breaks, pointer = BROKEN[kind]
    breaks(doc)
    return doc, pointer


@pytest.mark.parametrize("kind", KINDS)
def test_every_manifest_of_the_kind_passes_its_schema(kind: str, tmp_path: Path) -> None:
    docs = every_manifest_of(kind)
    verdicts = kubeconform(docs, tmp_path)
    assert len(verdicts) == len(docs), "kubeconform skipped a document (no schema?)"
    invalid = [f"{v['kind']} {v['name']}: {v.get('msg')}" for v in verdicts if v["status"] != "statusValid"]
    assert not invalid, "\n".join(invalid)


@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_manifest_of_the_kind_is_rejected_at_the_broken_field(kind: str, tmp_path: Path) -> None:
    doc, pointer = broken(kind)
    (verdict,) = kubeconform([doc], tmp_path)
    assert verdict["status"] == "statusInvalid", verdict
    assert f"at '{pointer}'" in verdict["msg"], verdict["msg"]


def kubectl_validate(docs: list[Doc], tmp_path: Path) -> list[dict[str, Any]]:
    """kubectl-validate's verdict on each document, in order (a file: it does not read stdin)."""
    path = tmp_path / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    done = subprocess.run(
        kube_schemas.kubectl_validate_command(toolchain(), str(path)), capture_output=True, text=True, check=False
    )
    assert done.stdout.strip(), f"kubectl-validate printed nothing (exit {done.returncode}): {done.stderr}"
    verdicts: list[dict[str, Any]] = json.loads(done.stdout)[str(path)]
    assert len(verdicts) == len(docs)
    assert (done.returncode == 0) == all(v["status"] == "Success" for v in verdicts), done.stdout
    return verdicts


@pytest.mark.parametrize("kind", KINDS)
def test_every_manifest_of_the_kind_passes_the_api_servers_own_validation(kind: str, tmp_path: Path) -> None:
    failures = [v["message"] for v in kubectl_validate(every_manifest_of(kind), tmp_path) if v["status"] != "Success"]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("kind", KINDS)
def test_the_api_servers_validation_rejects_the_broken_manifest_of_the_kind_too(kind: str, tmp_path: Path) -> None:
    doc, pointer = broken(kind)
    (verdict,) = kubectl_validate([doc], tmp_path)
    assert verdict["status"] == "Failure", verdict
    # The field as the API server names it: /spec/kafka/listeners/0/type is spec.kafka.listeners[0].type
    field = ".".join(pointer.strip("/").split("/"))
    field = re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", field)
    assert field in verdict["message"], verdict["message"]


def test_a_cel_rule_of_a_crd_is_enforced_where_a_json_schema_cannot(tmp_path: Path) -> None:
    cluster = copy.deepcopy(of_kind(rendered("production"), "Cluster")[0])
    cluster["spec"]["postgresql"]["synchronous"]["number"] = 0  # no synchronous standby at all
    (schema_verdict,) = kubeconform([cluster], tmp_path)
    assert schema_verdict["status"] == "statusValid", "kubeconform cannot see CEL rules: this is why both run"
    (verdict,) = kubectl_validate([cluster], tmp_path)
    assert verdict["status"] == "Failure"
    assert "synchronous replicas should be greater than zero" in verdict["message"]


def test_a_name_kubernetes_refuses_is_refused(tmp_path: Path) -> None:
    topic = copy.deepcopy(of_kind(rendered("production"), "KafkaTopic")[0])
    topic["metadata"]["name"] = "passerelle_actions_v1"  # a Kafka topic name, not a Kubernetes one
    (verdict,) = kubectl_validate([topic], tmp_path)
    assert verdict["status"] == "Failure" and "metadata.name" in verdict["message"], verdict


def test_an_unknown_field_is_rejected_as_a_strict_server_would(tmp_path: Path) -> None:
    doc = copy.deepcopy(of_kind(rendered("production"), "Deployment")[0])
    doc["spec"]["replica"] = 2  # a typo of replicas: silently dropped without -strict
    (verdict,) = kubeconform([doc], tmp_path)
    assert verdict["status"] == "statusInvalid" and "replica" in verdict["msg"], verdict


def test_a_kind_without_a_schema_is_an_error_not_a_pass(tmp_path: Path) -> None:
    doc = {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaBridgeOfSighs",
        "metadata": {"name": "x"},
        "spec": {},
    }
    (verdict,) = kubeconform([doc], tmp_path)
    assert verdict["status"] == "statusError", verdict
