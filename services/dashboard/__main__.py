from services.runtime.cli import main

from .app import MIGRATIONS, create_app
from .cli import COMMANDS
from .settings import DashboardSettings

main(DashboardSettings, create_app, MIGRATIONS, COMMANDS, repository=lambda executor: executor)
