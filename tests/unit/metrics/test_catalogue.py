"""The documented list (docs/metrics.md), the catalogue and what the exporter and the
daemon really expose agree: the same names, types and labels, nothing more, nothing less."""

from __future__ import annotations

import re
from pathlib import Path

import fakeredis
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from balancer.control.settings import ControlSettings
from balancer.metrics.catalogue import ALL, DAEMON, EXPORTER, Metric
from balancer.metrics.daemon_metrics import DaemonMetrics
from balancer.metrics.exporter import StoreExporter
from balancer.state.keys import DEFAULT_KEYS as KEYS
from tests.unit.metrics.store_fixtures import FixedClock, seed

DOC = Path(__file__).resolve().parents[3] / "docs/metrics.md"
_ROW = re.compile(r"^\| `(kvmb_[a-z0-9_]+)` \| (\w+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$")


def documented() -> dict[str, tuple[str, tuple[str, ...], str]]:
    out: dict[str, tuple[str, tuple[str, ...], str]] = {}
    for line in DOC.read_text().splitlines():
        match = _ROW.match(line)
        if match:
            name, kind, labels, source, _help = match.groups()
            names = tuple(re.findall(r"`(\w+)`", labels))
            assert name not in out, f"{name} documented twice"
            out[name] = (kind, names, source.strip())
    return out


def _source(m: Metric) -> str:
    return m.source + (" `--per-vm`" if m.per_vm else "")


def exposed(body: bytes) -> dict[str, tuple[str, frozenset[str]]]:
    """Name as documented → (type on the wire, label names of its samples)."""
    out: dict[str, tuple[str, frozenset[str]]] = {}
    for f in text_string_to_metric_families(body.decode()):
        name = f.name + "_total" if f.type == "counter" else f.name
        labels = frozenset(k for s in f.samples for k in s.labels if k != "le")
        out[name] = (f.type, labels)
    return out


def _expected(metrics: tuple[Metric, ...]) -> dict[str, tuple[str, frozenset[str]]]:
    return {m.name: ("gauge" if m.kind == "info" else m.kind, frozenset(m.labels)) for m in metrics}


def test_the_documented_list_is_the_catalogue() -> None:
    assert documented() == {m.name: (m.kind, m.labels, _source(m)) for m in ALL}


def test_names_follow_the_conventions() -> None:
    units = ("_seconds", "_bytes", "_bytes_per_second", "_ratio", "_cores", "_watts",
             "_joules", "_total", "_info")  # fmt: skip
    for m in ALL:
        assert m.name.startswith("kvmb_"), m.name
        assert (m.kind == "counter") == m.name.endswith("_total"), m.name
        assert (m.kind == "info") == m.name.endswith("_info"), m.name
        base = m.name.removesuffix("_total")
        if any(word in m.name for word in ("seconds", "bytes", "watts", "joules", "cores")):
            assert base.endswith(units), m.name


def test_the_exporter_exposes_exactly_its_part(client: fakeredis.FakeRedis) -> None:
    seed(client)
    body = StoreExporter(client, KEYS, FixedClock(), per_vm=True).scrape()
    got = exposed(body)
    # families that have no sample while nothing fills them show their type only
    want = _expected(EXPORTER)
    assert got.keys() == want.keys()
    for name, (kind, labels) in want.items():
        assert got[name][0] == kind, name
        assert got[name][1] <= labels, name
        if name != "kvmb_build_info":
            assert got[name][1] == labels, name


def test_the_daemon_exposes_exactly_its_part(client: fakeredis.FakeRedis) -> None:
    metrics = DaemonMetrics("d1", 60.0, ControlSettings(), FixedClock(), leading=lambda: True,
                            client=client, keys=KEYS)  # fmt: skip
    got = exposed(generate_latest(metrics.registry))
    assert got == _expected(DAEMON)
