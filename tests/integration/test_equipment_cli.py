"""The equipment service's own commands as an operator runs them (a process on a real database):
a file it cannot read ends the command with the file's name and the reason, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CreateDatabase
from tests.support import ROOT

pytestmark = pytest.mark.infra


def equipment(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m services.equipment <args>`` on the database, as an operator runs it."""
    env = {**os.environ, "PASSERELLE_EQUIPMENT_DATABASE_URL": database_url, "PASSERELLE_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "services.equipment", *args],
        env=env,
        cwd=ROOT,
        check=False,  # the test reads the exit code and stderr
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_an_import_of_a_file_not_in_utf_8_names_the_file_and_its_line_and_declares_nothing(
    create_database: CreateDatabase, tmp_path: Path
) -> None:
    url = await create_database("equipment_cli_encoding")
    devices = tmp_path / "inventaire.csv"
    devices.write_bytes("asset_tag,kind,make\nPC-1,laptop,Société\n".encode("latin-1"))

    refused = equipment(url, "import", "--donor", "cirb-paradigm", "--reference", "LOT-1", "--file", str(devices))

    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert refused.stderr.strip().startswith("inventaire.csv: line 2: the file is not UTF-8"), refused.stderr
