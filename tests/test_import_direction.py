"""Imports point inward: the matching engine uses only the standard library and
itself; settlement never reaches for infrastructure or the service layer."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_SETTLEMENT = {
    "sqlalchemy", "redis", "fastapi", "psycopg", "starlette", "uvicorn", "exchange",
}  # fmt: skip


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) for every import in a file; relative imports
    are reported as the package they stay inside."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append((node.lineno, path.relative_to(ROOT).parts[0]))
            elif node.module:
                found.append((node.lineno, node.module.split(".")[0]))
    return found


def python_files(package: str) -> list[Path]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files found in {package}/"
    return files


def test_matching_engine_imports_only_the_standard_library_and_itself():
    allowed = set(sys.stdlib_module_names) | {"matching_engine", "__future__"}
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in python_files("matching_engine")
        for line, module in imported_modules(path)
        if module not in allowed
    ]
    assert offending == []


def test_settlement_does_not_import_infrastructure_or_the_service():
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in python_files("settlement")
        for line, module in imported_modules(path)
        if module in FORBIDDEN_IN_SETTLEMENT
    ]
    assert offending == []


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("import sqlalchemy.orm\n", "sqlalchemy"),
        ("from redis import Redis\n", "redis"),
        ("if True:\n    from exchange.config import Settings\n", "exchange"),
    ],
)
def test_the_import_scan_sees_nested_and_dotted_imports(tmp_path, monkeypatch, source, module):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(source)

    assert module in {m for _, m in imported_modules(tmp_path / "pkg" / "m.py")}
