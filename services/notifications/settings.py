from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PASSERELLE_NOTIFICATIONS_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "notifications"
    database_url: str = "postgresql://passerelle:passerelle@127.0.0.1:15432/passerelle_notifications"
    http_port: int = 8104
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_from: str = "Passerelle <passerelle@localhost>"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_s: float = 10.0
    mail_poll_interval_s: float = Field(default=0.5, gt=0)
    mail_backoff_max_s: float = Field(default=300, gt=0, description="Longest wait between two tries of one e-mail.")
    mail_give_up_after_s: float = Field(
        default=72 * 3600, gt=0, description="A refused e-mail is tried again until it is this old, then marked failed."
    )
    mail_batch_size: int = 20
    load_seed: bool = True
