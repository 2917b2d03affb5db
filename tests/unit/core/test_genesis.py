import pytest

from exchange.config import Settings
from exchange.core.state import Core
from exchange.infra.runtime import ParametersChanged, check_parameters, genesis_command
from tests.core_driver import CoreDriver


def test_genesis_fixes_the_fee_and_thresholds_whatever_the_core_was_built_with():
    d = CoreDriver(fee_bps=0)
    d.ok(genesis_command(Settings(fee_bps=25, price_move_alert_bps=300)))
    assert d.core.fee_bps == 25 and d.core.registry.fee_bps == 25
    assert d.core.surveillance.thresholds.price_move_bps == 300
    # a replay into a core built with other settings ends in the same state
    other = Core(fee_bps=99)
    for seq, ts, command in d.log:
        other.apply(seq, ts, command)
    assert other.state_hash() == d.core.state_hash()
    assert Core.restore(d.core.snapshot()).parameters() == d.core.parameters()


def test_genesis_is_only_ever_the_first_command():
    d = CoreDriver()
    d.list_nox()
    assert d.apply(genesis_command(Settings(fee_bps=5))).error[0] == "genesis_not_first"
    assert d.core.fee_bps == 0


def test_a_journal_is_not_started_with_other_parameters_than_its_own():
    d = CoreDriver()
    d.ok(genesis_command(Settings(fee_bps=10)))
    check_parameters(d.core, Settings(fee_bps=10))
    with pytest.raises(ParametersChanged, match="fee_bps"):
        check_parameters(d.core, Settings(fee_bps=11))
