"""What only a running cluster would show, checked on the rendered overlays: no API server runs
here (kind, k3s and envtest need downloads this machine cannot make), so the tests read the
manifests the way the controllers would. Selectors select the pods they are meant to, probes
reach routes the services serve, every Secret a pod needs is one an operator or the platform team
makes, each service's settings load from what its Deployment gives it, and the replication the
services ask of Kafka is what the cluster has."""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.routing import APIRoute

from services.runtime.kafka_access import KafkaAccess
from tests.deploy.manifests import OVERLAYS, Doc, named, of_kind, pod_labels, rendered, selects
from tools import kubernetes

SERVICE_NAMES = [s.name for s in kubernetes.SERVICES]
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

pytestmark = pytest.mark.parametrize("overlay", OVERLAYS)


def container(deployment: Doc) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def deployments(overlay: str) -> list[Doc]:
    return of_kind(rendered(overlay), "Deployment")


def test_every_service_has_a_deployment_a_service_a_disruption_budget_and_a_network_policy(overlay: str) -> None:
    docs = rendered(overlay)
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"):
        names = {d["metadata"]["name"] for d in of_kind(docs, kind)}
        assert set(SERVICE_NAMES) <= names, f"{kind}: missing {set(SERVICE_NAMES) - names}"


def test_each_deployment_selects_its_own_pods_and_no_other(overlay: str) -> None:
    all_pods = {d["metadata"]["name"]: pod_labels(d) for d in deployments(overlay)}
    for d in deployments(overlay):
        chosen = [name for name, labels in all_pods.items() if selects(d["spec"]["selector"], labels)]
        assert chosen == [d["metadata"]["name"]]


@pytest.mark.parametrize("kind", ["Service", "PodDisruptionBudget", "NetworkPolicy"])
def test_each_service_budget_and_policy_selects_exactly_the_pods_of_its_deployment(overlay: str, kind: str) -> None:
    docs = rendered(overlay)
    all_pods = {d["metadata"]["name"]: pod_labels(d) for d in of_kind(docs, "Deployment")}
    for name in SERVICE_NAMES:
        doc = named(docs, kind, name)
        spec = doc["spec"]
        chosen_by = (
            {"matchLabels": spec["selector"]} if kind == "Service" else spec.get("selector") or spec["podSelector"]
        )
        assert [n for n, labels in all_pods.items() if selects(chosen_by, labels)] == [name], f"{kind} {name}"


def test_each_service_port_targets_a_named_container_port(overlay: str) -> None:
    docs = rendered(overlay)
    for name in SERVICE_NAMES:
        ports = {p["name"]: p["containerPort"] for p in container(named(docs, "Deployment", name))["ports"]}
        for port in named(docs, "Service", name)["spec"]["ports"]:
            assert port["targetPort"] in ports
            assert ports[port["targetPort"]] == port["port"]


def routes(service: str) -> set[str]:
    app = importlib.import_module(f"services.{service}.app").create_app()
    return {r.path for r in app.routes if isinstance(r, APIRoute) and "GET" in (r.methods or set())}


def test_probes_ask_the_routes_the_services_serve_on_their_own_port(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASSERELLE_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")  # the app is built, never started
    for d in deployments(overlay):
        c = container(d)
        served = routes(d["metadata"]["name"])
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert c["livenessProbe"]["httpGet"]["path"] == "/health"
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            get = c[probe]["httpGet"]
            assert get["path"] in served, f"{d['metadata']['name']} {probe}: no GET {get['path']}"
            assert get["port"] in ports


def test_pods_run_as_non_root_on_a_read_only_root_filesystem_with_every_capability_dropped(overlay: str) -> None:
    for d in deployments(overlay):
        pod = d["spec"]["template"]["spec"]
        c = container(d)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == kubernetes.UID
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert {m["mountPath"] for m in c["volumeMounts"] if "emptyDir" in _volume(pod, m["name"])} == {"/tmp"}
        assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
        assert c["resources"]["limits"]["memory"]


def _volume(pod: dict[str, Any], name: str) -> dict[str, Any]:
    found = [v for v in pod["volumes"] if v["name"] == name]
    assert len(found) == 1, f"volumeMount {name!r} has {len(found)} volumes"
    return found[0]


def test_every_secret_a_pod_needs_is_made_by_an_operator_or_listed_for_the_platform_team(overlay: str) -> None:
    docs = rendered(overlay)
    users = {u["metadata"]["name"] for u in of_kind(docs, "KafkaUser")}
    made_by_operators = users | {f"{kubernetes.KAFKA_CLUSTER}-cluster-ca-cert", f"{kubernetes.POSTGRES_CLUSTER}-ca"}
    known = made_by_operators | set(kubernetes.SECRETS)
    for d in deployments(overlay):
        pod = d["spec"]["template"]["spec"]
        c = container(d)
        for mount in c["volumeMounts"]:
            volume = _volume(pod, mount["name"])
            if "secret" in volume:
                assert volume["secret"]["secretName"] in known
                assert mount["readOnly"] is True
        for var in c["env"]:
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["name"] in known, f"{d['metadata']['name']}: {var['name']} from unknown Secret {ref['name']}"
        for source in c["envFrom"]:
            assert named(docs, "ConfigMap", source["configMapRef"]["name"])
        assert not [v for v in c["env"] if "PASSWORD" in v["name"] and "value" in v], "a password in the manifest"
        referenced = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        referenced |= {
            v["valueFrom"]["secretKeyRef"]["name"] for v in c["env"] if "secretKeyRef" in v.get("valueFrom", {})
        }
        assert referenced & users == {f"service-{d['metadata']['name']}"}, "a pod reads another principal's password"
        databases = {
            n for n in referenced if n.startswith(f"{kubernetes.POSTGRES_CLUSTER}-") and n in kubernetes.SECRETS
        }
        assert databases == {f"{kubernetes.POSTGRES_CLUSTER}-{d['metadata']['name']}"}, (
            "a pod reads another role's password"
        )
    for cluster in of_kind(docs, "Cluster"):
        for role in cluster["spec"]["managed"]["roles"]:
            assert role["passwordSecret"]["name"] in kubernetes.SECRETS


def environment(docs: tuple[Doc, ...], deployment: Doc) -> dict[str, str]:
    """The variables the container starts with (secrets by a stand-in value)."""
    c = container(deployment)
    env: dict[str, str] = {}
    for source in c["envFrom"]:
        env |= named(docs, "ConfigMap", source["configMapRef"]["name"])["data"]
    for var in c["env"]:
        env[var["name"]] = var.get("value", "from-a-secret")
    return env


def test_each_service_loads_its_settings_from_what_its_deployment_gives_it(
    overlay: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    docs = rendered(overlay)
    password = tmp_path / "password"  # what the Secret's volume holds in the pod
    password.write_text("from-a-secret\n")
    for d in deployments(overlay):
        name = d["metadata"]["name"]
        for var in [v for v in os.environ if v.startswith("PASSERELLE_")]:
            monkeypatch.delenv(var)
        env = environment(docs, d)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("PASSERELLE_KAFKA_PASSWORD_FILE", str(password))
        module = importlib.import_module(f"services.{name}.settings")
        cls = next(
            v
            for k, v in vars(module).items()
            if k.endswith("Settings") and k != "ServiceSettings" and isinstance(v, type)
        )
        settings = cls()
        assert settings.http_port == container(d)["ports"][0]["containerPort"]
        assert settings.http_host == "0.0.0.0", "it listens on the pod's address"  # noqa: S104
        if name == "notifications":
            assert settings.load_seed is False, "the demonstration partners never reach a cluster"
        assert settings.topic_prefix == ""
        kafka = KafkaAccess.from_environment(environ=env | {"PASSERELLE_KAFKA_PASSWORD": "from-a-secret"})
        assert kafka.secure and kafka.username == f"service-{name}"
        assert kafka.servers == [f"{kubernetes.KAFKA_CLUSTER}-kafka-bootstrap:{kubernetes.KAFKA_CLIENT_PORT}"]
        url = urlsplit(settings.database_url)
        query = parse_qs(url.query)
        assert url.hostname == f"{kubernetes.POSTGRES_CLUSTER}-rw"
        assert query["sslmode"] == ["verify-full"], "the database's certificate is checked"
        mounted = {m["mountPath"] for m in container(d)["volumeMounts"]}
        assert query["sslrootcert"][0].rsplit("/", 1)[0] in mounted
        assert env["PASSERELLE_KAFKA_CA_FILE"].rsplit("/", 1)[0] in mounted
        assert env["PASSERELLE_KAFKA_PASSWORD_FILE"].rsplit("/", 1)[0] in mounted
        database = [db for db in of_kind(docs, "Database") if db["spec"]["name"] == url.path.lstrip("/")]
        assert len(database) == 1 and database[0]["spec"]["owner"] == url.username == name


def test_each_service_signs_in_to_kafka_as_its_own_user_and_reads_that_users_password(overlay: str) -> None:
    docs = rendered(overlay)
    for d in deployments(overlay):
        env = {v["name"]: v.get("value") for v in container(d)["env"]}
        user = named(docs, "KafkaUser", env["PASSERELLE_KAFKA_USERNAME"])
        password = _volume(d["spec"]["template"]["spec"], "kafka-password")
        assert password["secret"]["secretName"] == user["metadata"]["name"]


def test_the_services_ask_of_kafka_the_replication_the_cluster_gives(overlay: str) -> None:
    docs = rendered(overlay)
    config = named(docs, "ConfigMap", kubernetes.CONFIG)["data"]
    replicas, in_sync = (
        int(config["PASSERELLE_TOPIC_REPLICATION_FACTOR"]),
        int(config["PASSERELLE_TOPIC_MIN_INSYNC_REPLICAS"]),
    )
    brokers = sum(p["spec"]["replicas"] for p in of_kind(docs, "KafkaNodePool") if "broker" in p["spec"]["roles"])
    controllers = sum(
        p["spec"]["replicas"] for p in of_kind(docs, "KafkaNodePool") if "controller" in p["spec"]["roles"]
    )
    assert in_sync <= replicas <= brokers
    assert controllers % 2 == 1, "a KRaft quorum has an odd number of controllers"
    kafka_config = of_kind(docs, "Kafka")[0]["spec"]["kafka"]["config"]
    assert kafka_config["default.replication.factor"] == replicas
    assert kafka_config["min.insync.replicas"] == in_sync
    for topic in of_kind(docs, "KafkaTopic"):
        assert topic["spec"]["replicas"] == replicas
        assert topic["spec"]["config"]["min.insync.replicas"] == str(in_sync)
        assert DNS_SUBDOMAIN.match(topic["metadata"]["name"]), topic["metadata"]["name"]
    expected = {"production": (3, 2, 3, 3), "small": (1, 1, 1, 1)}[overlay]
    assert (replicas, in_sync, brokers, controllers) == expected


def test_production_runs_two_replicas_of_each_service_and_three_postgresql_instances(overlay: str) -> None:
    docs = rendered(overlay)
    replicas = {d["metadata"]["name"]: d["spec"]["replicas"] for d in deployments(overlay)}
    instances = of_kind(docs, "Cluster")[0]["spec"]["instances"]
    if overlay == "production":
        assert min(replicas.values()) >= 2
        assert instances == 3
    else:
        assert set(replicas.values()) == {1} and instances == 1
    for budget in of_kind(docs, "PodDisruptionBudget"):
        assert budget["spec"].get("maxUnavailable") == 1, "a drain never waits on a budget"


# The labels the operators put on the pods they run, as their documentation gives them: Strimzi
# ("Labels and annotations": strimzi.io/cluster, strimzi.io/kind, strimzi.io/broker-role on the
# broker pods) and CloudNativePG ("Labels and annotations": cnpg.io/cluster, cnpg.io/instanceRole).
# Written here, not taken from tools/kubernetes.py, so that a wrong selector there fails.
KAFKA_BROKER_POD = {
    "strimzi.io/cluster": "passerelle",
    "strimzi.io/kind": "Kafka",
    "strimzi.io/broker-role": "true",
    "strimzi.io/pool-name": "brokers",
}
POSTGRES_PRIMARY_POD = {
    "cnpg.io/cluster": "passerelle-db",
    "cnpg.io/instanceRole": "primary",
    "cnpg.io/podRole": "instance",
}
DNS_POD = {"k8s-app": "kube-dns"}


def reaches(policy: Doc, pod: dict[str, str], port: int, protocol: str = "TCP", namespace: str | None = None) -> bool:
    """Whether one egress rule of the policy lets its pods open ``port`` to ``pod`` (in the policy's
    namespace, or in ``namespace``)."""
    for rule in policy["spec"].get("egress", []):
        ports = rule.get("ports")
        if ports is not None and not any(p["port"] == port and p.get("protocol", "TCP") == protocol for p in ports):
            continue
        peers = rule.get("to")
        if peers is None:
            return True  # anywhere
        for peer in peers:
            in_namespace = (
                selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": namespace or ""})
                if "namespaceSelector" in peer
                else namespace is None
            )
            if in_namespace and selects(peer.get("podSelector", {}), pod):
                return True
    return False


def test_services_reach_dns_kafka_and_postgresql_on_their_ports_and_nothing_else_beyond(overlay: str) -> None:
    docs = rendered(overlay)
    for name in SERVICE_NAMES:
        policy = named(docs, "NetworkPolicy", name)
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        assert reaches(policy, DNS_POD, 53, "UDP", namespace="kube-system"), f"{name}: no DNS"
        assert reaches(policy, KAFKA_BROKER_POD, kubernetes.KAFKA_CLIENT_PORT), f"{name} cannot reach Kafka"
        assert not reaches(policy, KAFKA_BROKER_POD, 9091), f"{name} reaches the brokers' replication port"
        assert reaches(policy, POSTGRES_PRIMARY_POD, 5432), f"{name} cannot reach PostgreSQL"
        assert not reaches(policy, POSTGRES_PRIMARY_POD, 8000), f"{name} reaches the instance manager"
        beyond = [r for r in policy["spec"]["egress"] if "to" not in r]
        if name == "notifications":  # the SMTP relay and the partners' webhooks
            assert [sorted(p["port"] for p in r["ports"]) for r in beyond] == [[443, 587]]
        else:
            assert not beyond, f"{name} reaches beyond the cluster"
    client_listener = of_kind(docs, "Kafka")[0]["spec"]["kafka"]["listeners"][0]
    for d in deployments(overlay):  # Strimzi's policy of the services' listener lets them in
        assert any(selects(peer["podSelector"], pod_labels(d)) for peer in client_listener["networkPolicyPeers"])


def test_partners_reach_the_partner_listener_only(overlay: str) -> None:
    listeners = {entry["name"]: entry for entry in of_kind(rendered(overlay), "Kafka")[0]["spec"]["kafka"]["listeners"]}
    assert set(listeners) == {"tls", "partners"}
    assert listeners["partners"]["type"] == "loadbalancer" and listeners["partners"]["tls"] is True
    assert listeners["tls"]["type"] == "internal", "the services' listener is never exposed"
    for entry in listeners.values():
        assert entry["authentication"] == {"type": "scram-sha-512"}
    assert all("podSelector" in peer for peer in listeners["tls"]["networkPolicyPeers"])


def test_postgresql_lets_in_the_services_its_own_instances_and_the_operator_only(overlay: str) -> None:
    docs = rendered(overlay)
    policy = named(docs, "NetworkPolicy", kubernetes.POSTGRES_CLUSTER)
    assert selects(policy["spec"]["podSelector"], POSTGRES_PRIMARY_POD)
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    services = [pod_labels(d) for d in deployments(overlay)]
    for rule in policy["spec"]["ingress"]:
        assert rule.get("from"), "a rule without `from` lets in every pod of the cluster"
        for peer in rule["from"]:
            if "namespaceSelector" in peer:  # the operator, on its instance manager only
                assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "cnpg-system"}
                assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]
            elif selects(peer["podSelector"], POSTGRES_PRIMARY_POD):  # replication between instances
                assert peer["podSelector"]["matchLabels"] == {"cnpg.io/cluster": kubernetes.POSTGRES_CLUSTER}
            else:  # the services, on PostgreSQL's port only
                assert all(selects(peer["podSelector"], labels) for labels in services)
                assert rule["ports"] == [{"protocol": "TCP", "port": 5432}]


def test_the_kafka_nodes_of_a_pool_never_share_a_machine(overlay: str) -> None:
    for pool in of_kind(rendered(overlay), "KafkaNodePool"):
        anti = pool["spec"]["template"]["pod"]["affinity"]["podAntiAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]
        own_pod = {"strimzi.io/cluster": "passerelle", "strimzi.io/pool-name": pool["metadata"]["name"]}
        assert any(t["topologyKey"] == "kubernetes.io/hostname" and selects(t["labelSelector"], own_pod) for t in anti)


def routed(ingress: Doc, host: str, path: str) -> bool:
    """Whether the Ingress sends ``path`` of ``host`` to a backend (Exact and Prefix, by segment)."""
    for rule in ingress["spec"]["rules"]:
        if rule["host"] != host:
            continue
        for entry in rule["http"]["paths"]:
            if entry["pathType"] == "Exact" and path == entry["path"]:
                return True
            prefix = entry["path"].rstrip("/")
            if entry["pathType"] == "Prefix" and (path == prefix or path.startswith(prefix + "/")):
                return True
    return False


def test_the_ingress_routes_every_public_route_and_never_the_probes_the_metrics_or_the_operations(
    overlay: str,
) -> None:
    (ingress,) = of_kind(rendered(overlay), "Ingress")
    for s in kubernetes.SERVICES:
        host = f"{s.host}.{kubernetes.DOMAIN}"
        for path in ("/metrics", "/health", "/ready", "/ops/outbox"):
            assert not routed(ingress, host, path), f"{host}{path} is public"
        served = {p.replace("{", "x").replace("}", "") for p in kubernetes.served_paths(s.name)}
        public = {p for p in served if not p.startswith(("/metrics", "/health", "/ready", "/ops/"))}
        assert public and all(routed(ingress, host, p) for p in public), sorted(
            p for p in public if not routed(ingress, host, p)
        )


def test_the_dashboard_is_behind_the_ingress_and_every_backend_exists(overlay: str) -> None:
    docs = rendered(overlay)
    (ingress,) = of_kind(docs, "Ingress")
    backends = [
        (rule["host"], path["backend"]["service"])
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert any(b["name"] == "dashboard" for _, b in backends)
    for host, backend in backends:
        service = named(docs, "Service", backend["name"])
        assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}, host
        assert host in ingress["spec"]["tls"][0]["hosts"], f"{host} without TLS"
