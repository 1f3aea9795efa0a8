"""``balancer/core`` imports nothing that does I/O (DESIGN.md §2)."""

from __future__ import annotations

import ast
from pathlib import Path

import balancer.core

ALLOWED = {
    "__future__",
    "collections",
    "dataclasses",
    "enum",
    "heapq",
    "math",
    "re",
    "typing",
    "numpy",
    "msgspec",
    "balancer",
}
FORBIDDEN_CALLS = {("time", "time"), ("random", "random")}


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_core_imports_only_pure_modules() -> None:
    root = Path(balancer.core.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 20
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        bad = _imports(tree) - ALLOWED
        assert not bad, f"{path.relative_to(root)} imports {sorted(bad)}"
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "balancer.errors":
                continue
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("balancer."):
                assert (node.module or "").startswith(("balancer.core", "balancer.errors")), (
                    f"{path.name} imports {node.module}, outside the core"
                )


def test_the_checker_catches_io() -> None:
    tree = ast.parse("import redis\nfrom libvirt import open\nimport os.path\n")
    assert _imports(tree) - ALLOWED == {"redis", "libvirt", "os"}
