"""JSON Schema of every event (the envelope with its typed ``data``) and the compatibility rule.

``python -m passerelle_contracts.schemas write`` regenerates ``contracts/schemas``; the
contract tests fail when the committed files drift from the models or when a change is not
backward compatible with the committed version.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import create_model

from .envelope import Envelope, EventData
from .partners import PARTNER_EVENT_MODELS
from .registry import EVENT_MODELS, all_topics

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
PARTNERS_DIR = "partners/"


def schema_name(model: type[EventData]) -> str:
    return f"{model.event_type}.v{model.event_version}.schema.json"


def event_schema(model: type[EventData], *, directory: str = "") -> dict[str, Any]:
    typed = create_model(f"{model.event_type}V{model.event_version}Event", __base__=Envelope, data=(model, ...))
    schema = typed.model_json_schema(mode="validation")
    schema["$id"] = directory + schema_name(model)
    schema["title"] = f"{model.event_type} v{model.event_version}"
    schema["description"] = (model.__doc__ or "").strip()
    props = schema["properties"]
    props["event_type"]["const"] = model.event_type
    props["event_version"]["const"] = model.event_version
    return schema


def generated() -> dict[str, str]:
    """File name -> content of every generated file."""
    files = {schema_name(m): _dump(event_schema(m)) for m in EVENT_MODELS.values()}
    # What partners read (passerelle_contracts.partners): the same events without the free text.
    files |= {
        PARTNERS_DIR + schema_name(m): _dump(event_schema(m, directory=PARTNERS_DIR))
        for m in PARTNER_EVENT_MODELS.values()
    }
    files["topics.json"] = _dump([t.model_dump(mode="json") for t in all_topics()])
    return files


def _dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]]))
            return {k: walk(v) for k, v in node.items() if k not in ("$defs", "description", "title", "examples")}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    inlined: dict[str, Any] = walk(schema)  # a dict walks to a dict
    return inlined


def breaking_changes(old: dict[str, Any], new: dict[str, Any], path: str = "") -> list[str]:
    """What in ``new`` breaks readers of ``old``: a removed or retyped field, a new required one.

    Adding an optional field is the only compatible change (readers ignore unknown fields);
    widening or narrowing an enum is breaking, since strict readers reject unknown values.
    """
    old, new = _inline(old), _inline(new)
    return _compare(old, new, path or "$")


def _compare(old: dict[str, Any], new: dict[str, Any], path: str) -> list[str]:
    problems: list[str] = []
    old_props, new_props = old.get("properties"), new.get("properties")
    if old_props is None or new_props is None:
        if old != new:
            problems.append(
                f"{path}: type changed from {json.dumps(old, sort_keys=True)} to {json.dumps(new, sort_keys=True)}"
            )
        return problems
    for name, old_sub in old_props.items():
        if name not in new_props:
            problems.append(f"{path}.{name}: removed")
        else:
            problems.extend(_compare(old_sub, new_props[name], f"{path}.{name}"))
    for name in set(new.get("required", [])) - set(old.get("required", [])):
        problems.append(f"{path}.{name}: newly required")
    return problems


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    files = generated()
    if command == "write":
        (SCHEMA_DIR / PARTNERS_DIR).mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (SCHEMA_DIR / name).write_text(content, encoding="utf-8")
        print(f"wrote {len(files)} files to {SCHEMA_DIR.name}/")
        return 0
    drift = [n for n, c in files.items() if not (SCHEMA_DIR / n).is_file() or (SCHEMA_DIR / n).read_text("utf-8") != c]
    for name in drift:
        print(f"out of date: schemas/{name} (run: python -m passerelle_contracts.schemas write)")
    return 1 if drift else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
