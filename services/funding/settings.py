from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class FundingSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PASSERELLE_FUNDING_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "funding"
    database_url: str = "postgresql://passerelle:passerelle@127.0.0.1:15432/passerelle_funding"
    http_port: int = 8103
    deadline_check_interval_s: float = Field(
        default=3600.0,
        gt=0,
        description="How often deadlines are checked (reports, calls, activity returns); each reminder is announced once.",
    )
