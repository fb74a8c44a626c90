from services.runtime.cli import main

from .app import MIGRATIONS, create_app
from .commands import COMMANDS
from .settings import EquipmentSettings

main(EquipmentSettings, create_app, MIGRATIONS, COMMANDS)  # type: ignore[arg-type]
