"""The contracts partners code against: examples, committed schemas, compatibility, topics."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from passerelle_contracts import EVENT_MODELS, TOPICS, Envelope, all_topics, parse_data
from passerelle_contracts import schemas as schemagen
from passerelle_contracts.partners import PARTNER_EVENT_MODELS

CONTRACTS = Path(schemagen.__file__).resolve().parent.parent
EXAMPLES = sorted((CONTRACTS / "examples").glob("*.json"))


def test_every_event_type_has_an_example() -> None:
    names = {p.name.removesuffix(".json") for p in EXAMPLES}
    assert names == {f"{t}.v{v}" for t, v in EVENT_MODELS}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_is_valid_against_the_model_and_the_committed_schema(path: Path) -> None:
    raw = json.loads(path.read_text("utf-8"))
    envelope = Envelope.model_validate(raw)
    data = parse_data(envelope)
    assert data.event_type == envelope.event_type
    schema = json.loads((CONTRACTS / "schemas" / f"{path.stem}.schema.json").read_text("utf-8"))
    jsonschema.validate(raw, schema)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_committed_schema_rejects_a_payload_missing_a_required_field(path: Path) -> None:
    raw = json.loads(path.read_text("utf-8"))
    schema = json.loads((CONTRACTS / "schemas" / f"{path.stem}.schema.json").read_text("utf-8"))
    required = schema["$defs"][schema["properties"]["data"]["$ref"].rsplit("/", 1)[-1]]["required"]
    del raw["data"][required[0]]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, schema)


def test_committed_schemas_match_the_models() -> None:
    for name, content in schemagen.generated().items():
        committed = CONTRACTS / "schemas" / name
        assert committed.is_file(), f"schemas/{name} is missing: run python -m passerelle_contracts.schemas write"
        assert committed.read_text("utf-8") == content, f"schemas/{name} drifted from the models: regenerate it"


def test_models_are_backward_compatible_with_the_committed_schemas() -> None:
    """Fails when a change would break readers of the committed version (remove, retype, require)."""
    for model in EVENT_MODELS.values():
        committed = json.loads((CONTRACTS / "schemas" / schemagen.schema_name(model)).read_text("utf-8"))
        assert schemagen.breaking_changes(committed, schemagen.event_schema(model)) == []


def _schema(props: dict, required: list[str]) -> dict:
    return {"type": "object", "properties": props, "required": required}


def test_compatibility_check_accepts_a_new_optional_field() -> None:
    old = _schema({"a": {"type": "integer"}}, ["a"])
    new = _schema({"a": {"type": "integer"}, "b": {"type": "string", "default": ""}}, ["a"])
    assert schemagen.breaking_changes(old, new) == []


@pytest.mark.parametrize(
    ("new", "problem"),
    [
        (_schema({}, []), "$.a: removed"),
        (_schema({"a": {"type": "string"}}, ["a"]), "$.a: type changed"),
        (_schema({"a": {"type": "integer"}, "b": {"type": "string"}}, ["a", "b"]), "$.b: newly required"),
        (_schema({"a": {"type": "integer", "enum": [1, 2, 3]}}, ["a"]), "$.a: type changed"),
    ],
)
def test_compatibility_check_flags_breaking_changes(new: dict, problem: str) -> None:
    old = _schema({"a": {"type": "integer"}}, ["a"])
    assert any(p.startswith(problem) for p in schemagen.breaking_changes(old, new))


def test_each_event_type_travels_on_exactly_one_internal_topic_that_declares_it() -> None:
    for (event_type, _), model in EVENT_MODELS.items():
        carriers = [t.name for t in TOPICS if event_type in t.event_types and t.audience == "internal"]
        assert carriers == [model.topic]


def test_every_internal_topic_has_a_dead_letter_topic_keyed_the_same() -> None:
    names = {t.name: t for t in all_topics()}
    for spec in (t for t in TOPICS if t.audience == "internal"):
        assert names[spec.name + ".dlq"].key == spec.key
        assert names[spec.name + ".dlq"].partitions == spec.partitions


def test_no_event_names_a_person() -> None:
    """Personal data rule: events carry organisations and counts, never people's names; on the
    partner topics too."""
    forbidden = {"first_name", "last_name", "name", "pupil", "pupil_name", "beneficiary_name", "email", "phone"}
    for model in (*EVENT_MODELS.values(), *PARTNER_EVENT_MODELS.values()):
        assert not forbidden & set(model.model_fields), model.event_type


def test_committed_asyncapi_documents_match_the_services() -> None:
    from tools import asyncapi

    for name, content in asyncapi.rendered().items():
        committed = asyncapi.OUT / name
        assert committed.is_file() and committed.read_text("utf-8") == content, (
            f"docs/asyncapi/{name} is out of date: run python -m tools.asyncapi write"
        )
