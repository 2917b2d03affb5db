"""The concentration threshold has two defaults with two meanings: what a journal whose
genesis records none replays with (pinned: old state hashes contain it), and what a new
journal records when the operator sets nothing."""

from __future__ import annotations

from exchange.config import NEW_JOURNAL_CONCENTRATION_BPS, Settings
from exchange.core.state import Core
from exchange.core.surveillance import UNRECORDED_CONCENTRATION_BPS
from exchange.infra.runtime import genesis_command
from tests.core_driver import CoreDriver


def concentration_bps(core: Core) -> int:
    return core.parameters()["thresholds"]["concentration_bps"]


def test_the_unrecorded_threshold_is_the_one_old_state_hashes_contain():
    assert UNRECORDED_CONCENTRATION_BPS == 4_000
    assert concentration_bps(Core()) == UNRECORDED_CONCENTRATION_BPS


def test_a_genesis_that_records_no_concentration_threshold_replays_with_the_unrecorded_one():
    d = CoreDriver()
    d.ok({"kind": "genesis", "fee_bps": 10, "stp": "cancel_incoming", "thresholds": {}})
    assert concentration_bps(d.core) == UNRECORDED_CONCENTRATION_BPS
    assert concentration_bps(Core.restore(d.core.snapshot())) == UNRECORDED_CONCENTRATION_BPS


def test_a_new_journal_records_the_configured_default_and_keeps_it():
    settings = Settings(fee_bps=10)
    assert settings.concentration_alert_bps == NEW_JOURNAL_CONCENTRATION_BPS == 5_000
    genesis = genesis_command(settings)
    assert genesis.thresholds["concentration_bps"] == NEW_JOURNAL_CONCENTRATION_BPS
    d = CoreDriver()
    d.ok(genesis)
    assert concentration_bps(d.core) == NEW_JOURNAL_CONCENTRATION_BPS
    # a replay into a core built with the unrecorded default ends at the recorded value
    other = Core()
    for seq, ts, command in d.log:
        other.apply(seq, ts, command)
    assert concentration_bps(other) == NEW_JOURNAL_CONCENTRATION_BPS
    assert other.state_hash() == d.core.state_hash()


def test_an_operators_threshold_is_what_the_genesis_records():
    genesis = genesis_command(Settings(concentration_alert_bps=2_500))
    d = CoreDriver()
    d.ok(genesis)
    assert concentration_bps(d.core) == 2_500
