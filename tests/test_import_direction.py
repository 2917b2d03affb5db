"""Imports point inward: the matching engine uses only the standard library and
itself; settlement never reaches for infrastructure or the service layer; inside the
service, edge → infra → core (edge may also use core), and nothing points back up."""

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


PACKAGES = {"exchange", "exchange.core", "exchange.infra", "exchange.edge"}
SERVICE_PLUMBING = {"sqlalchemy", "redis", "fastapi", "psycopg", "starlette", "uvicorn"}
# what each part of exchange/ may import of exchange/ (a prefix of the module's name)
EXCHANGE_MAY_IMPORT = {
    "core": ("exchange.core",),
    "infra": ("exchange.core", "exchange.infra", "exchange.config"),
    "edge": ("exchange.core", "exchange.infra", "exchange.edge", "exchange.config",
             "exchange.passwords"),
    "config": ("exchange.passwords",),
    "passwords": (),
}  # fmt: skip


def imported_names(path: Path) -> list[tuple[int, str]]:
    """(line, full dotted name) for every absolute import; `from exchange.core import x`
    counts as importing `exchange.core.x`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module in PACKAGES:
                found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def _part(path: Path) -> str:
    rel = path.relative_to(ROOT / "exchange").with_suffix("")
    return rel.parts[0]


def _refused(path: Path) -> list[str]:
    allowed = EXCHANGE_MAY_IMPORT[_part(path)]
    refused = []
    for line, name in imported_names(path):
        inside = name.startswith("exchange.") and not any(
            name == prefix or name.startswith(prefix + ".") for prefix in allowed
        )
        if inside:
            refused.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
        if _part(path) == "core" and name.split(".")[0] in SERVICE_PLUMBING:
            refused.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return refused


@pytest.mark.parametrize("part", sorted(EXCHANGE_MAY_IMPORT))
def test_each_part_of_the_service_imports_only_what_lies_below_it(part):
    files = [p for p in python_files("exchange") if _part(p) == part]
    assert files, f"exchange/{part} is gone: update EXCHANGE_MAY_IMPORT"
    assert [line for path in files for line in _refused(path)] == []


def test_the_service_has_the_parts_the_readme_names():
    top = {p.name for p in (ROOT / "exchange").iterdir() if not p.name.startswith((".", "_"))}
    assert {"core", "infra", "edge", "bootstrap.py", "cli.py", "config.py"} <= top
    assert not (ROOT / "exchange" / "bench").exists(), "the bench harness lives in bench/"


@pytest.mark.parametrize(
    ("where", "source"),
    [
        ("core/x.py", "from exchange.infra import journal\n"),
        ("core/x.py", "from exchange import sessions\n"),
        ("core/x.py", "def f():\n    import sqlalchemy\n"),
        ("infra/x.py", "from exchange.edge.api.errors import ApiError\n"),
        ("edge/x.py", "import exchange.bootstrap\n"),
        ("config.py", "from exchange.core.units import tonnes\n"),
    ],
)
def test_the_layer_scan_refuses_an_import_that_points_up(tmp_path, monkeypatch, where, source):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    target = tmp_path / "exchange" / where
    target.parent.mkdir(parents=True)
    target.write_text(source)

    assert len(_refused(target)) == 1
