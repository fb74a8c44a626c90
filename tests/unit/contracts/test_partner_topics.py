"""Partner topics carry nothing private: organisations, counts, codes and the plan's public texts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from passerelle_contracts import EVENT_MODELS, TOPICS, Envelope, partners
from passerelle_contracts import schemas as schemagen
from passerelle_contracts.partners import PARTNER_EVENT_MODELS, STRING_KINDS, parse_partner_data, project

CONTRACTS = Path(schemagen.__file__).resolve().parent.parent
EXAMPLES = sorted((CONTRACTS / "examples").glob("*.json"))
PARTNER_SCHEMAS = sorted((CONTRACTS / "schemas" / "partners").glob("*.schema.json"))
# Names that say "people wrote this" or "this is a person": never on a partner topic, whatever
# STRING_KINDS says (a field named so would be a mistake of the projection).
FREE_TEXT = {"note", "comment", "comments", "reason", "decision", "minutes", "location", "agenda", "description"}
PERSONAL = {"first_name", "last_name", "name", "pupil", "pupil_name", "beneficiary_name", "email", "phone", "contact"}


def strings(schema: dict[str, Any], defs: dict[str, Any], path: str = "", name: str = "") -> Iterator[tuple[str, str]]:
    """(path, field name) of every string a payload may hold that no enum, const, pattern or
    format constrains: what a person could type anything into."""
    if "$ref" in schema:
        yield from strings(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, path, name)
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            yield from strings(option, defs, path, name)
    if schema.get("type") == "string" and not {"enum", "const", "pattern", "format"} & schema.keys():
        yield path, name
    for field, sub in schema.get("properties", {}).items():
        yield from strings(sub, defs, f"{path}.{field}", field)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from strings(schema["additionalProperties"], defs, f"{path}.*", name)
    if isinstance(schema.get("items"), dict):
        yield from strings(schema["items"], defs, f"{path}[]", name)


def partner_payload_schema(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = json.loads(path.read_text("utf-8"))
    defs = schema.get("$defs", {})
    return defs[schema["properties"]["data"]["$ref"].rsplit("/", 1)[-1]], defs


def test_every_partner_topic_is_the_projection_of_an_internal_topic_with_the_same_events_and_keys() -> None:
    by_name = {t.name: t for t in TOPICS}
    shared = [t for t in TOPICS if t.audience == "partner"]
    assert {t.projection_of for t in shared} == set(partners.PROJECTED)
    for topic in shared:
        internal = by_name[topic.projection_of or ""]
        assert internal.audience == "internal"
        assert (topic.producer, topic.key, topic.partitions, topic.event_types) == (
            internal.producer,
            internal.key,
            internal.partitions,
            internal.event_types,
        )


def test_the_notifications_delivery_log_is_never_a_partner_topic() -> None:
    assert all(t.audience == "internal" for t in TOPICS if t.name.startswith("passerelle.notifications."))


def test_every_shared_event_type_has_a_partner_schema_committed() -> None:
    names = {p.name for p in PARTNER_SCHEMAS}
    assert names == {schemagen.schema_name(m) for m in PARTNER_EVENT_MODELS.values()}
    assert {m.event_type for m in PARTNER_EVENT_MODELS.values()} == {
        t for spec in TOPICS if spec.audience == "partner" for t in spec.event_types
    }


@pytest.mark.parametrize("path", PARTNER_SCHEMAS, ids=lambda p: p.name.split(".")[0])
def test_a_partner_schema_holds_no_string_that_could_be_free_text_or_a_person(path: Path) -> None:
    data, defs = partner_payload_schema(path)
    unclassified = [p for p, name in strings(data, defs) if name not in STRING_KINDS]
    assert unclassified == [], (
        f"{path.name}: strings nobody said were safe for partners: {unclassified}; withhold them "
        "(passerelle_contracts.partners.WITHHELD) or name what they hold in STRING_KINDS"
    )


def test_no_free_text_or_personal_field_name_is_ever_classified_as_safe() -> None:
    assert not (FREE_TEXT | PERSONAL) & STRING_KINDS.keys()


def test_the_check_would_catch_a_new_free_text_field() -> None:
    """The guard itself: a schema with a comment, or a string nobody classified, is caught."""
    schema = {"type": "object", "properties": {"comment": {"type": "string"}, "grant_id": {"type": "string"}}}
    found = dict(strings(schema, {}))
    assert found == {".comment": "comment", ".grant_id": "grant_id"}
    assert dict(strings({"type": "object", "additionalProperties": {"type": "string"}}, {}, "", "files")) == {
        ".*": "files"
    }
    assert [p for p, name in found.items() if name not in STRING_KINDS] == [".comment"]
    assert not {"comment"} & set(STRING_KINDS)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_projection_of_every_example_is_valid_against_its_partner_schema(path: Path) -> None:
    raw = json.loads(path.read_text("utf-8"))
    envelope = Envelope.model_validate(raw)
    model = EVENT_MODELS[(envelope.event_type, envelope.event_version)]
    copy = project(model.topic, envelope)
    if model.topic not in partners.PROJECTED:
        assert copy is None, "the notifications' events have no partner copy"
        return
    assert copy is not None
    assert (copy.subject, copy.occurred_at, copy.correlation_id) == (
        envelope.subject,
        envelope.occurred_at,
        envelope.correlation_id,
    )
    assert copy.causation_id == envelope.event_id, "a copy is caused by its original"
    assert copy.actor.organisation == envelope.actor.organisation and copy.actor.key_id is None, "no key id"
    again = project(model.topic, envelope)
    assert again is not None and copy.event_id == again.event_id != envelope.event_id, "its own id, stable"
    assert not partners.withheld(envelope.event_type) & copy.data.keys()
    schema = json.loads((CONTRACTS / "schemas" / "partners" / f"{path.stem}.schema.json").read_text("utf-8"))
    jsonschema.validate(copy.model_dump(mode="json"), schema)
    assert parse_partner_data(copy).event_type == envelope.event_type


def test_a_returned_reports_comment_never_reaches_a_partner() -> None:
    raw = json.loads((CONTRACTS / "examples" / "ReportReturned.v1.json").read_text("utf-8"))
    raw["data"]["comment"] = "Madame Dupont n'a pas joint les annexes"
    copy = project("passerelle.actions.v1", Envelope.model_validate(raw))
    assert copy is not None
    assert "comment" not in copy.data and "Dupont" not in copy.model_dump_json()
    assert "comment" not in PARTNER_EVENT_MODELS[("ReportReturned", 1)].model_fields


def test_partner_models_are_backward_compatible_with_their_committed_schemas() -> None:
    for model in PARTNER_EVENT_MODELS.values():
        committed = json.loads((CONTRACTS / "schemas" / "partners" / schemagen.schema_name(model)).read_text("utf-8"))
        new = schemagen.event_schema(model, directory=schemagen.PARTNERS_DIR)
        assert schemagen.breaking_changes(committed, new) == []
