"""Issue 17's property-based suite: whatever a snapshot document or an option holds, the
CLI answers with exit 0, 2 or 3 (a one-line refusal for 2), never a traceback; a snapshot
``snapshot validate`` accepts, ``plan`` plans; and a plan that leaves a VM on a host to be
emptied exits 3, whatever the objective.

The commands run in-process (click's runner) on standard input; examples are bounded
(``max_examples``) so the suite runs in seconds."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import msgspec
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from balancer.cli.main import main
from balancer.core.models import Snapshot
from tests.unit.core.strategies import clusters

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "cluster-small.json"
BASE: dict[str, Any] = json.loads(EXAMPLE.read_text())
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin)


def answered(result: Result) -> None:
    """Exit 0, 2 or 3, no exception escaping; a refusal is one line naming the problem."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception,
        result.output,
    )
    assert result.exit_code in (0, 2, 3), (result.exit_code, result.output)
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output


# --- mutated documents ----------------------------------------------------------------------

#: Values a careless or hostile document may hold where another is expected.
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, 2**64 + 1, 2**1024, -(2**1024), 10**400]),
    st.floats(allow_nan=False),  # NaN is not JSON; 1e999 (infinity) is written as a literal
    st.sampled_from(["1e999", "-1e999", "1e308"]).map(float),
    st.text(max_size=12),
    st.sampled_from(["", "\x1b[31mred", "a\nb", "x" * 300, "kvm-01", "web-1"]),
    st.lists(st.integers(0, 3), max_size=3),
    st.just({}),
)


def _paths(node: Any, at: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every place in a JSON document: its keys and list items, nested."""
    out = [at] if at else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*at, i))
    return out


PATHS = _paths(BASE)


def _encode(doc: Any) -> str:
    """JSON with infinities as 1e999 (what a hand-written document may say)."""
    text = json.dumps(doc, default=str)
    return text.replace("Infinity", "1e999")  # json.dumps writes Infinity; 1e999 is JSON


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """The example document with one to three places replaced, deleted or added to."""
    doc = json.loads(json.dumps(BASE))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
            key = path[-1]
            action = draw(st.sampled_from(["replace", "replace", "delete", "extra"]))
            if action == "replace":
                parent[key] = draw(ODD_VALUES)
            elif action == "delete":
                del parent[key]
            elif isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=8))] = draw(ODD_VALUES)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced the place
    return _encode(doc)


@SETTINGS
@given(mutated())
def test_a_mutated_snapshot_is_refused_in_one_line_or_planned(text: str) -> None:
    validated = run("snapshot", "validate", "-", stdin=text)
    answered(validated)
    assert validated.exit_code in (0, 2)
    planned = run("plan", "--snapshot", "-", "--json", stdin=text)
    answered(planned)
    if validated.exit_code == 0:  # what validate accepts, plan plans
        assert planned.exit_code in (0, 3), planned.output
        json.loads(planned.stdout)
    else:  # and what it refuses, plan refuses too, with the same message
        assert planned.exit_code == 2, planned.output
        assert planned.stderr == validated.stderr


# --- any accepted snapshot: planned, and exit 3 exactly when a VM stays to be emptied ------


def _to_empty(snap: Snapshot) -> set[str]:
    emptying = {h.name for h in snap.hosts if h.state in ("maintenance", "draining")}
    return emptying | set(snap.policy.evacuate_hosts)


@SETTINGS
@given(clusters())
def test_a_plan_leaving_a_vm_on_a_host_to_be_emptied_exits_3(snap: Snapshot) -> None:
    text = msgspec.json.encode(snap).decode()
    result = run("plan", "--snapshot", "-", "--json", stdin=text)
    answered(result)
    assert result.exit_code in (0, 3), result.output
    plan = json.loads(result.stdout)
    moved = {m["vm"] for m in plan["moves"]}
    staying = {v.name for v in snap.vms if v.host in _to_empty(snap) and v.name not in moved}
    assert {u["vm"] for u in plan["left_behind"]} == staying
    assert result.exit_code == (3 if staying else 0), (staying, result.stderr)
    if staying:
        assert f"{len(staying)} VM(s) stay on hosts to be emptied" in result.stderr


# --- options: numbers and names ---------------------------------------------------------------

NUMBERS = st.one_of(
    st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-0", "", " ", "0x10"]),
    st.floats().map(repr),
    st.integers().map(str),
    st.sampled_from([str(2**1024), "1" + "0" * 400]),
    st.text(max_size=6),
)
NAMES = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["web-1", "", "\x1b[2J", "web\n1", "x" * 300, "kvm-01\x00"]),
)


@SETTINGS
@given(
    option=st.sampled_from(["--headroom", "--max-migrations", "--now"]),
    value=NUMBERS,
    objective=st.sampled_from(
        [("--objective", "balance"), ("--objective", "consolidate"), ("--evacuate", "kvm-02")]
    ),
)
def test_any_number_given_to_plan_is_planned_or_refused_in_one_line(
    option: str, value: str, objective: tuple[str, str]
) -> None:
    result = run("plan", "--snapshot", str(EXAMPLE), *objective, f"{option}={value}", "--json")
    answered(result)
    if result.exit_code == 2:
        assert option in result.stderr, result.stderr
    else:
        plan = json.loads(result.stdout)
        assert plan["generation"] == BASE["generation"]


@SETTINGS
@given(name=NAMES)
def test_any_name_given_to_explain_is_explained_or_refused_in_one_line(name: str) -> None:
    result = run("plan", "--snapshot", str(EXAMPLE), f"--explain={name}")
    answered(result)
    assert "\x1b" not in result.output
    if result.exit_code == 0:
        assert name in {v["name"] for v in BASE["vms"]}, name


@SETTINGS
@given(value=NUMBERS)
def test_any_every_of_a_watch_is_refused_in_one_line_or_accepted(value: str) -> None:
    """Without a store: an accepted value reaches the connection (exit 1), never a
    traceback; a refused one exits 2 naming the option."""
    result = run("migrations", "--watch", f"--every={value}", "--redis", "redis://127.0.0.1:1/0")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (1, 2), result.output
    if result.exit_code == 2:
        assert "--every" in result.stderr, result.stderr
    else:
        every = float(value)
        assert math.isfinite(every)
        assert 0.1 <= every <= 3600.0
