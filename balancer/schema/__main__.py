"""Rewrite the shipped JSON Schema from the models: ``python -m balancer.schema``."""

from __future__ import annotations

from importlib.resources import files

from balancer.schema import SCHEMA_FILE, generate, render

target = files("balancer.schema").joinpath(SCHEMA_FILE)
with open(str(target), "w", encoding="utf-8") as fh:
    fh.write(render(generate()))
