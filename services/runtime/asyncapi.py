"""A service's AsyncAPI document, generated from its FastStream broker.

Each service's app exposes its own document (``app.state.asyncapi()`` and ``GET
/asyncapi.json``); ``tools/asyncapi.py`` collects them into docs/asyncapi/, where the contract
tests check them for drift. The runtime never names a service.

The consumers read raw records (so that a bad payload can be dead-lettered rather than
rejected by the framework), which leaves FastStream nothing to infer payloads from; each
message's payload is therefore pointed at the event types' committed JSON Schemas.
"""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from passerelle_contracts import TOPICS
from passerelle_contracts import topic as topic_spec

# Every listener a client reaches is TLS + SCRAM-SHA-512 (see ``kafka_access``): the document
# says so, whatever the settings of the process that renders it.
SECURITY_SCHEMES = {
    "scram": {
        "type": "scramSha512",
        "description": "SASL/SCRAM-SHA-512 over TLS; the CA certificate, the username and the password come "
        "with the partner kit (python -m services.access partners onboard).",
    }
}
LOCAL_SERVER = {
    "host": "127.0.0.1:19092",
    "protocol": "kafka-secure",
    "description": "scripts/up",
    "security": [{"$ref": "#/components/securitySchemes/scram"}],
}


def declare_publishers(broker: KafkaBroker, service: str) -> None:
    """Declare the registry's topics this service produces (the outbox relay publishes them),
    so that the document lists them; nothing is sent through these publishers."""
    for spec in TOPICS:
        if spec.producer == service:
            broker.publisher(
                spec.name, title=f"{service}:{spec.name}", description=spec.description, include_in_schema=True
            )


def _payload(event_types: list[str], directory: str) -> dict[str, Any]:
    refs = [{"$ref": f"../../contracts/schemas/{directory}{t}.v1.schema.json"} for t in sorted(event_types)]
    return refs[0] if len(refs) == 1 else {"oneOf": refs}


def document(broker: KafkaBroker, *, title: str, description: str, topic_prefix: str = "") -> dict[str, Any]:
    doc: dict[str, Any] = (
        AsyncAPI(broker, title=title, version="1.0.0", description=description).to_specification().to_jsonable()
    )
    doc["servers"] = {"local": LOCAL_SERVER}
    for channel in doc.get("channels", {}).values():
        channel["servers"] = [{"$ref": "#/servers/local"}]
        for ref in channel.get("messages", {}).values():
            message = doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]
            # Consumed channels carry the environment's prefix; the registry knows the bare name.
            spec = topic_spec(channel["address"].removeprefix(topic_prefix))
            carried = list(spec.event_types)
            handled = [t for t in carried if t in channel.get("description", "")]
            # A partner topic's events are the projections, with their own schemas.
            message["payload"] = _payload(handled or carried, "partners/" if spec.audience == "partner" else "")
            message["headers"] = {
                "type": "object",
                "properties": {
                    "event_type": {"type": "string"},
                    "event_id": {"type": "string", "format": "uuid"},
                    "correlation_id": {"type": "string", "format": "uuid"},
                },
            }
    doc["components"].get("schemas", {}).pop("EmptyPayload", None)
    doc["components"]["securitySchemes"] = SECURITY_SCHEMES
    return doc
