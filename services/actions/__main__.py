from services.runtime.cli import main

from .app import MIGRATIONS, create_app
from .cli import COMMANDS
from .settings import ActionsSettings
from .sql import ActionsRepository

main(ActionsSettings, create_app, MIGRATIONS, COMMANDS, repository=ActionsRepository)
