"""The matching engine's optional compiled parts; everything else is in pyproject.toml.

- matching_engine._tuplenew: a faster tuple.__new__ for events (C).
- matching_engine._slots: reads a command's fields straight from its slots (C).
- matching_engine._book_c and matching_engine._engine_c: book.py and engine.py
  themselves, compiled by Cython with the C declarations in _book_c.pxd and
  _engine_c.pxd (pure-Python mode: the .py files stay plain Python and import
  nothing from Cython).

- The settlement and core modules replay spends its time in (`HOT_MODULES`), each
  compiled by Cython under its own name from its own .py, with no declarations:
  the extension sits beside the source and is imported in its place. The same
  code, interpreted one level lower: about a fifth of the time off every command
  (BENCHMARKS.md, "Replay speed"). tests/unit/core/test_core_compiled.py runs random
  command streams through both and compares the state after every few commands.

Every one of them is optional: without Cython, a compiler or the Python headers
the build warns and goes on, and the engine runs on its pure-Python path, which
behaves identically (book.py, engine.py and events.py choose at import).
"""

import os
import warnings
from pathlib import Path

from setuptools import Extension, setup

HOT_MODULES = (
    "settlement.settle",
    "settlement.holdings",
    "settlement.cash",
    "settlement.lots",
    "settlement.pricing",
    "settlement.registry",
    "exchange.core.state",
    "exchange.core.orders",
    "exchange.core.surveillance",
    "exchange.core.market",
)
"""Compiled as they are; tests/unit/core/test_core_compiled.py names the same list."""

# generated and compiled side by side on every core (a first install, CI)
JOBS = os.cpu_count() or 1

extensions = [
    Extension(f"matching_engine.{name}", [f"matching_engine/{name}.c"], optional=True)
    for name in ("_tuplenew", "_slots")
]


def _cythonized(modules: list[Extension], pure_path: str, **options) -> list[Extension]:
    """`modules` compiled by Cython, each optional (a failed C build warns); none, with
    the warning "<pure_path> as pure Python", if Cython cannot translate them."""
    try:
        compiled = cythonize(
            modules,
            build_dir="build/cython",
            # the engine's .pxd files declare its C types; annotations stay Python's own
            compiler_directives={"language_level": 3, "annotation_typing": False},
            quiet=True,
            nthreads=JOBS,
            **options,
        )
    except Exception as exc:
        warnings.warn(f"{pure_path} as pure Python: {exc}", stacklevel=1)
        return []
    for extension in compiled:
        extension.optional = True  # cythonize drops it: a failed C build warns
    return compiled


try:
    from Cython.Build import cythonize
except ImportError:
    warnings.warn("Cython is not installed: the matching engine runs as pure Python", stacklevel=1)
else:
    names = ("book", "engine")
    # cythonize tracks book.py but not _book_c.pxd (its name differs): a changed
    # .pxd forces the C files to be generated again
    generated = Path("build/cython/matching_engine")
    stale = any(
        not (generated / f"{n}.c").exists()
        or (generated / f"{n}.c").stat().st_mtime
        < Path(f"matching_engine/_{n}_c.pxd").stat().st_mtime
        for n in names
    )
    extensions += _cythonized(
        [Extension(f"matching_engine._{n}_c", [f"matching_engine/{n}.py"]) for n in names],
        "the matching engine runs",
        force=stale,
    )
    extensions += _cythonized(
        [Extension(name, [name.replace(".", "/") + ".py"]) for name in HOT_MODULES],
        "settlement and the core run",
    )

setup(ext_modules=extensions, options={"build_ext": {"parallel": JOBS}})
