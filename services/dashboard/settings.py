from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class DashboardSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PASSERELLE_DASHBOARD_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "dashboard"
    database_url: str = "postgresql://passerelle:passerelle@127.0.0.1:15432/passerelle_dashboard"
    # The notifications service's messages link here (its PASSERELLE_NOTIFICATIONS_DASHBOARD_URL).
    http_port: int = 8110
    service_urls: dict[str, str] = Field(
        default={
            "actions": "http://127.0.0.1:8101",
            "equipment": "http://127.0.0.1:8102",
            "funding": "http://127.0.0.1:8103",
            "notifications": "http://127.0.0.1:8104",
            "gateway": "http://127.0.0.1:8105",
        },
        description="Where the System page reads each service's /metrics and /ready (JSON object: name -> base URL).",
    )
    session_ttl_s: int = Field(
        default=8 * 3600,
        ge=60,
        le=7 * 24 * 3600,
        description="How long a login lasts (the key's expiry ends it sooner).",
    )
    secure_cookies: bool = Field(
        default=False,
        description="Mark the session cookie Secure: set it wherever the dashboard is served over HTTPS.",
    )
    feed_page_size: int = Field(default=100, ge=10, le=1000, description="Events a feed page shows.")
    max_live_streams: int = Field(default=100, ge=1, description="Browsers following the live updates at once.")
    heartbeat_s: float = Field(default=15.0, gt=0, description="A live stream sends a comment after this long idle.")
    max_stream_s: float = Field(
        default=600.0,
        gt=0,
        description="A live stream ends after this long; the browser reconnects with the last id it received "
        "(nothing is missed). Bounds how long a stopping dashboard waits for its streams.",
    )
    metrics_timeout_s: float = Field(default=2.0, gt=0, description="How long the System page waits for a service.")
    replay_command: str = Field(
        default="",
        description="The dead-letter tool the System page's replay button runs, with {service}, {id} and "
        "{operator} filled in, e.g. 'python -m services.{service} dlq replay {id} --operator {operator}'. "
        "Empty: no replay from the dashboard (the runbook's command line only). It runs with the environment "
        "of replay_env_file, which holds the credentials a replay needs (the dashboard's own may not write).",
    )
    replay_env_file: str | None = Field(
        default=None, description="An env file (KEY=value lines) for the replay command: database and Kafka access."
    )
