from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PASSERELLE_GATEWAY_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "gateway"
    database_url: str = "postgresql://passerelle:passerelle@127.0.0.1:15432/passerelle_gateway"
    http_port: int = 8105
    grants_ttl_s: float = Field(
        default=30.0,
        gt=0,
        description="How long a partner's grants (the broker's ACLs) are kept before they are read again; "
        "an open stream checks them (and its key) this often, and ends when a topic is no longer granted.",
    )
    heartbeat_s: float = Field(
        default=15.0,
        gt=0,
        description="After this long without sending, a stream sends a comment (and the position, if it moved).",
    )
    max_streams_per_partner: int = Field(
        default=4, ge=1, description="Open streams per organisation in this process; one more is refused with 429."
    )
    max_streams: int = Field(
        default=200, ge=1, description="Open streams in this process; one more is refused with 503."
    )
    batch_max_records: int = Field(
        default=50,
        ge=1,
        le=10_000,
        description="Records a stream takes from Kafka at a time: at most this many wait for a slow client.",
    )
    fetch_max_partition_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Kafka's max.partition.fetch.bytes for a stream's consumer: what it may fetch ahead per partition.",
    )
    max_stream_s: float = Field(
        default=600.0,
        gt=0,
        description="A stream ends after this long (its position sent first); clients reconnect with Last-Event-ID. "
        "Bounds how long a stopping gateway waits for its streams.",
    )
    reconnect_ms: int = Field(
        default=3000, ge=0, description="The SSE `retry:` a stream opens with: how long a client waits to reconnect."
    )
