"""settlement is a pure domain: standard library and the engine's vocabulary only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import settlement

FORBIDDEN_EVEN_IF_STDLIB = {
    "time",
    "datetime",
    "random",
    "os",
    "socket",
    "threading",
    "uuid",
    "secrets",
    "subprocess",
    "asyncio",
    "sqlite3",
}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_settlement_imports_only_the_standard_library_and_the_engine():
    files = sorted(Path(settlement.__file__).parent.glob("*.py"))
    assert len(files) > 10
    for path in files:
        for root in imported_roots(path):
            allowed = root in ("settlement", "matching_engine", "__future__") or (
                root in sys.stdlib_module_names and root not in FORBIDDEN_EVEN_IF_STDLIB
            )
            assert allowed, f"{path.name} imports {root}"


def test_settlement_code_has_no_floats():
    for path in Path(settlement.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), (
                f"float literal in {path.name}:{node.lineno}"
            )
            assert not isinstance(node, ast.BinOp) or not isinstance(node.op, ast.Div), (
                f"true division in {path.name}:{node.lineno}"
            )
