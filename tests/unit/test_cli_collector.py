"""`emx serve` settles the cyclic collector before serving: start-up's objects frozen,
and full collections held back (each one walks everything the run keeps)."""

from __future__ import annotations

import gc

from exchange import cli


def test_serve_freezes_start_up_and_runs_full_collections_ten_times_less_often():
    before = gc.get_threshold()
    try:
        gc.unfreeze()
        made = [[] for _ in range(1_000)]  # alive at start-up, tracked
        cli._settle_collector()
        assert gc.get_freeze_count() >= len(made)
        young, middle, full = gc.get_threshold()
        assert (young, middle) == before[:2]
        assert full == cli.FULL_COLLECTION_EVERY == 100 > before[2]
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
