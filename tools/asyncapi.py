"""Collect the services' AsyncAPI documents into docs/asyncapi/ (or check them for drift).

``python -m tools.asyncapi [write|check]``

Each service's app builds its own document (``app.state.asyncapi()``); this tool, outside the
runtime, is the one place that lists the services.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "asyncapi"
SERVICES = ("actions", "dashboard", "equipment", "funding", "notifications")


def document(service: str) -> dict[str, Any]:
    # Not started: no I/O, so no Kafka credentials either (the documents do not depend on them).
    os.environ.setdefault("PASSERELLE_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    app = importlib.import_module(f"services.{service}.app").create_app()
    doc: dict[str, Any] = app.state.asyncapi()
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
        print(f"out of date: docs/asyncapi/{name} (run: python -m tools.asyncapi write)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
