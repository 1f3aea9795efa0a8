"""The JSON Schema of the snapshot format, shipped in the package.

``snapshot-v1.schema.json`` is generated from ``balancer.core.models`` by
``python -m balancer.schema`` (rewrites the file) and checked against the models by the tests.
The policy's objectives are listed from their registry (``balancer.core.objectives``).
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import msgspec

from balancer.core.models import Snapshot
from balancer.core.objectives import names as objective_names

SCHEMA_FILE = "snapshot-v1.schema.json"


def generate() -> dict[str, Any]:
    schema: dict[str, Any] = msgspec.json.schema(Snapshot)
    objective = schema["$defs"]["Policy"]["properties"]["objective"]
    schema["$defs"]["Policy"]["properties"]["objective"] = {
        "default": objective["default"],
        "enum": list(objective_names()),
    }
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://kvm-balancer.invalid/schema/snapshot-v1.schema.json"
    schema["title"] = "kvm-balancer cluster snapshot, format v1"
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def snapshot_schema_text() -> str:
    return files("balancer.schema").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
