from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class FundingSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PASSERELLE_FUNDING_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "funding"
    database_url: str = "postgresql://passerelle:passerelle@127.0.0.1:15432/passerelle_funding"
    http_port: int = 8103
