"""What book.py uses of the `cython` module, for when Cython is not installed.

Compiled, `cython.cclass` with `cython.no_gc` makes a class a C type that stays
out of the cyclic garbage collector; in pure Python both mean nothing, and so
do these stand-ins (Cython's own pure-Python module does the same).
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def no_gc(cls: T) -> T:
    return cls


def cclass(cls: T) -> T:
    return cls
