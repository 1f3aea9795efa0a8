"""``balancer/core`` and ``balancer/control`` import nothing that does I/O and call no
clock, randomness, file or OS function (DESIGN.md §2, §6): the same input gives the same
plan, in the daemon, the simulator and the tests.

The checker reads each module's syntax tree: its imports must be in ``ALLOWED`` (and a
``balancer`` import within the core, the control package or the error tree), and no
call may reach a ``FORBIDDEN_CALLS`` function, however it was imported (``import time``,
``from time import time as now``, ``import datetime as dt``...).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import balancer.control
import balancer.core

ALLOWED = {
    "__future__",
    "collections",
    "dataclasses",
    "enum",
    "functools",
    "heapq",
    "math",
    "re",
    "typing",
    "numpy",
    "msgspec",
    "balancer",
}
#: ``balancer`` packages a pure module may import.
PURE_PACKAGES = ("balancer.core", "balancer.control", "balancer.errors")
#: (module, function): calls that read a clock, draw at random, or touch files or the OS.
#: ``*`` stands for every function of the module.
FORBIDDEN_CALLS = {
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("time", "sleep"),
    ("time", "time_ns"),
    ("random", "*"),
    ("numpy.random", "*"),
    ("datetime.datetime", "now"),
    ("datetime.datetime", "utcnow"),
    ("datetime.datetime", "today"),
    ("datetime.date", "today"),
    ("os", "*"),
    ("builtins", "open"),
    ("builtins", "input"),
    ("builtins", "print"),
    ("uuid", "*"),
    ("secrets", "*"),
}


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _impure_balancer_imports(tree: ast.AST) -> list[str]:
    """``balancer.*`` modules imported from outside the pure packages (``import
    balancer.state`` and ``from balancer import state`` included)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "balancer":
                names += [f"balancer.{a.name}" for a in node.names]
            else:
                names.append(node.module)
    return [
        n
        for n in names
        if (n == "balancer" or n.startswith("balancer."))
        and not any(n == p or n.startswith(p + ".") for p in PURE_PACKAGES)
    ]


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> the dotted name it stands for, from the module's imports (builtins
    stand for themselves)."""
    names = {"open": "builtins.open", "input": "builtins.input", "print": "builtins.print"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    names[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


def _forbidden_calls(tree: ast.AST) -> list[str]:
    aliases = _aliases(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name is None:
            continue
        head, _, rest = name.partition(".")
        full = aliases.get(head, head if rest else f"?.{head}")
        full = f"{full}.{rest}" if rest else full
        module, _, func = full.rpartition(".")
        for bad_module, bad_func in FORBIDDEN_CALLS:
            if (module == bad_module or module.startswith(bad_module + ".")) and (
                bad_func in ("*", func)
            ):
                found.append(full)
                break
    return found


def _problems(source: str) -> list[str]:
    tree = ast.parse(source)
    problems = [f"imports {m}" for m in sorted(_imports(tree) - ALLOWED)]
    problems += [f"imports {m}, outside the pure packages" for m in _impure_balancer_imports(tree)]
    problems += [f"calls {c}" for c in _forbidden_calls(tree)]
    return problems


@pytest.mark.parametrize("package", [balancer.core, balancer.control])
def test_pure_packages_import_and_call_nothing_impure(package: object) -> None:
    root = Path(str(getattr(package, "__file__", ""))).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 15
    for path in files:
        problems = _problems(path.read_text())
        assert not problems, f"{path.relative_to(root.parent)}: {problems}"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("import redis", "imports redis"),
        ("from libvirt import open", "imports libvirt"),
        ("import os.path", "imports os"),
        ("import balancer.state", "imports balancer.state, outside the pure packages"),
        ("from balancer import state", "imports balancer.state, outside the pure packages"),
        ("from balancer.daemon.x import y", "imports balancer.daemon.x, outside the pure packages"),
        ("import time\nt = time.time()", "calls time.time"),
        ("import time\nt = time.monotonic()", "calls time.monotonic"),
        ("from time import perf_counter as pc\nt = pc()", "calls time.perf_counter"),
        ("import random\nx = random.random()", "calls random.random"),
        ("from random import choice\nx = choice([1])", "calls random.choice"),
        ("import numpy as np\nx = np.random.rand()", "calls numpy.random.rand"),
        ("import datetime\nx = datetime.datetime.now()", "calls datetime.datetime.now"),
        ("from datetime import datetime as dt\nx = dt.now()", "calls datetime.datetime.now"),
        ("import os\nx = os.getpid()", "calls os.getpid"),
        ("x = open('f')", "calls builtins.open"),
    ],
)
def test_the_checker_catches_each_impurity(source: str, problem: str) -> None:
    assert problem in _problems(source)


def test_the_checker_lets_pure_code_through() -> None:
    source = (
        "import numpy as np\nfrom balancer.core.models import Host\n"
        "from balancer.control.power import watts\nfrom balancer import errors\n"
        "x = np.zeros(3)\ny = sorted([2, 1])\n"
    )
    assert _problems(source) == []
