"""The container images are rebuilt only when their inputs change: scripts/test built them just
before this suite, so building again must find every one up to date (each image is tagged with
a hash of its inputs: Containerfile, copied files, requirements, base image)."""

from __future__ import annotations

import subprocess

import pytest

from tests.e2e.stacks import STACK
from tests.support import ROOT

pytestmark = [pytest.mark.infra, pytest.mark.skipif(STACK != "containers", reason="runs with the container stack")]


def test_images_whose_inputs_did_not_change_are_not_rebuilt() -> None:
    result = subprocess.run(
        [ROOT / "scripts" / "containers", "build"], check=False, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    for image in ("base", "kafka", "postgres", "services"):
        assert f"{image}: up to date" in result.stderr + result.stdout, result.stderr
