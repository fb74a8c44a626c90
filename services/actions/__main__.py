from services.runtime.cli import main

from .app import MIGRATIONS, create_app
from .settings import ActionsSettings

main(ActionsSettings, create_app, MIGRATIONS)  # type: ignore[arg-type]
