from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class ActionsSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PASSERELLE_ACTIONS_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "actions"
    database_url: str = "postgresql://passerelle:passerelle@127.0.0.1:15432/passerelle_actions"
    http_port: int = 8101
    load_seed: bool = True
    milestone_check_interval_s: float = Field(
        default=3600.0, gt=0, description="How often overdue milestones are looked for (each is announced once)."
    )
