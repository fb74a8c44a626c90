from services.runtime.cli import main

from .app import MIGRATIONS, create_app
from .cli import COMMANDS
from .repository import FundingRepository
from .settings import FundingSettings

main(FundingSettings, create_app, MIGRATIONS, COMMANDS, repository=FundingRepository)
