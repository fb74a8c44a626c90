from services.runtime.cli import main

from .app import MIGRATIONS, create_app
from .commands import COMMANDS
from .settings import ActionsSettings

main(ActionsSettings, create_app, MIGRATIONS, COMMANDS)  # type: ignore[arg-type]
