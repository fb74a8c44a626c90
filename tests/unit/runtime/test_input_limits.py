"""Limits by default (issue 10): every input a service's OpenAPI document describes is bounded,
so the limit is enforced before a handler runs and shown to partners and to the fuzzer.

A string without ``maxLength`` (unless it is a date, a time, a UUID or one of a list), a number
without a minimum and a maximum, a list without ``maxItems``: each is what made a NUL character,
a 3,000,000,000-device delivery or a year 9999 reach PostgreSQL (and answer 500) before."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from services.runtime.errors import Invalid
from services.runtime.inputs import Euros, HappenedAt, decode_csv

SERVICES = ("actions", "equipment", "funding", "gateway", "notifications")
BOUNDED_FORMATS = {"date", "date-time", "uuid", "binary", "email"}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def unbounded(document: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]) -> Iterator[str]:
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return
        seen = seen | {schema["$ref"]}
    schema = _resolve(document, schema)
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            yield from unbounded(document, option, where, seen)
    kind = schema.get("type")
    if "enum" in schema or "const" in schema:
        return
    if kind == "string" and "maxLength" not in schema and schema.get("format") not in BOUNDED_FORMATS:
        yield f"{where}: a string without maxLength"
    if kind in ("integer", "number") and not (
        {"minimum", "exclusiveMinimum"} & schema.keys() and {"maximum", "exclusiveMaximum"} & schema.keys()
    ):
        yield f"{where}: {'an' if kind == 'integer' else 'a'} {kind} without a minimum and a maximum"
    if kind == "array":
        if "maxItems" not in schema:
            yield f"{where}: a list without maxItems"
        yield from unbounded(document, schema.get("items", {}), f"{where}[]", seen)
    if kind == "object" or "properties" in schema:
        for name, sub in schema.get("properties", {}).items():
            yield from unbounded(document, sub, f"{where}.{name}", seen)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            if "propertyNames" not in schema and "maxProperties" not in schema:
                yield f"{where}: a map without bounded keys"
            yield from unbounded(document, extra, f"{where}.*", seen)


def inputs(document: dict[str, Any]) -> Iterator[str]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                yield from unbounded(document, parameter["schema"], f"{where} {parameter['name']}", set())
            body = operation.get("requestBody", {}).get("content", {})
            for media, content in body.items():  # a CSV upload is a string: its maxLength is the limit
                yield from unbounded(document, content.get("schema", {}), f"{where} body {media}", set())


@pytest.mark.parametrize("service", SERVICES)
def test_every_input_the_service_documents_is_bounded(service: str) -> None:
    document = importlib.import_module(f"services.{service}.app").create_app().openapi()

    assert list(inputs(document)) == []


def test_the_check_finds_an_unbounded_string_number_and_list() -> None:
    document: dict[str, Any] = {"components": {"schemas": {}}}
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "count": {"type": "integer", "minimum": 0},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}},
            "when": {"type": "string", "format": "date"},
        },
    }

    assert list(unbounded(document, schema, "body", set())) == [
        "body.name: a string without maxLength",
        "body.count: an integer without a minimum and a maximum",
        "body.tags: a list without maxItems",
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("nom;ville\nSociété;Ixelles".encode("latin-1"), "line 2: the file is not UTF-8"),
        (b"", "the file is empty"),
        (b"\r\xc3\xbb", "line 1: missing columns: device"),  # found by fuzzing: a bare CR was a 500
        (b"device\n" + b'"' + b"x" * 200_000 + b'"\n', "line 2: not a CSV line"),
        (b"device\nA\x00\n", "line 2: control character U+0000"),
    ],
)
def test_a_csv_upload_that_cannot_be_read_is_refused_with_its_line(body: bytes, reason: str) -> None:
    with pytest.raises(Invalid) as refused:
        decode_csv(body, required=["device"])
    assert refused.value.reason.startswith(reason), refused.value.reason


def test_a_csv_upload_in_utf_8_with_a_byte_order_mark_and_crlf_is_read() -> None:
    text = decode_csv("\ufeffdevice;commune\r\nPC-1;Forest\r\n".encode(), required=["device;commune"])

    assert text == "device;commune\nPC-1;Forest\n"


@pytest.mark.parametrize("moment", ["9999-12-31T23:00:00-12:00", "0001-01-01T00:00:00+14:00", "2999-01-01T00:00:00Z"])
def test_a_moment_far_outside_the_window_is_refused_not_an_overflow(moment: str) -> None:
    """Found by review: converting 9999-12-31T23:00-12:00 to Brussels time overflows the year;
    pydantic let the OverflowError through and the route answered 500."""
    with pytest.raises(ValidationError, match="not plausible"):
        TypeAdapter(HappenedAt).validate_python(moment)


def test_an_amount_of_euros_is_what_numeric_12_2_holds() -> None:
    euros = TypeAdapter(Euros)

    assert euros.validate_python(9_999_999_999.99) == Decimal("9999999999.99")
    with pytest.raises(ValidationError):
        euros.validate_python(10_000_000_000)


def test_a_csv_upload_of_more_rows_than_one_import_takes_is_refused_whole() -> None:
    body = b"device\n" + b"PC\n" * 11

    assert decode_csv(body, required=["device"], max_rows=11).count("PC") == 11
    with pytest.raises(Invalid, match="more than 10 rows"):
        decode_csv(body, required=["device"], max_rows=10)
