"""Snapshots, replays and refusals that change nothing."""

from __future__ import annotations

import io
import pickle

import pytest
from settlement_world import FS, GZ, SYMBOL, SZ

from matching_engine.types import BUY, SELL
from settlement import commands
from settlement.errors import SettlementError
from settlement.registry import Registry


def scripted(world):
    world.bureau("GZBUR", GZ)
    world.bureau("SZBUR", SZ)
    world.enterprise("A", GZ, cash_fen=5_000_000)
    world.enterprise("B", SZ, cash_fen=5_000_000)
    world.issue("A", 3_000)
    world.issue("SZBUR", 2_000)
    world.issue("GZBUR", 1_500)
    world.place("A", SELL, 300_000, 1_000)
    world.place("B", BUY, 310_000, 1_500)
    world.cmd(commands.RegisterProject, "PRJ-1", "B", "p", SZ, "ordinary", SYMBOL, 2_000, "EIA")
    world.cmd(commands.AllocateToProject, "PRJ-1", "B", 500)
    world.cmd(commands.SetCityFloor, SZ, SYMBOL, 100)


def test_the_same_commands_give_the_same_state_hash(make_world):
    a, b = make_world(fee_bps=7), make_world(fee_bps=7)
    scripted(a)
    scripted(b)
    assert a.reg.state_hash() == b.reg.state_hash()
    assert a.events == b.events


def test_snapshot_restore_then_continue_equals_the_full_run(make_world):
    full, half = make_world(fee_bps=7), make_world(fee_bps=7)
    scripted(full)
    scripted(half)
    half.reg = Registry.restore(half.reg.snapshot())
    half.reg.check_invariants()
    assert half.reg.snapshot() == full.reg.snapshot()
    for w in (full, half):
        w.place("A", SELL, 305_000, 500)  # trades against B's resting 500 kg
        w.cmd(commands.ApplyReallocation, "APP-1", "SZBUR", "PRJ-1", SYMBOL, 1_000, "r", "ordinary")
        w.cmd(commands.DecideReallocation, "APP-1", "PROV", True, ((GZ, 1_000),), "ok")
    assert half.reg.state_hash() == full.reg.state_hash()


class _PlainOnly(pickle.Unpickler):
    def find_class(self, module, name):
        raise AssertionError(f"the plain form holds a {module}.{name}")


def through_plain(reg: Registry) -> Registry:
    """The registry through its plain form, pickled as the service's snapshots are."""
    data = pickle.dumps(reg.plain_state(), protocol=5)
    return Registry.restore_plain(_PlainOnly(io.BytesIO(data)).load())


def test_the_plain_form_restores_then_continues_as_the_full_run(make_world):
    full, half = make_world(fee_bps=7), make_world(fee_bps=7)
    scripted(full)
    scripted(half)
    half.reg = through_plain(half.reg)
    half.reg.check_invariants()
    assert half.reg.snapshot() == full.reg.snapshot()
    for w in (full, half):
        w.place("A", SELL, 305_000, 500)
        w.cmd(commands.ApplyReallocation, "APP-1", "SZBUR", "PRJ-1", SYMBOL, 1_000, "r", "ordinary")
        w.cmd(commands.DecideReallocation, "APP-1", "PROV", True, ((GZ, 1_000),), "ok")
    assert half.reg.state_hash() == full.reg.state_hash()
    # and the plain form of the continued state is as whole
    assert through_plain(half.reg).snapshot() == full.reg.snapshot()


def test_snapshot_is_canonical_sorted_json():
    import json

    data = Registry(fee_bps=3).snapshot()
    assert (
        data
        == json.dumps(
            json.loads(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    )


REFUSALS = [
    (commands.Withdraw, ("A", 10**12), "insufficient_cash"),
    (commands.Deposit, ("A", 0), "invalid_amount"),
    (commands.OpenAccount, ("A", "dup", "enterprise", GZ), "duplicate_id"),
    (commands.OpenAccount, ("X", "x", "enterprise", "000000"), "unknown_city"),
    (commands.OpenAccount, ("X", "x", "fees", ""), "invalid_role"),
    (commands.OpenAccount, ("FEES", "x", "operator", ""), "duplicate_id"),
    (commands.ListInstrument, (SYMBOL, "NOx", 2025, 1), "instrument_exists"),
    (commands.ListInstrument, ("SO2-2025", "SO2", 2025, 0), "invalid_amount"),
    (commands.ClaimReduction, ("RED-X", "A", SYMBOL, 1, "other_lawful", "", ""), "duplicate_id"),
    (commands.AllocateToProject, ("PRJ-1", "B", 10**6), "exceeds_project_requirement"),
    (commands.ReleaseReserve, (FS, SYMBOL, 1), "insufficient_allowances"),
    (commands.SetCityFloor, (FS, "SO2-2025", 1), "unknown_symbol"),
    (commands.DecideReallocation, ("APP-404", "PROV", True, (), ""), "unknown_application"),
]


@pytest.mark.parametrize(("cls", "args", "code"), REFUSALS, ids=[r[2] for r in REFUSALS])
def test_a_refused_command_changes_nothing(make_world, cls, args, code):
    world = make_world()
    scripted(world)
    world.cmd(commands.ClaimReduction, "RED-X", "A", SYMBOL, 1, "other_lawful", "", "")
    before = world.reg.snapshot()
    with pytest.raises(SettlementError) as err:
        world.cmd(cls, *args)
    assert err.value.code == code
    assert world.reg.snapshot() == before


def test_open_account_needs_a_city_for_enterprises_and_bureaus_only(world):
    world.cmd(commands.OpenAccount, "OP", "Exchange operator", "operator", "")
    with pytest.raises(SettlementError) as err:
        world.cmd(commands.OpenAccount, "E", "no city", "enterprise", "")
    assert err.value.code == "unknown_city"
    assert world.reg.account("OP").city_code == ""
