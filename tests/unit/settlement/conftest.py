from __future__ import annotations

import pytest
from settlement_world import World


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def make_world():
    return World
