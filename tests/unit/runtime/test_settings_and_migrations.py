from __future__ import annotations

from pathlib import Path

import pytest

from services.actions.app import MIGRATIONS as ACTIONS_MIGRATIONS
from services.actions.settings import ActionsSettings
from services.runtime import db
from services.runtime.settings import load_settings


def test_settings_fail_fast_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSERELLE_ACTIONS_HTTP_PORT", "not-a-port")
    with pytest.raises(SystemExit, match="PASSERELLE_ACTIONS_HTTP_PORT: Input should be a valid integer"):
        load_settings(ActionsSettings)


def test_shared_and_service_settings_come_from_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSERELLE_KAFKA_BOOTSTRAP", "127.0.0.1:29092")
    monkeypatch.setenv("PASSERELLE_TOPIC_PREFIX", "dev.")
    monkeypatch.setenv("PASSERELLE_ACTIONS_DATABASE_URL", "postgresql://x@127.0.0.1/y")
    settings = load_settings(ActionsSettings)
    assert settings.kafka_bootstrap == "127.0.0.1:29092"
    assert settings.topic("passerelle.actions.v1") == "dev.passerelle.actions.v1"
    assert settings.group("indicators") == "dev.actions.indicators"
    assert settings.database_url == "postgresql://x@127.0.0.1/y"


def test_every_service_migration_is_numbered_and_explains_itself() -> None:
    root = Path(db.__file__).resolve().parent.parent
    for folder in [db.RUNTIME_MIGRATIONS, *sorted(root.glob("*/migrations"))]:
        migrations = db.read_migrations(folder.parent.name, folder)
        assert [m.version for m in migrations] == list(range(1, len(migrations) + 1)), folder
    assert db.read_migrations("actions", ACTIONS_MIGRATIONS)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("1_x.sql", "-- why\nSELECT 1;", "not named NNNN_what.sql"),
        ("0001_x.sql", "SELECT 1;", "must start with a comment"),
    ],
)
def test_badly_made_migrations_are_refused(tmp_path: Path, name: str, content: str, problem: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(ValueError, match=problem):
        db.read_migrations("x", tmp_path)
