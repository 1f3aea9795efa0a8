"""The JSON Schema of the snapshot format, shipped in the package.

``snapshot-v1.schema.json`` is generated from ``balancer.core.models`` by
``python -m balancer.schema`` (rewrites the file) and checked against the models by the tests.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import msgspec

from balancer.core.models import Snapshot

SCHEMA_FILE = "snapshot-v1.schema.json"


def generate() -> dict[str, Any]:
    schema: dict[str, Any] = msgspec.json.schema(Snapshot)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://kvm-balancer.invalid/schema/snapshot-v1.schema.json"
    schema["title"] = "kvm-balancer cluster snapshot, format v1"
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def snapshot_schema_text() -> str:
    return files("balancer.schema").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
