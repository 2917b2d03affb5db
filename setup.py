"""The optional C part of the matching engine; everything else is in pyproject.toml.

`optional=True`: when there is no compiler or no Python headers the build is
skipped with a warning and the engine runs on its pure-Python path, which
behaves identically (matching_engine/events.py chooses).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "matching_engine._tuplenew", ["matching_engine/_tuplenew.c"], optional=True
        )
    ]
)
