"""The jsonb codec encodes with pydantic-core (``services.runtime.db``): for every kind of value
the services write, the JSON it sends must mean what json.dumps's meant."""

from __future__ import annotations

import json

import pytest

from services.runtime.db import _jsonb_decode, _jsonb_encode

WRITTEN = [
    {"organisation": "easy-brussels", "role": "coordination", "key_id": None},
    {"devices": {"laptop": 20, "tablet": 5}, "total": 25, "ratio": 0.25, "done": True},
    [{"field": "title_fr", "old": "Écoles numériques", "new": "Écoles « numériques »"}, {"field": "x", "new": None}],
    {"text": 'ligne 1\nligne 2\t"citée" \\ fin', "emoji": "💻", "nul": "a\u0000b"},
    {"big": 2**53, "negative": -3, "float": 1e-7, "nested": [[1, [2, [3]]]]},
    [],
    {},
    "a string",
]


@pytest.mark.parametrize("value", WRITTEN)
def test_a_value_the_services_write_reads_back_as_json_dumps_would_have_written_it(value: object) -> None:
    encoded = _jsonb_encode(value)
    assert encoded[:1] == b"\x01", "binary jsonb: the version byte first"
    assert json.loads(encoded[1:]) == json.loads(json.dumps(value))
    assert _jsonb_decode(encoded) == value
