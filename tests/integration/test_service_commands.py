"""The services' own commands (``python -m services.<name> <command>``), run as an operator runs
them: a real process on a real database, through the session the runtime's CLI gives them."""

from __future__ import annotations

import csv
import io
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import CreateDatabase
from tests.integration.conftest import ActionsUnderTest
from tests.support import ROOT

pytestmark = pytest.mark.infra


def command(service: str, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, f"PASSERELLE_{service.upper()}_DATABASE_URL": database_url, "PASSERELLE_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}", *args],
        env=env,
        cwd=ROOT,
        check=False,  # the tests read the exit code and stderr
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_donor_file_imported_twice_declares_its_devices_once_and_their_labels_can_be_printed(
    create_database: CreateDatabase, tmp_path: Path
) -> None:
    url = await create_database("equipment_cli")
    rows = [
        {"asset_tag": f"PC-{n}", "serial": f"S{n}", "kind": "laptop", "make": "Dell", "model": "Latitude 5480",
         "cpu": "i5", "ram_gb": "8", "storage": "ssd:256", "year": "2018"}
        for n in range(1, 26)
    ]  # fmt: skip
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    devices = tmp_path / "devices.csv"
    devices.write_text(text.getvalue(), encoding="utf-8")

    declare = ("import", "--donor", "cirb-paradigm", "--reference", "LOT-1", "--file", str(devices))
    unknown = command("equipment", url, *declare)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "import: unknown donor organisation cirb-paradigm", "a reason, not a traceback"
    conn = await asyncpg.connect(url)  # the service seeds its organisations when it serves; here, by hand
    try:
        await conn.execute(
            "INSERT INTO organisations (code, name, kind) VALUES ('cirb-paradigm', 'Paradigm', 'regional-public-body')"
        )
    finally:
        await conn.close()

    first = command("equipment", url, *declare)
    again = command("equipment", url, *declare)
    assert first.returncode == 0, first.stderr
    assert '"created": 25, "existing": 0' in first.stdout
    assert '"created": 0, "existing": 25' in again.stdout, "a re-run is harmless"

    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM devices") == 25
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE topic NOT LIKE '%partners.%' AND event_type = 'BatchDeclared'"
            )
            == 1
        )
        actor = await conn.fetchval("SELECT payload->'actor'->>'key_id' FROM outbox LIMIT 1")
        batch = await conn.fetchval("SELECT id::text FROM batches")
        device = await conn.fetchval("SELECT id::text FROM devices LIMIT 1")
    finally:
        await conn.close()
    assert actor == "cli", "the operator at the console is the actor"

    labels = command("equipment", url, "labels", "--batch", batch, "--out", str(tmp_path / "labels.pdf"))
    assert labels.returncode == 0, labels.stderr
    assert labels.stdout.startswith("25 labels written")
    assert (tmp_path / "labels.pdf").read_bytes().startswith(b"%PDF-")

    missing = command("equipment", url, "certificate", "--device", device, "--out", str(tmp_path / "c.pdf"))
    assert missing.returncode == 1
    assert "has no certificate: it is not fully sanitised" in missing.stderr


async def test_the_plan_exported_over_http_imports_from_the_console_and_exports_back_the_same(
    actions: ActionsUnderTest, create_database: CreateDatabase, tmp_path: Path
) -> None:
    reader = await actions.key("coordination-inclusion-numerique", "coordination")
    exported = (await actions.client.get("/export/actions.csv", headers=reader)).text
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "actions.csv").write_text(exported, encoding="utf-8")
    empty = await create_database("actions_cli")

    first = command("actions", empty, "import", "--dir", str(tmp_path / "in"))
    again = command("actions", empty, "import", "--dir", str(tmp_path / "in"))
    assert first.returncode == 0, first.stderr
    assert '"created": 66' in first.stdout
    assert '"unchanged": 66' in again.stdout, "a re-run changes nothing"

    conn = await asyncpg.connect(empty)
    try:
        registered = await conn.fetch(
            """SELECT payload->'actor'->>'key_id' AS key_id, payload->>'correlation_id' AS correlation_id
               FROM outbox WHERE topic NOT LIKE '%partners.%' AND event_type = 'ActionRegistered'"""
        )
    finally:
        await conn.close()
    assert len(registered) == 66
    assert {r["key_id"] for r in registered} == {"cli"}, "the operator at the console acts"
    assert len({r["correlation_id"] for r in registered}) == 1, "one import, one flow"

    out = command("actions", empty, "export", "--dir", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out" / "actions.csv").read_text(encoding="utf-8") == exported, "one format both ways"


async def test_keys_are_created_listed_revoked_and_expired_from_the_console(create_database: CreateDatabase) -> None:
    from services.funding.app import MIGRATIONS
    from services.runtime import db
    from services.runtime.auth import authenticate

    url = await create_database("funding_keys")
    create = ("keys", "create", "--organisation", "caban", "--role", "coordination")
    old, new, soon = (command("funding", url, *create).stdout.strip() for _ in range(3))
    old_id, soon_id = old.split("_")[1], soon.split("_")[1]
    assert (
        command("funding", url, "create-api-key", "--organisation", "caban", "--role", "coordination").returncode == 0
    )

    bad = command("funding", url, "keys", "create", "--organisation", "Caban; DROP", "--role", "coordination")
    assert bad.returncode == 2 and "organisation code" in bad.stderr, bad.stderr
    bad = command("funding", url, "keys", "create", "--organisation", "caban", "--role", "system")
    assert bad.returncode == 2, "a key never carries the system role"
    finer = command("funding", url, "keys", "create", "--organisation", "caban", "--role", "caban")
    assert finer.returncode == 0, finer.stderr
    finer_key = finer.stdout.strip()

    listed = command("funding", url, "keys", "list", "--organisation", "caban")
    assert listed.returncode == 0, listed.stderr
    assert old_id in listed.stdout and old.split("_", 2)[2] not in listed.stdout, "ids are listed, secrets never"
    assert f"{finer_key.split('_')[1]}  caban  caban  " in listed.stdout, "the key's own role is listed"

    assert command("funding", url, "keys", "revoke", old_id).returncode == 0
    again = command("funding", url, "keys", "revoke", old_id)
    assert (again.returncode, again.stderr.strip()) == (2, f"keys: no live key {old_id}")
    expire = command("funding", url, "keys", "expire", soon_id, "--at", "2020-01-01T00:00:00+00:00")
    assert expire.returncode == 0, expire.stderr

    pool = await db.create_pool(url)
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "funding": MIGRATIONS})
        assert await authenticate(pool, old) is None, "revoked: refused at once"
        assert await authenticate(pool, soon) is None, "expired: refused"
        assert await authenticate(pool, new) is not None
        caban = await authenticate(pool, finer_key)
        assert caban is not None and caban.key_role == "caban"
        assert caban.actor.role == "partner", "a finer key role acts in events as an event role"
    finally:
        await pool.close()
    lines = command("funding", url, "keys", "list").stdout.splitlines()
    assert "revoked" in next(line for line in lines if old_id in line)
    assert "expired" in next(line for line in lines if soon_id in line)


async def test_a_cadastre_spreadsheet_imports_from_the_console_with_progress_and_exports_back_the_same(
    create_database: CreateDatabase, tmp_path: Path
) -> None:
    url = await create_database("funding_cli")
    cadastre = tmp_path / "cadastre.csv"
    cadastre.write_text(
        "beneficiary,beneficiary_kind,commune,funder,funder_name,programme,year,committed_eur,paid_eur,cofinancing_pct\n"
        + "".join(f"epn-{n:03},epn,Ixelles,region,,Appel EPN 2026,2026,{1000 + n},{n},40\n" for n in range(1, 41))
        + "epn-bad,epn,Ixelles,region,,Appel EPN 2026,2026,-1,,\n",
        encoding="utf-8",
    )

    first = command("funding", url, "import-cadastre", "--file", str(cadastre))
    again = command("funding", url, "import-cadastre", "--file", str(cadastre))
    exported = command("funding", url, "export-cadastre", "--out", str(tmp_path / "out.xlsx"), "--year", "2026")
    back = command("funding", url, "import-cadastre", "--file", str(tmp_path / "out.xlsx"))
    wrong = command("funding", url, "import-cadastre", "--file", str(tmp_path / "cadastre.ods"))

    assert first.returncode == 1 and '"created": 40' in first.stdout, first.stderr
    assert first.stderr.endswith("1 rows were not imported (see the errors above)\n"), "the reason, not a traceback"
    assert '"created": 0' in again.stdout and '"unchanged": 40' in again.stdout
    assert exported.returncode == 0 and exported.stdout.strip().startswith("40 lines written")
    assert back.returncode == 0 and '"unchanged": 40' in back.stdout, back.stderr
    assert wrong.returncode == 1 and "ends in .csv or .xlsx" in wrong.stderr


def in_a_terminal(service: str, database_url: str, *args: str) -> str:
    """What a command writes to stderr when stderr is a terminal (a pseudo-terminal here)."""
    leader, follower = pty.openpty()
    env = {**os.environ, f"PASSERELLE_{service.upper()}_DATABASE_URL": database_url, "PASSERELLE_LOG_LEVEL": "WARNING"}
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the command ended and closed its side
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        subprocess.run(
            [sys.executable, "-m", f"services.{service}", *args],
            env=env, cwd=ROOT, check=False, stdout=subprocess.DEVNULL, stderr=follower, timeout=120,
        )  # fmt: skip
    finally:
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


async def test_a_cadastre_import_in_a_terminal_shows_a_progress_bar_to_the_last_line(
    create_database: CreateDatabase, tmp_path: Path
) -> None:
    url = await create_database("funding_cli_bar")
    cadastre = tmp_path / "cadastre.csv"
    cadastre.write_text(
        "beneficiary,beneficiary_kind,funder,programme,year,committed_eur\n"
        + "".join(f"epn-{n:03},epn,region,Appel EPN 2026,2026,{1000 + n}\n" for n in range(1, 26)),
        encoding="utf-8",
    )

    shown = in_a_terminal("funding", url, "import-cadastre", "--file", str(cadastre))

    assert "cadastre.csv: lines" in shown and f"[{'#' * 36}]  25/25" in shown, shown


async def test_calls_and_returns_import_from_the_console_too_each_once(
    create_database: CreateDatabase, tmp_path: Path
) -> None:
    url = await create_database("funding_cli_calls")
    calls = tmp_path / "calls.csv"
    calls.write_text(
        "call_code,management,call_kind,funder,programme,title_fr,title_nl,opens_on,closes_at,budget_eur\n"
        "AAP-2027,run,regional-call,region,Programme,Titre,Titel,2027-01-15,2027-03-15T12:00:00+01:00,80000\n",
        encoding="utf-8",
    )
    returns = tmp_path / "returns.csv"
    returns.write_text("epn,year,quarter,visits,sessions,participants\nepn-nowhere,2025,1,10,1,5\n", encoding="utf-8")

    first = command("funding", url, "import-calls", "--file", str(calls))
    again = command("funding", url, "import-calls", "--file", str(calls))
    unknown_epn = command("funding", url, "import-returns", "--file", str(returns))

    assert first.returncode == 0 and '"created": 1' in first.stdout, first.stderr
    assert again.returncode == 0 and '"unchanged": 1' in again.stdout
    assert unknown_epn.returncode == 1 and '"column": "epn"' in unknown_epn.stdout, unknown_epn.stderr
    assert unknown_epn.stderr.endswith("1 rows were not imported (see the errors above)\n")
