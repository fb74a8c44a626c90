from __future__ import annotations

from datetime import time

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
    public_url: str = Field(
        default="http://127.0.0.1:8104",
        description="This service as partners reach it: the one-click unsubscribe links point here.",
    )
    dashboard_url: str = Field(
        default="http://127.0.0.1:8110", description="The operator dashboard: messages link to its pages."
    )
    bounce_address: str = Field(
        default="bounces@passerelle.local",
        description="The envelope sender of every e-mail (made unique per message, VERP): bounces come back here.",
    )
    hard_bounce_limit: int = Field(
        default=3,
        ge=1,
        description="Hard bounces after which a contact's e-mail is suspended and the Coordination told.",
    )
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_allow_loopback: bool = Field(
        default=False,
        description="Let webhooks post to http://localhost (development and tests); never in production.",
    )
    webhook_secret_grace_s: float = Field(
        default=24 * 3600, ge=0, description="After a rotation, the old webhook secret still signs this long."
    )
    schedule_interval_s: float = Field(
        default=60.0, gt=0, description="How often digests, meeting reminders and pre-meeting digests are looked for."
    )
    digest_time: time = Field(
        default=time(7, 0), description="Daily and weekly digests leave at this time of day (Brussels), e.g. 07:00."
    )
    weekly_digest_weekday: int = Field(default=0, ge=0, le=6, description="0 is Monday.")
    meeting_reminder_lead_s: float = Field(default=24 * 3600, gt=0, description="The reminder: a day before.")
    pre_meeting_digest_lead_s: float = Field(
        default=3 * 24 * 3600, gt=0, description="The pre-meeting digest: this long before the meeting."
    )
    digest_item_retention_days: int = Field(default=400, ge=30)
