from services.runtime.cli import main

from .app import MIGRATIONS, create_app
from .cli import COMMANDS
from .settings import GatewaySettings

main(GatewaySettings, create_app, MIGRATIONS, COMMANDS)
