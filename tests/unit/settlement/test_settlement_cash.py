from __future__ import annotations

import pytest

from matching_engine.types import BUY
from settlement import commands
from settlement.errors import SettlementError
from settlement.events import CashPosted


def test_deposit_adds_to_available_cash_and_posts_balances_before_and_after(world):
    world.enterprise("A", cash_fen=5_000)
    (posting,) = world.cmd(commands.Deposit, "A", 2_500)
    assert world.reg.cash("A") == (7_500, 0)
    assert posting == CashPosted(
        world.seq, world.ts(), "A", "deposit", 2_500, 5_000, 0, 7_500, 0, 2, "deposit"
    )


@pytest.mark.parametrize("amount", [0, -1, True, "100"])
def test_deposit_must_be_a_positive_integer(world, amount):
    world.enterprise("A")
    with pytest.raises(SettlementError) as err:
        world.cmd(commands.Deposit, "A", amount)
    assert err.value.code == "invalid_amount"
    assert world.reg.cash("A") == (0, 0)


def test_withdrawal_takes_from_available_cash(world):
    world.enterprise("A", cash_fen=10_000)
    world.cmd(commands.Withdraw, "A", 4_000)
    assert world.reg.cash("A") == (6_000, 0)


def test_withdrawal_never_touches_locked_cash(world):
    world.enterprise("A", cash_fen=1_000_000)
    world.place("A", BUY, 300_000, 2_000)  # locks 600 000 fen
    assert world.reg.cash("A") == (400_000, 600_000)
    before = world.reg.state_hash()
    with pytest.raises(SettlementError) as err:
        world.cmd(commands.Withdraw, "A", 400_001)
    assert err.value.code == "insufficient_cash"
    assert world.reg.state_hash() == before
    world.cmd(commands.Withdraw, "A", 400_000)
    assert world.reg.cash("A") == (0, 600_000)


def test_fee_account_and_reserve_hold_cash_but_city_pools_and_bureaus_do_not(world):
    world.bureau("BUR", "440100")
    world.cmd(commands.Deposit, "RESERVE", 100)
    world.cmd(commands.Deposit, "FEES", 100)
    world.cmd(commands.Withdraw, "FEES", 100)
    assert world.reg.cash("RESERVE") == (100, 0)
    for account in ("POOL-440100", "BUR", "PROV"):
        with pytest.raises(SettlementError) as err:
            world.cmd(commands.Deposit, account, 100)
        assert err.value.code == "not_allowed"


def test_cash_for_an_unknown_account_is_refused(world):
    with pytest.raises(SettlementError) as err:
        world.cmd(commands.Deposit, "NOBODY", 100)
    assert err.value.code == "unknown_account"
    with pytest.raises(SettlementError):
        world.reg.cash("NOBODY")
