"""The shipped JSON Schema matches the models, and validates what the decoder accepts."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from balancer.schema import generate, render, snapshot_schema_text

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "cluster-small.json"


def test_shipped_schema_is_up_to_date() -> None:
    assert snapshot_schema_text() == render(generate()), "run: python -m balancer.schema"


def test_example_validates_against_the_schema() -> None:
    schema = json.loads(snapshot_schema_text())
    jsonschema.validate(json.loads(EXAMPLE.read_text()), schema)


def test_schema_rejects_a_bad_document() -> None:
    schema = json.loads(snapshot_schema_text())
    doc = json.loads(EXAMPLE.read_text())
    doc["hosts"][0]["state"] = "sleeping"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)
