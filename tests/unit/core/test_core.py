"""The core glues the engine and the registry: pre-trade checks before the book,
order records as clients see them, refusals that change nothing, replay."""

import pytest

from exchange.core import commands
from exchange.core.command_codec import from_payload
from exchange.core.commands import MalformedCommand
from exchange.core.state import Core
from tests.core_driver import SYMBOL, T0_US, CoreDriver


@pytest.fixture
def market() -> tuple[CoreDriver, str, str, str]:
    d = CoreDriver(fee_bps=25)
    d.list_nox()
    bureau = d.account("bureau-gz", "city_bureau", "440100")
    seller = d.account("seller", city="440100")
    buyer = d.account("buyer", city="440300")
    d.issue(seller, bureau, 10_000)
    d.deposit(buyer, 100_000_000)
    return d, bureau, seller, buyer


def test_a_fill_shows_in_both_order_records_and_settles_both_legs(market):
    d, _, seller, buyer = market
    d.order(seller, "sell", 320_000, 4_000)
    out = d.order(buyer, "buy", 321_000, 3_000)
    assert out.error is None
    taker = next(r for r in out.orders if r.account_id == buyer)
    maker = next(r for r in out.orders if r.account_id == seller)
    assert (taker.status, taker.filled_kg, taker.average_price_fen()) == ("filled", 3_000, 320_000)
    assert (maker.status, maker.remaining_kg) == ("partially_filled", 1_000)
    # 3 t at 3200.00 = 9600.00 CNY, 25 bps fee each side = 24.00 CNY
    assert d.core.registry.cash(seller) == (960_000 - 2_400, 0)
    assert d.core.registry.cash(buyer) == (100_000_000 - 960_000 - 2_400, 0)
    assert d.core.registry.cash("FEES") == (4_800, 0)
    assert d.core.registry.allowances(buyer, SYMBOL) == (3_000, 0, 0)
    assert d.core.registry.allowances(seller, SYMBOL) == (6_000, 1_000, 0)


def test_a_refused_order_changes_nothing_but_the_sequence(market):
    d, _, _, buyer = market
    before = Core.restore(d.core.snapshot())
    out = d.order(buyer, "buy", 320_000, 1_000_000)
    assert out.error[0] == "insufficient_cash"
    assert out.engine_events == [] and out.settlement_events == [] and out.orders == []
    assert d.core.registry.snapshot() == before.registry.snapshot()
    assert d.core.engine.snapshot() == before.engine.snapshot()


def test_an_order_outside_the_band_is_refused_and_raises_an_alert(market):
    d, _, seller, _ = market
    out = d.order(seller, "sell", 400_000, 1_000)
    assert out.error[0] == "price_outside_band"
    assert [a["kind"] for a in out.alerts] == ["price_band_rejection"]


def test_the_same_client_order_id_returns_the_original_or_refuses_a_different_body(market):
    d, _, seller, _ = market
    first = d.order(seller, "sell", 330_000, 1_000, client_order_id="same")
    again = d.order(seller, "sell", 330_000, 1_000, client_order_id="same")
    other = d.order(seller, "sell", 330_000, 2_000, client_order_id="same")
    assert again.result == {"order_id": first.result["order_id"], "duplicate": True}
    assert again.orders == []
    assert other.error[0] == "duplicate_client_order_id"
    assert d.core.registry.allowances(seller, SYMBOL) == (9_000, 1_000, 0)


def test_only_the_owner_can_cancel_and_a_closed_order_is_not_open(market):
    d, _, seller, buyer = market
    order_id = d.order(seller, "sell", 330_000, 1_000).result["order_id"]
    stranger = d.apply({"kind": "cancel_order", "account_id": buyer, "order_id": order_id})
    assert stranger.error[0] == "order_not_found"
    mine = d.apply({"kind": "cancel_order", "account_id": seller, "order_id": order_id})
    assert mine.error is None and mine.orders[0].cancel_reason == "user"
    again = d.apply({"kind": "cancel_order", "account_id": seller, "order_id": order_id})
    assert again.error[0] == "order_not_open"
    assert d.core.registry.allowances(seller, SYMBOL) == (10_000, 0, 0)


def test_a_market_buy_locks_at_the_top_of_the_band_and_releases_the_rest(market):
    d, _, seller, buyer = market
    d.order(seller, "sell", 320_000, 1_000)
    out = d.order(buyer, "buy", None, 2_000, tif="IOC", order_type="market")
    rec = next(r for r in out.orders if r.account_id == buyer)
    assert (rec.filled_kg, rec.status, rec.cancel_reason) == (
        1_000,
        "cancelled",
        "market_order_remainder",
    )
    assert d.core.registry.cash(buyer)[1] == 0  # nothing stays locked


def test_amending_to_a_higher_price_needs_the_cash_for_it(market):
    d, _, _, buyer = market
    order_id = d.order(buyer, "buy", 300_000, 300_000).result["order_id"]
    out = d.apply(
        {"kind": "amend_order", "account_id": buyer, "order_id": order_id, "price_fen": 350_000}
    )
    assert out.error[0] == "insufficient_cash"
    out = d.apply(
        {"kind": "amend_order", "account_id": buyer, "order_id": order_id, "quantity_kg": 100_000}
    )
    assert out.error is None and out.orders[0].remaining_kg == 100_000


def test_halt_refuses_new_orders_but_allows_cancels(market):
    d, _, seller, _ = market
    order_id = d.order(seller, "sell", 330_000, 1_000).result["order_id"]
    d.ok({"kind": "halt", "symbol": SYMBOL})
    assert d.order(seller, "sell", 330_000, 1_000).error[0] == "market_halted"
    assert (
        d.apply({"kind": "cancel_order", "account_id": seller, "order_id": order_id}).error is None
    )
    d.ok({"kind": "resume", "symbol": SYMBOL})
    assert d.order(seller, "sell", 330_000, 1_000).error is None


def test_close_session_makes_the_last_price_the_reference_and_resets_the_ticker(market):
    d, _, seller, buyer = market
    d.order(seller, "sell", 325_000, 1_000)
    d.order(buyer, "buy", 325_000, 1_000)
    d.order(buyer, "buy", 310_000, 1_000, tif="DAY")
    out = d.apply({"kind": "close_session", "symbol": SYMBOL})
    assert [r.cancel_reason for r in out.orders] == ["expired"]
    assert d.core.engine.instrument(SYMBOL).reference_price_fen == 325_000
    stats = d.core.stats[SYMBOL]
    assert (stats.prev_close_fen, stats.last_fen, stats.volume_kg) == (325_000, None, 0)


def test_a_self_trade_is_prevented_and_reported(market):
    d, _, seller, _ = market
    d.deposit(seller, 10_000_000)
    d.order(seller, "sell", 320_000, 1_000)
    out = d.order(seller, "buy", 320_000, 1_000)
    rec = next(r for r in out.orders if r.side == "buy")
    assert (rec.status, rec.cancel_reason, rec.filled_kg) == ("cancelled", "self_trade", 0)
    assert [a["kind"] for a in out.alerts] == ["self_trade_blocked"]


def test_a_replay_of_the_same_commands_reaches_the_same_state_hash(market):
    d, _, seller, buyer = market
    d.order(seller, "sell", 320_000, 4_000)
    d.order(buyer, "buy", 321_000, 3_000)
    d.order(buyer, "buy", 319_000, 500, tif="DAY")
    d.apply({"kind": "close_session", "symbol": SYMBOL})
    assert d.replay().state_hash() == d.core.state_hash()
    assert Core.restore(d.core.snapshot()).state_hash() == d.core.state_hash()


def test_unknown_command_kinds_are_refused_by_the_codec_and_the_core():
    with pytest.raises(MalformedCommand, match="launch_rocket") as refused:
        from_payload({"kind": "launch_rocket"})
    assert refused.value.code == "invalid_command"
    d = CoreDriver()
    before = d.core.state_hash()
    out = d.core.apply(1, T0_US, {"kind": "halt", "symbol": SYMBOL})
    assert out.error[0] == "unknown_command"
    d.core.last_seq = 0
    assert d.core.state_hash() == before


def test_a_sequence_gap_is_a_defect_not_a_refusal():
    core = Core()
    with pytest.raises(AssertionError):
        core.apply(2, 0, commands.Halt(symbol=SYMBOL))
