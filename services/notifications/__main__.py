from services.runtime.cli import main

from .app import MIGRATIONS, create_app
from .settings import NotificationsSettings

main(NotificationsSettings, create_app, MIGRATIONS)
