from services.runtime.cli import main

from .app import MIGRATIONS, create_app
from .cli import COMMANDS
from .settings import EquipmentSettings
from .sql import EquipmentRepository

main(EquipmentSettings, create_app, MIGRATIONS, COMMANDS, repository=EquipmentRepository)
