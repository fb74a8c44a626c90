"""Every service fuzzed from its own OpenAPI document with a valid key (issue 10).

schemathesis (https://schemathesis.readthedocs.io) generates requests from the document, valid
and invalid, sends them to the service running as a process on the real broker and database,
and checks every answer: no server error, the status code and the body are the documented ones,
the ``Allow`` header of a 405 lists the documented methods, what the document forbids is
refused, a route that declares a key refuses a request without one. It runs at least
``PASSERELLE_FUZZ_REQUESTS`` requests a service (1,000 in CI) with a Coordination key, then a
lighter pass with a partner's key (403 on commands, scoped reads), with a fixed seed, so that a
failure is reproducible (``st replay`` prints in the report); set ``PASSERELLE_FUZZ_SEED`` to
explore.

One check is left out: ``positive_data_acceptance`` (a request the schema allows must be
accepted). A schema cannot say "the recipient must be registered" or "a delivery cannot be
dated before the devices' intake"; such requests are rightly refused with 422 and a reason.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.stacks import SERVICES

REQUESTS = int(os.environ.get("PASSERELLE_FUZZ_REQUESTS", "1000"))
SEED = os.environ.get("PASSERELLE_FUZZ_SEED", "20261129")
COMMANDS = {"post", "put", "patch", "delete"}
PARTNER_EXAMPLES = 15  # a lighter pass: what it adds is the scoping, not the generation


def api_key(process: Any, organisation: str, role: str) -> str:
    key_options = ("--organisation", organisation, "--role", role, "--label", "fuzzing")
    out = subprocess.run(
        [sys.executable, "-m", f"services.{process.name}", "keys", "create", *key_options],
        env=process.env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def fuzz(process: Any, key: str, examples: int, workdir: Path) -> dict[str, Any]:
    """One schemathesis run against the process; its JSON summary, with the console output."""
    report = workdir / f"schemathesis-{len(list(workdir.glob('schemathesis-*.json')))}.json"
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{process.url}/openapi.json",
        *("--header", f"Authorization: Bearer {key}"),
        # A stream (the dashboard's GET /live) answers for as long as its client listens: a
        # request of its own would wait out the request timeout every time.
        *("--exclude-tag", "stream"),
        *("--checks", "all", "--exclude-checks", "positive_data_acceptance"),
        *("--phases", "examples,coverage,fuzzing", "--max-examples", str(examples), "--seed", SEED),
        *("--continue-on-failure", "--no-shrink", "--request-timeout", "30"),
        *("--report", "json", "--report-json-path", str(report)),
    ]
    run = subprocess.run(command, check=False, capture_output=True, text=True, timeout=840, cwd=workdir)
    summary: dict[str, Any] = json.loads(report.read_text())
    summary["output"] = run.stdout[-12_000:] if run.returncode else ""
    return summary


def described(name: str, summary: dict[str, Any], floor: int | None) -> str:
    cases = summary["test_cases"]
    return (
        f"fuzzing {name}: {cases['generated']} requests" + (f" (floor {floor})" if floor else "") + ", "
        f"{len(summary['failures'])} failures, {len(summary['errors'])} errors, "
        f"{summary['running_time']:.1f} s, seed {summary['seed']}"
    )


def examples_per_operation(document: dict[str, Any]) -> int:
    """Enough examples per operation for ``REQUESTS`` in all: only operations with inputs vary."""
    varying = sum(
        1
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in COMMANDS or operation.get("parameters")
    )
    return max(20, math.ceil(REQUESTS * 1.2 / max(varying, 1)))


@pytest.mark.timeout(900)
@pytest.mark.parametrize("service", SERVICES)
def test_the_service_answers_every_generated_request_as_its_document_says(
    service: str, system: dict[str, Any], tmp_path: Path
) -> None:
    process = system[service]
    with urllib.request.urlopen(f"{process.url}/openapi.json", timeout=10) as response:
        document = json.load(response)
    coordination = api_key(process, "coordination-inclusion-numerique", "coordination")
    summary = fuzz(process, coordination, examples_per_operation(document), tmp_path)
    print("\n" + described(service, summary, REQUESTS))
    assert not summary["output"] and not summary["failures"] and not summary["errors"], summary["output"]
    assert summary["test_cases"]["generated"] >= REQUESTS, "fewer requests than the floor"

    # Again with a partner's key: every command answers 403 as documented, every read it may
    # make is scoped to its organisation (the SQL of scoped reads is fuzzed too).
    partner = api_key(process, "caban", "partner")
    scoped = fuzz(process, partner, PARTNER_EXAMPLES, tmp_path)
    print(described(f"{service} as a partner", scoped, None))
    assert not scoped["output"] and not scoped["failures"] and not scoped["errors"], scoped["output"]

    logs = process.log_path.read_text()
    assert "Exception in ASGI application" not in logs, logs[-5_000:]
