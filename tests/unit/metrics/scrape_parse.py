"""Reading a /metrics body back with prometheus-client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


def samples(body: bytes) -> list[Sample]:
    return [s for f in text_string_to_metric_families(body.decode()) for s in f.samples]


def families(body: bytes) -> dict[str, str]:
    """Family name as exposed (counters with ``_total``, info with ``_info``) → type."""
    out: dict[str, str] = {}
    for f in text_string_to_metric_families(body.decode()):
        name = f.name + "_total" if f.type == "counter" else f.name
        name = f.name + "_info" if f.type == "info" else name
        out[name] = f.type
    return out


def value(body: bytes, name: str, **labels: str) -> float:
    """The one sample called ``name`` whose labels include ``labels``."""
    found = [s.value for s in samples(body)
             if s.name == name and labels.items() <= s.labels.items()]  # fmt: skip
    assert len(found) == 1, (name, labels, found)
    return float(found[0])
