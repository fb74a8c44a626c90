"""The Kubernetes manifests as the tests read them: the committed base, and each overlay as
Kustomize renders it (what a platform team applies)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from functools import cache
from typing import Any

import yaml

from tools import kube_schemas
from tools.kubernetes import BASE, KUBE

OVERLAYS = ("production", "small")
Doc = dict[str, Any]


def base_files() -> dict[str, list[Doc]]:
    return {
        p.relative_to(BASE).as_posix(): [d for d in yaml.safe_load_all(p.read_text("utf-8")) if d]
        for p in sorted(BASE.rglob("*.yaml"))
        if p.name != "kustomization.yaml"
    }


@cache
def rendered(overlay: str) -> tuple[Doc, ...]:
    """``kustomize build overlays/<overlay>``: what ``kubectl apply -k`` would send."""
    toolchain = kube_schemas.ensure()  # scripts/test built it; a no-op then
    done = subprocess.run(
        [str(toolchain.kustomize), "build", str(KUBE / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"kustomize build overlays/{overlay} failed:\n{done.stderr}"
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def of_kind(docs: Iterable[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: Iterable[Doc], kind: str, name: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind} named {name!r}"
    return found[0]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist) against labels."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def pod_labels(deployment: Doc) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels
