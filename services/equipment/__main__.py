from services.runtime.cli import main

from .app import MIGRATIONS, create_app
from .cli import COMMANDS
from .settings import EquipmentSettings

main(EquipmentSettings, create_app, MIGRATIONS, COMMANDS)
