from services.runtime.cli import main

from .app import MIGRATIONS, create_app
from .cli import COMMANDS
from .settings import ActionsSettings

main(ActionsSettings, create_app, MIGRATIONS, COMMANDS)
