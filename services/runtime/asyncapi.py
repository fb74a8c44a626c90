"""AsyncAPI documents generated from the services' FastStream brokers, committed under
docs/asyncapi/ and checked for drift by the contract tests.

``python -m services.runtime.asyncapi [write|check]``

The consumers read raw records (so that a bad payload can be dead-lettered rather than
rejected by the framework), which leaves FastStream nothing to infer payloads from; each
message's payload is therefore pointed at the event types' committed JSON Schemas.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from faststream.specification import AsyncAPI
from passerelle_contracts import TOPICS
from passerelle_contracts import topic as topic_spec

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "asyncapi"
SERVICES = ("actions", "equipment", "funding", "notifications")


def _payload(event_types: list[str]) -> dict[str, Any]:
    refs = [{"$ref": f"../../contracts/schemas/{t}.v1.schema.json"} for t in sorted(event_types)]
    return refs[0] if len(refs) == 1 else {"oneOf": refs}


def document(service: str) -> dict[str, Any]:
    module = importlib.import_module(f"services.{service}.app")
    settings_module = importlib.import_module(f"services.{service}.settings")
    settings_cls = next(v for k, v in vars(settings_module).items() if k.endswith("Settings") and k != "ServiceSettings")
    app = module.create_app(settings_cls())
    runtime = app.state.runtime
    for spec in TOPICS:
        if spec.producer == service:
            runtime.broker.publisher(
                spec.name, title=f"{service}:{spec.name}", description=spec.description, include_in_schema=True
            )
    doc = AsyncAPI(
        runtime.broker, title=f"Passerelle — {service}", version="1.0.0", description=app.description
    ).to_specification().to_jsonable()
    doc["servers"] = {"local": {"host": "127.0.0.1:19092", "protocol": "kafka", "description": "scripts/up"}}
    for channel in doc.get("channels", {}).values():
        channel["servers"] = [{"$ref": "#/servers/local"}]
        for ref in channel.get("messages", {}).values():
            message = doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]
            carried = list(topic_spec(channel["address"]).event_types)
            handled = [t for t in carried if t in channel.get("description", "")]
            message["payload"] = _payload(handled or carried)
            message["headers"] = {
                "type": "object",
                "properties": {
                    "event_type": {"type": "string"},
                    "event_id": {"type": "string", "format": "uuid"},
                    "correlation_id": {"type": "string", "format": "uuid"},
                },
            }
    doc["components"].get("schemas", {}).pop("EmptyPayload", None)
    return doc


def rendered() -> dict[str, str]:
    return {f"{s}.json": json.dumps(document(s), indent=2, sort_keys=True, ensure_ascii=False) + "\n" for s in SERVICES}


def main(argv: list[str]) -> int:
    files = rendered()
    if len(argv) > 1 and argv[1] == "write":
        OUT.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (OUT / name).write_text(content, encoding="utf-8")
        print(f"wrote {len(files)} AsyncAPI documents to docs/asyncapi/")
        return 0
    stale = [n for n, c in files.items() if not (OUT / n).is_file() or (OUT / n).read_text("utf-8") != c]
    for name in stale:
        print(f"out of date: docs/asyncapi/{name} (run: python -m services.runtime.asyncapi write)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
