"""Write (or check) the table of routes in each service's README: method, path, who may call it.

``python -m tools.routes [write|check]``

The table is rendered from the service's app (``services.runtime.openapi.access_table``): the
roles come from the same dependencies the edge enforces, so the README cannot promise another
access than the code grants. It sits between two markers in ``services/<name>/README.md``.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from services.runtime.openapi import access_table

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("actions", "equipment", "funding", "gateway", "notifications")
START, END = "<!-- routes:start (python -m tools.routes write) -->", "<!-- routes:end -->"
LEGEND = (
    "*public*: no key; *any key*: a valid key of any role; *any key but reader*: any key that may write (a "
    "`reader` key only reads); otherwise the roles whose key may call it. "
    "Reads behind a key are scoped to the caller's organisation unless its role is coordination or operator "
    "(see the notes above the table).\n\n"
)


def rendered(service: str) -> str:
    # Not started: no I/O, so no Kafka credentials either (the documents do not depend on them).
    os.environ.setdefault("PASSERELLE_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    app = importlib.import_module(f"services.{service}.app").create_app()
    return f"{START}\n{LEGEND}{access_table(app)}{END}"


def readme(service: str) -> Path:
    return ROOT / "services" / service / "README.md"


def updated(service: str) -> str:
    text = readme(service).read_text("utf-8")
    table = rendered(service)
    if START in text and END in text:
        before, rest = text.split(START, 1)
        return before + table + rest.split(END, 1)[1]
    return text.rstrip("\n") + "\n\n## Routes and who may call them\n" + table + "\n"


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] == "write":
        for service in SERVICES:
            readme(service).write_text(updated(service), encoding="utf-8")
        print(f"wrote the route tables of {len(SERVICES)} READMEs")
        return 0
    stale = [s for s in SERVICES if readme(s).read_text("utf-8") != updated(s)]
    for service in stale:
        print(f"services/{service}/README.md: the route table is out of date (python -m tools.routes write)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
