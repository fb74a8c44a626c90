from services.runtime.cli import main

from .app import MIGRATIONS, create_app
from .cli import COMMANDS
from .repository import NotificationsRepository
from .settings import NotificationsSettings

main(NotificationsSettings, create_app, MIGRATIONS, COMMANDS, repository=NotificationsRepository)
