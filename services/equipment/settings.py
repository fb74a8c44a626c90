from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class EquipmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PASSERELLE_EQUIPMENT_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "equipment"
    database_url: str = "postgresql://passerelle:passerelle@127.0.0.1:15432/passerelle_equipment"
    http_port: int = 8102
    follow_up_check_interval_s: float = Field(
        default=3600.0, gt=0, description="How often due follow-ups are looked for."
    )
    certificate_workers: int = Field(
        default=2,
        ge=0,
        le=64,
        description="Processes that render sanitisation certificates off the event loop (0: threads of the "
        "service's own process); see services/equipment/certificates.py.",
    )
