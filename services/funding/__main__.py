from services.runtime.cli import main

from .app import MIGRATIONS, create_app
from .settings import FundingSettings

main(FundingSettings, create_app, MIGRATIONS)
